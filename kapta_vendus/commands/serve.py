"""`kapta-vendus serve`: the receiver, admin API, console and metrics on gunicorn."""

from __future__ import annotations

import click
from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from kapta_vendus.web import create_app

        return create_app()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, type=int, show_default=True)
@click.option("--workers", default=2, type=int, show_default=True)
@click.option("--threads", default=4, type=int, show_default=True)
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the receiver, the admin API, the console and /metrics with gunicorn."""
    from kapta_vendus.commands.common import load_settings
    from kapta_vendus.db.session import forget_connections_after_fork
    from kapta_vendus.metrics import default_multiproc_dir, mark_process_dead, use_multiproc_dir

    # The workers' samples are summed by /metrics (and shared with the workers of this host).
    use_multiproc_dir(default_multiproc_dir(load_settings().data_dir))

    _Gunicorn({
        "bind": f"{host}:{port}", "workers": workers, "threads": threads, "worker_class": "gthread",
        "accesslog": "-", "timeout": 30, "graceful_timeout": 20,
        # gunicorn's control socket has one default path per user: a second receiver on the same
        # host would take over the first one's. `serve` is for operators and tests; no control socket.
        "control_socket_disable": True,
        "post_fork": lambda _server, _worker: forget_connections_after_fork(),
        "child_exit": lambda _server, worker: mark_process_dead(worker.pid),
    }).run()
