import pickle

import pytest

from kapta_vendus.integrations.breaker import Breaker, CircuitOpen, _MemoryStore
from kapta_vendus.vendus import OutcomeUnknown, VendusRejected, VendusUnavailable


def _fail(breaker: Breaker, integration: str, exc: Exception) -> None:
    with pytest.raises(type(exc)), breaker.guard(integration):
        raise exc


def test_opens_after_threshold_and_only_for_that_integration():
    breaker = Breaker(_MemoryStore(), threshold=3, cooldown=30)
    for _ in range(3):
        _fail(breaker, "a", VendusUnavailable("down"))
    with pytest.raises(CircuitOpen) as opened, breaker.guard("a"):
        pytest.fail("the guarded call must not run while the circuit is open")
    assert 0 < opened.value.reset_after <= 30
    assert opened.value.retryable is True
    with breaker.guard("b"):  # another tenant is unaffected
        pass


def test_success_resets_the_count():
    breaker = Breaker(_MemoryStore(), threshold=2)
    _fail(breaker, "a", OutcomeUnknown("reset"))
    with breaker.guard("a"):
        pass
    _fail(breaker, "a", OutcomeUnknown("reset"))
    with breaker.guard("a"):  # still closed: the success in between reset the count
        pass


def test_rejections_do_not_count():
    breaker = Breaker(_MemoryStore(), threshold=1)
    _fail(breaker, "a", VendusRejected("P001", status=403, code="P001"))
    with breaker.guard("a"):
        pass


def test_circuit_open_survives_pickling():
    exc = pickle.loads(pickle.dumps(CircuitOpen("paused", reset_after=12.5)))
    assert isinstance(exc, CircuitOpen) and exc.reset_after == 12.5


class _RedisDown:
    """A breaker store whose every call fails the way redis-py does when Redis is gone."""

    def __getattr__(self, name):
        def fail(*_args, **_kwargs):
            from redis.exceptions import ConnectionError as RedisConnectionError

            raise RedisConnectionError("Error 111 connecting to redis")
        return fail


def test_redis_down_never_fails_a_call_that_succeeded():
    """The call (an issued NC) stands even though the breaker cannot record the success."""
    breaker = Breaker(_RedisDown())
    done = []
    with breaker.guard("a"):
        done.append("issued")
    assert done == ["issued"]


def test_redis_down_keeps_the_callers_own_error():
    breaker = Breaker(_RedisDown())
    with pytest.raises(VendusUnavailable), breaker.guard("a"):
        raise VendusUnavailable("503")


def test_the_success_after_a_trip_is_announced_as_a_recovery_once():
    breaker = Breaker(_MemoryStore(), threshold=1, cooldown=0.0)
    recovered: list[str] = []
    _fail(breaker, "a", VendusUnavailable("down"))
    for _ in range(2):
        with breaker.guard("a", on_recovered=recovered.append):
            pass
    assert recovered == ["a"]
