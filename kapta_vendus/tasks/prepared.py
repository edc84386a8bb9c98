"""A task message prepared exactly as kombu's Redis transport would push it, but not pushed.

Why: the fairness gate admits an event and, in the same Lua script, pushes the first message of
its chain onto the queue's list, so that an accepted request costs one Redis round trip instead
of two (the gate's script, then kombu's LPUSH). Celery still builds the message (task protocol 2,
the rest of the chain embedded, routing) and kombu still prepares it: a producer that captures
``Producer._publish`` instead of calling ``basic_publish`` hands us the message, and the Redis
channel's own helpers encode the body, add the delivery tag and name the list key (the queue,
with its priority suffix), as ``Channel._put`` does before its ``LPUSH``.

Only the anonymous-exchange case is prepared (Celery converts direct-exchange routes to it, so
``_put`` goes straight to the queue's list without a binding look-up). Anything else (another
transport such as the embedded broker, a key prefix, an expiring queue, a routed exchange) returns
None and the caller publishes as usual.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from base64 import b64decode, b64encode
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kombu import Producer
from kombu.utils.json import dumps


@dataclass(frozen=True)
class PreparedMessage:
    """The list key of the queue and the serialized message kombu would LPUSH onto it."""

    queue_key: str
    payload: str


@dataclass(frozen=True)
class Lanes:
    """The same message for the fast and the slow lane (``integrations.fairness``): the gate pushes one."""

    fast: PreparedMessage
    slow: PreparedMessage


class _CapturingProducer(Producer):
    """A producer on a real channel that prepares the message (and declares the queue once, as
    kombu does) but keeps it instead of publishing it."""

    captured: tuple[dict[str, Any], str, str] | None = None

    def _publish(self, body, priority, content_type, content_encoding, headers, properties, routing_key,
                 mandatory, immediate, exchange, declare, timeout=None, confirm_timeout=None, retry=False,
                 retry_policy=None):
        message = self.channel.prepare_message(body, priority, content_type, content_encoding, headers, properties)
        for entity in declare or ():
            self.maybe_declare(entity, retry=retry, **(retry_policy or {}))
        self.captured = (message, exchange, routing_key)


def _redis_channel_can_prepare(channel) -> bool:
    return (all(hasattr(channel, name) for name in ("_q_for_pri", "_get_message_priority",
                                                    "_inplace_augment_message"))
            and not getattr(channel, "global_keyprefix", ""))


def _expires(channel, queue: str) -> bool:
    """True if kombu would also set an expiry on the queue (``Channel._put``). Only that queue
    counts: a channel that declared an expiring queue of its own (a remote-control reply queue,
    after ``app.control.ping``) still pushes other queues' messages with a bare LPUSH."""
    return queue in (getattr(channel, "_expires", None) or {})


def prepare(app, signature, **options) -> PreparedMessage | None:
    """The message ``signature.apply_async(**options)`` would push, or None when it cannot be
    prepared here (see the module docstring): the caller then publishes it the usual way."""
    with app.producer_or_acquire() as pooled:
        channel = pooled.channel
        if not _redis_channel_can_prepare(channel):
            return None
        capture = _CapturingProducer(channel, exchange=pooled.exchange, auto_declare=False)
        signature.apply_async(producer=capture, **options)
        if capture.captured is None:
            return None
        message, exchange, routing_key = capture.captured
        if exchange or _expires(channel, routing_key):
            return None
        channel._inplace_augment_message(message, exchange, routing_key)
        key = channel._q_for_pri(routing_key, channel._get_message_priority(message, reverse=False))
        return PreparedMessage(queue_key=key, payload=dumps(message))


# Two event ids no database hands out (PostgreSQL's serial tops out at 2**31 - 1; bigserial ids this
# high are centuries away): they mark where the event's id goes in a learned template.
_SAMPLE_IDS = (918_273_645_546_372_819, 918_273_645_546_372_820)


@dataclass(frozen=True)
class MessageTemplate:
    """Celery's prepared message for one kind of chain, with holes for the event id and the ids.

    Why: building the message through Celery's canvas costs about as much CPU as the receiver's
    database insert, and every event's first message differs from the previous one only in the
    event id (in the arguments of each step and in ``argsrepr``), in two fresh ids (the task id,
    which is also the correlation id, and kombu's delivery tag) and in its lineage (the parent and
    root ids of the task sending it, if any, as ``Celery.send_task`` records them). So Celery builds
    it once for a sample id, and each event's message is that one with the holes filled.

    ``learn`` proves the template against Celery itself before it is used: it fills it for a second
    sample id and compares the result with the message Celery builds for that id, ids aside. If
    a Celery or kombu upgrade changes the message in any other way, there is no template and every
    message is built by Celery as before.
    """

    queue_key: str
    message: dict[str, Any]
    body_parts: tuple[str, ...]  # the decoded body, split where the event id goes
    argsrepr_parts: tuple[str, ...]

    @classmethod
    def learn(cls, prepare_for: Callable[[int], PreparedMessage | None]) -> MessageTemplate | None:
        first, second = (prepare_for(sample) for sample in _SAMPLE_IDS)
        if first is None or second is None or first.queue_key != second.queue_key:
            return None
        message = json.loads(first.payload)
        headers, properties = message.get("headers") or {}, message.get("properties") or {}
        if properties.get("body_encoding") != "base64" or headers.get("id") != properties.get("correlation_id"):
            return None
        marker = str(_SAMPLE_IDS[0])
        template = cls(first.queue_key, message, tuple(b64decode(message["body"]).decode().split(marker)),
                       tuple(str(headers.get("argsrepr", "")).split(marker)))
        built = json.loads(second.payload)
        # The sample's lineage as ``fill`` takes it: a root task (Celery makes its root id its own
        # id) has none, so the filled message gets its own id as root id, as Celery's has.
        headers = built["headers"]
        root = headers.get("root_id")
        lineage = (headers.get("parent_id"), None if root == headers.get("id") else root)
        filled = json.loads(template.fill(_SAMPLE_IDS[1], lineage).payload)
        return template if _without_ids(filled) == _without_ids(built) else None

    def fill(self, event_id: int, lineage: tuple[str | None, str | None] = (None, None)) -> PreparedMessage:
        """The message for ``event_id``; ``lineage`` is (parent id, root id) of the task running
        when it is sent, which Celery records the same way (``Celery.send_task``)."""
        task_id, value = str(uuid.uuid4()), str(event_id)
        parent_id, root_id = lineage
        message = dict(self.message)
        message["body"] = b64encode(value.join(self.body_parts).encode()).decode()
        message["headers"] = {**self.message["headers"], "id": task_id, "root_id": root_id or task_id,
                              "parent_id": parent_id, "argsrepr": value.join(self.argsrepr_parts)}
        message["properties"] = {**self.message["properties"], "correlation_id": task_id,
                                 "delivery_tag": str(uuid.uuid4())}
        return PreparedMessage(queue_key=self.queue_key, payload=dumps(message))


def _without_ids(message: dict[str, Any]) -> dict[str, Any]:
    headers = {k: v for k, v in message["headers"].items() if k != "id"}
    if headers.get("root_id") == message["headers"].get("id"):
        headers.pop("root_id")  # a root task: its root is itself
    properties = {k: v for k, v in message["properties"].items() if k not in ("correlation_id", "delivery_tag")}
    return {**message, "headers": headers, "properties": properties}


_every_templates: list[Templates] = []


def forget_templates() -> None:
    """Drop every learned template: the app was configured again (tests, the demo), and the message
    Celery builds under the new configuration (its broker above all) may differ from the learned one."""
    for templates in _every_templates:
        templates._learned.clear()


class Templates:
    """Learned templates per chain kind, per process and thread (Celery's ``origin`` header names
    the process and its ``reply_to`` the thread, so a template is only valid where it was learned)."""

    def __init__(self) -> None:
        self._learned: dict[tuple[int, int, Any], MessageTemplate | None] = {}
        _every_templates.append(self)

    def message(self, kind: Any, event_id: int, prepare_for: Callable[[int], PreparedMessage | None],
                lineage: tuple[str | None, str | None] = (None, None)) -> PreparedMessage | None:
        key = (os.getpid(), threading.get_ident(), kind)
        if key not in self._learned:
            if len(self._learned) > 1000:  # thread ids of finished threads are never looked up again
                self._learned.clear()
            self._learned[key] = MessageTemplate.learn(prepare_for)
        template = self._learned[key]
        return template.fill(event_id, lineage) if template is not None else prepare_for(event_id)
