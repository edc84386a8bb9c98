"""Fair scheduling: a per-integration cap on events in flight, with a waiting line per integration.

Celery queues are first in, first out: without a gate, 5,000 events of one integration would sit
in front of another integration's first event. So an event is admitted once, before its chain is
published (``tasks.dispatch.enqueue_event``, the one way into the queue for the receiver, the
sweeper, replays, resumes and the poller), with its integration and cap in hand. An admitted event
holds one of its integration's slots until it ends (done, rejected, dead) or is parked to wait out
an outage (``pipeline.waiting``); a retry in place keeps the slot, so a failing account stays
within its own cap. When all slots are taken the event joins its integration's waiting line in
Redis instead of the queue, ranked by its inbox id: the line is ordered oldest first whatever the
order events arrive in it, so after Redis loses it, the sweeper rebuilding it from the inbox
(oldest first, see ``lost``) puts every event back where it was. When an event ends, the oldest
waiting events take the free slots and are published from where they stopped.

Both operations are single Lua scripts (atomic) on Redis' clock; the admission also pushes the
chain's first message onto its queue's list when admitted (``tasks.prepared``), so that admitting
and publishing is one round trip and an event is never admitted without being queued; slots are leases, so a worker that
dies holding one frees it when the lease ends. Without Redis (the embedded default, one machine)
there is nothing shared to gate with, and everything is admitted. Every Redis error here is
logged and admits (or leaves the slot to expire): fairness is never a reason to stop billing.

The cap keeps a flood out of the queues, but the flood's admitted events still share them: a small
integration's tasks would queue behind the flood's, FIFO, and wait for a worker process the flood
holds. So an admitted event goes into one of two lanes, chosen by the same script: the **fast
lane** while its integration holds at most half its cap and has nobody waiting, else the **slow
lane**. The lanes are queues (``tasks.lanes``): ``pipeline`` and ``billing`` are the fast lane,
``pipeline.slow`` and ``billing.slow`` the slow one, and every task of the chain names its lane's
queue, so the chain (and a retry) stays in it. Every worker consumes both lanes of its queues; the
express worker consumes the fast lane only, so a quiet integration's task always finds a process
that no flooding integration can occupy. The flood is still bounded by its own cap and runs on
every other worker.
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
from kapta_vendus.integrations.shared import per_broker, redis_client
from kapta_vendus.tasks.prepared import Lanes

log = logging.getLogger(__name__)

LEASE_SECONDS = 900  # longer than the longest retry countdown (600 s) plus a task's time limit
WAITING_TTL = 7 * 24 * 3600
SENTINEL = "kapta:fair:alive"  # absent after Redis lost its data

# KEYS: holders (zset event -> lease end), waiting (zset "event|task" -> inbox id)[, fast list, slow list]
# ARGV: event id, cap, lease seconds, waiting member, waiting ttl[, fast message, slow message, fast share]
# With the lists, an admitted event's message is pushed onto one of them (kombu's LPUSH): the fast
# lane while the integration holds at most ``fast share`` slots and nobody of it waits.
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
  redis.call('ZADD', KEYS[2], 'NX', tonumber(ARGV[1]), ARGV[4])
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
  if KEYS[3] then
    if redis.call('ZCARD', KEYS[1]) <= tonumber(ARGV[8]) and redis.call('ZCARD', KEYS[2]) == 0 then
      redis.call('LPUSH', KEYS[3], ARGV[6])
    else
      redis.call('LPUSH', KEYS[4], ARGV[7])
    end
  end
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


def fast_share(cap: int) -> int:
    """Slots an integration may hold and still have its events in the fast lane: half its cap."""
    return max(1, cap // 2)


@dataclass(frozen=True)
class Resume:
    """A parked event to enqueue again, from ``task`` on."""

    event_id: int
    task: str


@dataclass(frozen=True)
class Admission:
    admitted: bool
    woken: tuple[Resume, ...] = ()
    pushed: bool = False  # one of the messages given to ``admit`` is on its queue


def _resumes(members) -> tuple[Resume, ...]:
    out = []
    for member in members:
        text = member.decode() if isinstance(member, bytes) else str(member)
        event, _, task = text.partition("|")
        out.append(Resume(int(event), task))
    return tuple(out)


class RedisGate:
    def __init__(self, url: str, *, lease: int = LEASE_SECONDS) -> None:
        self.redis = redis_client(url)
        self.lease = lease
        self._admit = self.redis.register_script(_ADMIT)
        self._release = self.redis.register_script(_RELEASE)

    @staticmethod
    def keys(integration_id: str) -> list[str]:
        return [f"kapta:fair:{integration_id}:holders", f"kapta:fair:{integration_id}:waiting"]

    def admit(self, integration_id: str, event_id: int, task: str, cap: int,
              messages: Lanes | None = None) -> Admission:
        keys, args = self.keys(integration_id), [event_id, cap, self.lease, f"{event_id}|{task}", WAITING_TTL]
        if messages is not None:
            keys += [messages.fast.queue_key, messages.slow.queue_key]
            args += [messages.fast.payload, messages.slow.payload, fast_share(cap)]
        result = self._admit(keys=keys, args=args)
        admitted = bool(int(result[0]))
        return Admission(admitted, _resumes(result[1:]), pushed=admitted and messages is not None)

    def release(self, integration_id: str, event_id: int, cap: int) -> tuple[Resume, ...]:
        return _resumes(self._release(keys=self.keys(integration_id), args=[event_id, cap, self.lease]))

    def counts(self, integration_id: str) -> dict[str, int]:
        holders, waiting = self.keys(integration_id)
        return {"in_flight": int(self.redis.zcard(holders)), "waiting": int(self.redis.zcard(waiting))}

    def lost(self) -> bool:
        """True once after Redis lost its data (restarted empty, flushed): the lines must be rebuilt."""
        return bool(self.redis.set(SENTINEL, 1, nx=True))


class OpenGate:
    """No shared store: admit everything (see the module docstring)."""

    def admit(self, integration_id: str, event_id: int, task: str, cap: int,
              messages: Lanes | None = None) -> Admission:
        return Admission(True)  # never pushes: the caller publishes

    def release(self, integration_id: str, event_id: int, cap: int) -> tuple[Resume, ...]:
        return ()

    def counts(self, integration_id: str) -> dict[str, int]:
        return {}

    def lost(self) -> bool:
        return False


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


def _cap_of(settings: Settings, integration_id: str) -> int | None:
    """The cap from this process's integration cache (primed by the stage that just ran), if any."""
    from kapta_vendus.integrations.cache import _views

    view = _views.get(integration_id)
    return view.limits.max_events_in_flight if view is not None else None


Enqueue = Callable[..., None]  # tasks.dispatch.enqueue_event(event_id, start_at=task)


def admitted_for_enqueue(event_id: int, task: str, enqueue: Enqueue, *, integration_id: str | None = None,
                         cap: int | None = None,
                         messages: Callable[[], Lanes | None] | None = None) -> bool:
    """True if the caller must publish the chain now; False if the event joined its waiting line,
    or was admitted and its chain's first message (one of ``messages()``) pushed by the same script."""
    settings = get_settings()
    if not settings.uses_redis:
        return True
    if integration_id is None or cap is None:
        share = share_of(database_for(settings.database_url), event_id)
        if share is None:
            return True  # the stage itself will find that the event does not exist
        integration_id, cap = share
    try:
        gate = gate_for(settings)
        admission = gate.admit(integration_id, event_id, task, cap, messages() if messages else None)
    except Exception as exc:  # noqa: BLE001 - the gate is for fairness, never a reason to stop billing
        log.warning("fair-scheduling gate unavailable (%s): event admitted", type(exc).__name__)
        return True
    _wake(admission.woken, enqueue)
    return admission.admitted and not admission.pushed


def release_event(settings: Settings, integration_id: str, event_id: int, enqueue: Enqueue) -> None:
    """The event ended (or was parked): free its slot and start the oldest waiting events of its integration."""
    if not settings.uses_redis:
        return
    cap = _cap_of(settings, integration_id)
    if cap is None:
        share = share_of(database_for(settings.database_url), event_id)
        if share is None:
            return
        cap = share[1]
    try:
        woken = gate_for(settings).release(integration_id, event_id, cap)
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
