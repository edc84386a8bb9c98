"""A faithful, local Vendus REST API simulator for tests and demos (see docs/simulator.md).

from kapta_vendus.simulator import SimulatorState, create_app, run_in_thread

state = SimulatorState(api_keys=["test-key"])   # one ready account per key
client = create_app(state).test_client()        # in-process, or:
with run_in_thread(state) as sim:               # a real socket on 127.0.0.1
    ...
"""

from .app import SimulatedConnectionDrop, create_app
from .assumptions import SimulatorAssumptions
from .clock import SimClock
from .errors import ApiError
from .faults import FaultInjector
from .ratelimit import RateLimitConfig
from .state import SimulatorState
from .testing import RunningSimulator, run_in_thread

__all__ = [
    "ApiError",
    "FaultInjector",
    "RateLimitConfig",
    "RunningSimulator",
    "SimClock",
    "SimulatedConnectionDrop",
    "SimulatorAssumptions",
    "SimulatorState",
    "create_app",
    "run_in_thread",
]
