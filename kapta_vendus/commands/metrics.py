"""`kapta-vendus metrics-server`: serve this host's worker samples when no web process runs beside them."""

from __future__ import annotations

import time

import click

from kapta_vendus.commands.common import console, load_settings


@click.command("metrics-server")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9464, type=int, show_default=True)
def metrics_server(host: str, port: int) -> None:
    """Serve /metrics for the workers of this host (their PROMETHEUS_MULTIPROC_DIR samples only).

    A host that runs the web process needs none: its /metrics already adds up the workers' samples.
    """
    from kapta_vendus.metrics import MULTIPROC_ENV, default_multiproc_dir, use_multiproc_dir

    use_multiproc_dir(default_multiproc_dir(load_settings().data_dir))
    import os

    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(port, addr=host, registry=registry)
    console.print(f"serving the samples in {os.environ[MULTIPROC_ENV]} on http://{host}:{port}/metrics")
    while True:
        time.sleep(3600)
