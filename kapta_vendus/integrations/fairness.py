"""Fair scheduling: a per-integration cap on events in flight, with a waiting line per integration.

Celery queues are first in, first out: without a gate, 5,000 events of one integration would sit
in front of another integration's first event, and each of its six steps would queue behind them
again. So an event is admitted before its chain is published (``tasks.dispatch.enqueue_event``,
the one way into the queue for the receiver, the sweeper, replays and the poller) and again by
each step (a redelivered or swept task). An admitted event holds one of its integration's slots
until it finishes (done, rejected or dead); a retry keeps the slot, so a failing account stays
within its own cap. When all slots are taken the event joins its integration's waiting line in
Redis (oldest first, with the step to resume at) instead of the queue. When an event finishes,
the oldest waiting events take the free slots and are published from where they stopped. The
queues therefore hold at most ``max_events_in_flight`` events of each integration, and another
integration's steps wait behind that small number of tasks, however large the flood.

Both operations are single Lua scripts (atomic) on Redis' clock; slots are leases, so a worker that
dies holding one frees it when the lease ends. If Redis loses the waiting lines, parked events are
still ``received`` or ``in_flight`` in the inbox and the sweeper enqueues them again. Without Redis
(the embedded default, one machine) there is nothing shared to gate with, and everything is admitted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from kapta_vendus.config import Settings, get_settings
from kapta_vendus.db.models import Event, Integration
from kapta_vendus.db.session import Database, database_for
from kapta_vendus.integrations.config import limits_of
from kapta_vendus.integrations.shared import per_broker

log = logging.getLogger(__name__)

LEASE_SECONDS = 900  # longer than the longest retry countdown (600 s) plus a task's time limit
WAITING_TTL = 7 * 24 * 3600

# KEYS: holders (zset event -> lease end), waiting (zset "event|task" -> arrival time)
# ARGV: event id, cap, lease seconds, waiting member, waiting ttl
# Returns {admitted (0/1), woken members...}
_ADMIT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local cap = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local result = {0}
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  result[1] = 1
else
  -- Join the line, then give the free slots to the oldest in it: a newcomer never overtakes.
  redis.call('ZADD', KEYS[2], 'NX', now, ARGV[4])
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
  while redis.call('ZCARD', KEYS[1]) < cap do
    local first = redis.call('ZRANGE', KEYS[2], 0, 0)
    if #first == 0 then break end
    redis.call('ZREM', KEYS[2], first[1])
    local event = string.match(first[1], '^([^|]+)')
    redis.call('ZADD', KEYS[1], now + lease, event)
    if first[1] == ARGV[4] then result[1] = 1 else table.insert(result, first[1]) end
  end
end
if result[1] == 1 then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
  redis.call('EXPIRE', KEYS[1], lease * 2)
end
return result
"""

# KEYS: holders, waiting. ARGV: event id, cap, lease seconds. Returns the woken members.
_RELEASE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local cap = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local woken = {}
while redis.call('ZCARD', KEYS[1]) < cap do
  local first = redis.call('ZRANGE', KEYS[2], 0, 0)
  if #first == 0 then break end
  redis.call('ZREM', KEYS[2], first[1])
  local event = string.match(first[1], '^([^|]+)')
  -- The slot is reserved for the woken event now, so that a newcomer cannot take it meanwhile.
  redis.call('ZADD', KEYS[1], now + lease, event)
  table.insert(woken, first[1])
end
return woken
"""


@dataclass(frozen=True)
class Resume:
    """A parked event to enqueue again, from ``task`` on."""

    event_id: int
    task: str


@dataclass(frozen=True)
class Admission:
    admitted: bool
    woken: tuple[Resume, ...] = ()


def _resumes(members) -> tuple[Resume, ...]:
    out = []
    for member in members:
        text = member.decode() if isinstance(member, bytes) else str(member)
        event, _, task = text.partition("|")
        out.append(Resume(int(event), task))
    return tuple(out)


class RedisGate:
    def __init__(self, url: str, *, lease: int = LEASE_SECONDS) -> None:
        import redis

        self.redis = redis.Redis.from_url(url)
        self.lease = lease
        self._admit = self.redis.register_script(_ADMIT)
        self._release = self.redis.register_script(_RELEASE)

    @staticmethod
    def keys(integration_id: str) -> list[str]:
        return [f"kapta:fair:{integration_id}:holders", f"kapta:fair:{integration_id}:waiting"]

    def admit(self, integration_id: str, event_id: int, task: str, cap: int) -> Admission:
        result = self._admit(keys=self.keys(integration_id),
                             args=[event_id, cap, self.lease, f"{event_id}|{task}", WAITING_TTL])
        return Admission(bool(int(result[0])), _resumes(result[1:]))

    def release(self, integration_id: str, event_id: int, cap: int) -> tuple[Resume, ...]:
        return _resumes(self._release(keys=self.keys(integration_id), args=[event_id, cap, self.lease]))

    def counts(self, integration_id: str) -> dict[str, int]:
        holders, waiting = self.keys(integration_id)
        return {"in_flight": int(self.redis.zcard(holders)), "waiting": int(self.redis.zcard(waiting))}


class OpenGate:
    """No shared store: admit everything (see the module docstring)."""

    def admit(self, integration_id: str, event_id: int, task: str, cap: int) -> Admission:
        return Admission(True)

    def release(self, integration_id: str, event_id: int, cap: int) -> tuple[Resume, ...]:
        return ()

    def counts(self, integration_id: str) -> dict[str, int]:
        return {}


def gate_for(settings: Settings) -> RedisGate | OpenGate:
    return per_broker("gate", settings, RedisGate, OpenGate)


def share_of(db: Database, event_id: int) -> tuple[str, int] | None:
    """The event's integration and that integration's cap; None if the event does not exist."""
    with db.unit_of_work() as session:
        row = session.execute(select(Event.integration_id, Integration.config)
                              .join(Integration, Integration.id == Event.integration_id)
                              .where(Event.id == event_id)).first()
    if row is None:
        return None
    return row[0], limits_of(row[1]).max_events_in_flight


Enqueue = Callable[..., None]  # tasks.dispatch.enqueue_event(event_id, start_at=task)


def admit_step(db: Database, settings: Settings, event_id: int, task: str, enqueue: Enqueue) -> bool:
    """True if the step may run now; False if its event was parked (the chain must stop)."""
    if not settings.uses_redis:
        return True
    share = share_of(db, event_id)
    if share is None:
        return True  # the step itself will find that the event does not exist
    try:
        admission = gate_for(settings).admit(share[0], event_id, task, share[1])
    except Exception as exc:  # noqa: BLE001 - the gate is for fairness, never a reason to stop billing
        log.warning("fair-scheduling gate unavailable (%s): step admitted", type(exc).__name__)
        return True
    _wake(admission.woken, enqueue)
    return admission.admitted


def admitted_for_enqueue(event_id: int, task: str, enqueue: Enqueue) -> bool:
    """``admit_step`` for a chain about to be published, with this process's settings."""
    settings = get_settings()
    return admit_step(database_for(settings.database_url), settings, event_id, task, enqueue)


def release_event(db: Database, settings: Settings, event_id: int, enqueue: Enqueue) -> None:
    """The event is finished: free its slot and start the oldest waiting events of its integration."""
    if not settings.uses_redis:
        return
    share = share_of(db, event_id)
    if share is None:
        return
    try:
        woken = gate_for(settings).release(share[0], event_id, share[1])
    except Exception as exc:  # noqa: BLE001 - the slot's lease ends on its own; the sweeper wakes the rest
        log.warning("fair-scheduling gate unavailable (%s): slot left to expire", type(exc).__name__)
        return
    _wake(woken, enqueue)


def _wake(resumes: tuple[Resume, ...], enqueue: Enqueue) -> None:
    for resume in resumes:
        try:
            enqueue(resume.event_id, start_at=resume.task)
        except Exception:  # the event is still unfinished in the inbox: the sweeper enqueues it
            log.exception("could not enqueue woken event %s", resume.event_id)
