"""Run the simulator on a real socket inside the test process.

    with run_in_thread(api_keys=["k"]) as sim:
        requests.get(f"{sim.base_url}/documents/", auth=("k", ""))
        sim.state.clock.set(...)

It listens on 127.0.0.1 with an ephemeral port (werkzeug's threaded server) and stops cleanly when
the block exits. Use this for what the Flask test client cannot show: timeouts, latency and dropped
connections as ``requests`` really sees them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_app
from .state import SimulatorState


class QuietRequestHandler(WSGIRequestHandler):
    """No per-request access log lines in test output."""

    def log_request(self, *args, **kwargs) -> None:
        pass


@dataclass
class RunningSimulator:
    state: SimulatorState
    host: str
    port: int
    server: BaseWSGIServer

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/ws/v1.1"


def serve(state: SimulatorState, host: str = "127.0.0.1", port: int = 0, quiet: bool = True) -> BaseWSGIServer:
    """A threaded werkzeug server for ``state`` (not started). Port 0 picks a free port."""
    handler = QuietRequestHandler if quiet else WSGIRequestHandler
    return make_server(host, port, create_app(state), threaded=True, request_handler=handler)


@contextmanager
def run_in_thread(
    state: SimulatorState | None = None, *, host: str = "127.0.0.1", port: int = 0, **state_kwargs
) -> Iterator[RunningSimulator]:
    """Start the simulator in a daemon thread.

    ``state_kwargs`` go to ``SimulatorState`` when no state is given (e.g. ``api_keys=["k"]``).
    """
    state = state if state is not None else SimulatorState(**state_kwargs)
    server = serve(state, host, port)
    # a short poll interval keeps shutdown (and so every test using this) fast
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="vendus-simulator", daemon=True
    )
    thread.start()
    try:
        yield RunningSimulator(state=state, host=host, port=server.server_port, server=server)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
