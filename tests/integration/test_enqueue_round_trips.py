"""Admitting an event and publishing its chain is one Redis round trip, counted with MONITOR.

Issue 10 ("A lean receiver"): the chain's first message is published with the admission in one
round trip. Every command Redis receives from a client while ``enqueue_event`` runs is counted
(commands run inside a Lua script are not round trips and are left out), so the count is exact.
"""

from __future__ import annotations

import json
import threading
from base64 import b64decode

import pytest
import redis

from kapta_vendus.config import Settings
from kapta_vendus.integrations import shared
from kapta_vendus.integrations.fairness import RedisGate
from kapta_vendus.tasks.app import app, configure
from kapta_vendus.tasks.dispatch import PIPELINE, enqueue_event, pipeline_chain

pytestmark = pytest.mark.integration

START, END = "kapta-test-count-start", "kapta-test-count-end"


class CommandLog:
    """The commands clients sent between two markers, read from MONITOR in a thread."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.commands: list[str] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        with self.client.monitor() as monitor:
            self._ready.set()
            counting = False
            for entry in monitor.listen():
                command = entry["command"]
                if START in command:
                    counting = True
                elif END in command:
                    return
                elif counting and entry.get("client_type") != "lua":
                    self.commands.append(command.split(" ", 1)[0].upper())

    def __enter__(self) -> CommandLog:
        self._thread.start()
        self._ready.wait(5)
        self.client.echo(START)
        return self

    def __exit__(self, *_exc) -> None:
        self.client.echo(END)
        self._thread.join(10)
        self.client.close()


@pytest.fixture
def on_redis(redis_url, tmp_path):
    settings = Settings(data_dir=str(tmp_path / "var"), broker_url=redis_url)
    shared._instances.clear()
    configure(settings)
    yield redis.Redis.from_url(redis_url)
    app.close()
    shared._instances.clear()


def _body(raw: bytes) -> tuple[dict, list]:
    message = json.loads(raw)
    args, _kwargs, embed = json.loads(b64decode(message["body"]))
    return message, [args, [step["task"] for step in embed["chain"] or []]]


def test_an_admitted_event_is_one_round_trip_and_its_message_is_the_chains(on_redis):
    enqueue_event(1, integration_id="int-a", cap=10)  # warms the producer pool and declares the queue
    on_redis.delete("pipeline")

    with CommandLog(_url(on_redis)) as log:
        enqueue_event(2, integration_id="int-a", cap=10)

    assert log.commands == ["EVALSHA"]
    assert on_redis.zscore(RedisGate.keys("int-a")[0], "2") is not None  # admitted: holds a slot
    pushed = on_redis.lrange("pipeline", 0, -1)
    assert len(pushed) == 1

    pipeline_chain(3).apply_async()  # the same chain published by Celery itself, for comparison
    published = on_redis.lrange("pipeline", 0, 0)[0]
    ours, theirs = _body(pushed[0]), _body(published)
    assert ours[1] == [[2], list(reversed(PIPELINE[1:]))]
    assert theirs[1] == [[3], ours[1][1]]
    assert ours[0]["headers"]["task"] == theirs[0]["headers"]["task"] == PIPELINE[0]
    assert ours[0]["properties"]["delivery_info"] == theirs[0]["properties"]["delivery_info"]
    assert set(ours[0]) == set(theirs[0]) and set(ours[0]["properties"]) == set(theirs[0]["properties"])


def test_an_expiring_queue_declared_on_the_channel_does_not_stop_the_one_round_trip(on_redis):
    """``app.control.ping`` declares an expiring reply queue on the pooled channel. kombu then sets
    an expiry only on that queue, so the pipeline's message is still pushed with the admission."""
    from kombu import Queue

    with app.producer_or_acquire() as producer:  # the channel enqueue_event will use
        Queue("kapta-test.reply.celery.pidbox", expires=10.0)(producer.channel).declare()
        assert producer.channel._expires  # kombu remembers it for that queue only
    enqueue_event(1, integration_id="int-a", cap=10)
    on_redis.delete("pipeline")

    with CommandLog(_url(on_redis)) as log:
        enqueue_event(2, integration_id="int-a", cap=10)

    assert log.commands == ["EVALSHA"]
    assert len(on_redis.lrange("pipeline", 0, -1)) == 1


def test_a_resumed_event_pushes_the_rest_of_its_chain(on_redis):
    enqueue_event(5, start_at=PIPELINE[1], integration_id="int-a", cap=10)

    (raw,) = on_redis.lrange("billing", 0, -1)
    message, (args, rest) = _body(raw)
    assert message["headers"]["task"] == PIPELINE[1] and args == [5] and rest == [PIPELINE[2]]


def test_an_event_over_its_cap_waits_and_nothing_is_pushed(on_redis):
    enqueue_event(1, integration_id="int-a", cap=1)
    on_redis.delete("pipeline")

    with CommandLog(_url(on_redis)) as log:
        enqueue_event(2, integration_id="int-a", cap=1)

    assert log.commands == ["EVALSHA"]
    assert on_redis.llen("pipeline") == 0
    assert on_redis.zscore(RedisGate.keys("int-a")[1], "2|" + PIPELINE[0]) == 2  # in its waiting line


def _url(client: redis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"


@pytest.mark.parametrize("start_at", [None, *PIPELINE[1:]])
def test_the_learned_template_fills_in_exactly_the_message_celery_builds(on_redis, start_at):
    from kapta_vendus.tasks.dispatch import _celery_first_message, first_message
    from kapta_vendus.tasks.prepared import MessageTemplate

    # The template is learned (else every message would be Celery's own, and equal trivially).
    assert MessageTemplate.learn(lambda sample: _celery_first_message(sample, start_at)) is not None
    ours = json.loads(first_message(41, start_at=start_at).payload)
    theirs = json.loads(_celery_first_message(41, start_at).payload)
    ids = ("id", "root_id", "correlation_id", "delivery_tag")
    assert ours["headers"]["id"] != theirs["headers"]["id"]  # fresh ids per message
    assert ours["headers"]["id"] == ours["headers"]["root_id"] == ours["properties"]["correlation_id"]
    for message in (ours, theirs):
        for part in ("headers", "properties"):
            message[part] = {k: v for k, v in message[part].items() if k not in ids}
    assert ours == theirs
    assert first_message(42, start_at=start_at).payload != first_message(42, start_at=start_at).payload


def test_no_template_is_used_when_celery_builds_something_it_cannot_reproduce():
    from kapta_vendus.tasks.prepared import MessageTemplate, PreparedMessage

    def celery(event_id: int) -> PreparedMessage:  # a message whose shape depends on the id otherwise too
        headers = {"id": "t", "root_id": "t", "argsrepr": f"({event_id},)", "odd": event_id % 2}
        message = {"body": "W10=", "headers": headers,
                   "properties": {"correlation_id": "t", "delivery_tag": "d", "body_encoding": "base64"}}
        return PreparedMessage("pipeline", json.dumps(message))

    assert MessageTemplate.learn(celery) is None
    assert MessageTemplate.learn(lambda _event_id: None) is None


def _lane_options(raw: bytes) -> list[str | None]:
    """The queue each later task of the message's chain names (None: its route, the fast lane)."""
    _args, _kwargs, embed = json.loads(b64decode(json.loads(raw)["body"]))
    return [step["options"].get("queue") for step in reversed(embed["chain"] or [])]


def test_an_integration_within_half_its_cap_goes_in_the_fast_lane_and_beyond_it_in_the_slow_one(on_redis):
    for event_id in range(1, 9):  # a cap of 8: the first 4 in flight are within half of it
        enqueue_event(event_id, integration_id="int-a", cap=8)
    fast = on_redis.lrange("pipeline", 0, -1)
    slow = on_redis.lrange("pipeline.slow", 0, -1)  # the slow lane is a queue of its own
    assert [_body(raw)[1][0] for raw in reversed(fast)] == [[1], [2], [3], [4]]
    assert [_body(raw)[1][0] for raw in reversed(slow)] == [[5], [6], [7], [8]]
    # The chain's later tasks name their lane's queue: bill in billing.slow, sync in pipeline.slow.
    assert {tuple(_lane_options(raw)) for raw in slow} == {("billing.slow", "pipeline.slow")}
    assert {tuple(_lane_options(raw)) for raw in fast} == {(None, None)}
    assert {json.loads(raw)["properties"]["delivery_info"]["routing_key"] for raw in slow} == {"pipeline.slow"}

    enqueue_event(20, integration_id="int-b", cap=8)  # another integration, quiet: the fast lane
    assert _body(on_redis.lrange("pipeline", 0, 0)[0])[1][0] == [20]


def test_a_woken_event_of_a_busy_integration_goes_in_the_slow_lane(on_redis):
    for event_id in (1, 2, 3):
        enqueue_event(event_id, integration_id="int-a", cap=2)  # 3 waits
    gate = RedisGate(_url(on_redis))
    (woken,) = gate.release("int-a", 1, 2)
    assert woken.event_id == 3
    enqueue_event(3, start_at=woken.task, integration_id="int-a", cap=2)
    slow = on_redis.lrange("pipeline.slow", 0, -1)  # holds 2 of 2: beyond half its cap
    assert [_body(raw)[1][0] for raw in reversed(slow)] == [[2], [3]]


def test_a_resumed_event_of_a_busy_integration_resumes_in_the_slow_billing_queue(on_redis):
    enqueue_event(1, integration_id="int-a", cap=2)
    enqueue_event(5, start_at=PIPELINE[1], integration_id="int-a", cap=2)  # holds 2 of 2
    (raw,) = on_redis.lrange("billing.slow", 0, -1)
    assert _body(raw)[1] == [[5], [PIPELINE[2]]] and _lane_options(raw) == ["pipeline.slow"]


def test_a_chain_started_in_the_slow_lane_stays_in_it_with_a_real_worker(on_redis):
    """The chain's next task, and a retry, run from the slow lane's queues: a worker that consumes
    only those runs the whole chain (a task sent to the fast lane would never run here)."""
    import time

    from celery import chain
    from celery.contrib.testing.worker import start_worker

    from kapta_vendus.tasks.lanes import Lane, queue_options

    lanes: list[tuple[str, object]] = []

    @app.task(name="kapta.pipeline.test_lane_first", bind=True, shared=False)
    def first(self):
        lanes.append(("first", self.request.delivery_info.get("routing_key")))
        if self.request.retries == 0:
            raise self.retry(countdown=0, max_retries=1)

    @app.task(name="kapta.billing.test_lane_second", bind=True, shared=False)
    def second(self):
        lanes.append(("second", self.request.delivery_info.get("routing_key")))

    try:
        chain(first.si().set(**queue_options(first.name, Lane.SLOW)),
              second.si().set(**queue_options(second.name, Lane.SLOW))).apply_async()
        with start_worker(app, pool="solo", perform_ping_check=False, queues=["pipeline.slow", "billing.slow"]):
            deadline = time.monotonic() + 20
            while len(lanes) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        app.tasks.pop(first.name, None)
        app.tasks.pop(second.name, None)
    assert lanes == [("first", "pipeline.slow"), ("first", "pipeline.slow"), ("second", "billing.slow")]


def test_queue_depths_count_each_lane(on_redis):
    from kapta_vendus.metrics_state import list_depths

    for event_id in range(1, 7):
        enqueue_event(event_id, integration_id="int-a", cap=4)  # 2 fast, 2 slow, 2 waiting
    assert list_depths(on_redis, ["pipeline", "pipeline.slow", "billing"]) == {
        "pipeline": 2, "pipeline.slow": 2, "billing": 0}


def test_sent_from_a_running_task_the_message_names_its_parent_and_root_as_celery_does(on_redis):
    from celery._state import _task_stack

    from kapta_vendus.tasks.dispatch import _celery_first_message, first_message

    first_message(1)  # learned outside any task

    @app.task(name="kapta.pipeline.test_lineage", shared=False)
    def sender():
        pass

    task = app.tasks.pop(sender.name)
    task.push_request(id="parent-task", root_id="root-task", called_directly=False,  # as a worker runs it
                      delivery_info={"priority": 0})
    _task_stack.push(task)
    try:
        ours = json.loads(first_message(7).payload)["headers"]
        theirs = json.loads(_celery_first_message(7, None).payload)["headers"]
    finally:
        _task_stack.pop()
        task.pop_request()
    assert (ours["parent_id"], ours["root_id"]) == (theirs["parent_id"], theirs["root_id"]) == ("parent-task",
                                                                                                "root-task")
    outside = json.loads(first_message(8).payload)["headers"]
    assert (outside["parent_id"], outside["root_id"]) == (None, outside["id"])
