"""kombu's Redis channels build their synchronous client once (``kapta_vendus.tasks.redis_broker``).

Before, every publish, reservation and acknowledgement built a ``redis.Redis`` of its own, which
with redis-py 8 costs more CPU than the round trip. These tests count the clients built while real
messages are published, consumed and acknowledged through a real Redis, and check that a new
connection pool (after a fork, or a close) gets a client of its own.
"""

from __future__ import annotations

import threading

import pytest
import redis
from kombu import Connection, Consumer, Exchange, Producer, Queue

import kapta_vendus.tasks.app  # noqa: F401  (installs the transport, as every process of the service does)
from kapta_vendus.tasks import redis_broker

pytestmark = pytest.mark.integration


@pytest.fixture
def channel(redis_url):
    connection = Connection(redis_url)
    yield connection.default_channel
    connection.release()


@pytest.fixture
def built(monkeypatch):
    """The ``redis.Redis`` objects built from now on."""
    clients: list[redis.Redis] = []
    real_init = redis.Redis.__init__

    def counting_init(self, *args, **kwargs):
        clients.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", counting_init)
    return clients


def test_redis_urls_use_the_shared_client_transport(channel):
    assert isinstance(channel, redis_broker.Channel)
    with Connection("sentinel://127.0.0.1:26379") as sentinel:
        assert sentinel.transport_cls == "sentinel"
        assert issubclass(sentinel.get_transport_cls(), redis_broker.SentinelTransport)


def test_messages_flow_through_one_client_per_channel(channel, built):
    queue = Queue("kapta-test-shared-client", Exchange("kapta-test-shared-client"), "shared")
    queue(channel).declare()
    producer = Producer(channel, exchange=queue.exchange, routing_key="shared")
    for number in range(20):
        producer.publish({"n": number})
    received: list[int] = []

    def on_message(body, message):
        received.append(body["n"])
        message.ack()

    with Consumer(channel, queues=[queue], callbacks=[on_message], accept=["json"]):
        while len(received) < 20:
            channel.connection.client.drain_events(timeout=5)
    queue(channel).delete()

    assert received == list(range(20))
    # The publishes, reservations and acknowledgements all went through the channel's one
    # synchronous client; kombu's own asynchronous client (BRPOP) is the other one.
    synchronous = {id(client) for client in built if client.connection_pool is channel.pool}
    assert len(synchronous) == 1, len(synchronous)
    assert len(built) <= 2, len(built)


def test_a_new_pool_gets_a_new_client(channel):
    first = channel._create_client()
    assert channel._create_client() is first
    assert first.connection_pool is channel.pool
    channel._pool = None  # as kombu does after a fork and on close
    second = channel._create_client()
    assert second is not first and second.connection_pool is channel.pool


def test_threads_share_the_client_safely(channel):
    client = channel._create_client()
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            for step in range(50):
                key = f"kapta-test-thread-{index}"
                channel._create_client().set(key, step)
                assert int(channel._create_client().get(key)) == step
        except BaseException as exc:  # reported below, with the thread's own failure
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert channel._create_client() is client
