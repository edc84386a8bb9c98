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
transport such as the embedded broker, a key prefix, queue expiry, a routed exchange) returns
None and the caller publishes as usual.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kombu import Producer
from kombu.utils.json import dumps


@dataclass(frozen=True)
class PreparedMessage:
    """The list key of the queue and the serialized message kombu would LPUSH onto it."""

    queue_key: str
    payload: str


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
            and not getattr(channel, "global_keyprefix", "")
            and not getattr(channel, "_expires", None))


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
        if exchange:
            return None
        channel._inplace_augment_message(message, exchange, routing_key)
        key = channel._q_for_pri(routing_key, channel._get_message_priority(message, reverse=False))
        return PreparedMessage(queue_key=key, payload=dumps(message))
