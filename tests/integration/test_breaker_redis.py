import pytest

from kapta_vendus.integrations.breaker import Breaker, CircuitOpen, _RedisStore
from kapta_vendus.vendus import VendusUnavailable

pytestmark = pytest.mark.integration


def test_state_is_shared_through_redis(redis_url):
    # Two breakers = two worker processes: failures seen by one open the circuit for the other.
    first, second = (Breaker(_RedisStore(redis_url), threshold=2, cooldown=5) for _ in range(2))
    for breaker in (first, second):
        with pytest.raises(VendusUnavailable), breaker.guard("tenant-x"):
            raise VendusUnavailable("down")
    with pytest.raises(CircuitOpen), first.guard("tenant-x"):
        pass
    with second.guard("tenant-y"):
        pass
