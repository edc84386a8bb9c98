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
