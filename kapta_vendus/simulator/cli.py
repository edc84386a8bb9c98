"""``kapta-vendus simulator``: serve the Vendus API simulator locally (a test tool, never a proxy).

The lead registers ``simulator`` on the main click group; it also runs standalone with
``python -m kapta_vendus.simulator.cli``.
"""

from __future__ import annotations

import json
import signal
import sys

import click
from rich.console import Console

from .assumptions import SimulatorAssumptions, parse_assume_options
from .banner import print_banner
from .fixtures import DEFAULT_FIXTURE
from .ratelimit import RateLimitConfig
from .state import SimulatorState
from .testing import serve


@click.command("simulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8765, show_default=True, type=int, help="TCP port (0 = any free port).")
@click.option("--api-key", "api_keys", multiple=True, help="Seed a ready account for this key (repeatable).")
@click.option("--fixture", type=click.Path(exists=True, dir_okay=False), help="YAML/JSON fixture with accounts.")
@click.option("--db", type=click.Path(dir_okay=False), help="Persist state to this SQLite file.")
@click.option("--seed", type=int, help="Seed for fault injection randomness (reproducible runs).")
@click.option("--latency-ms", help="Latency on every API request: N or MIN,MAX (milliseconds).")
@click.option("--rate-limit", help="Per-key budget CREDITS/SECONDS, e.g. 100/20 (off by default).")
@click.option("--faults", "faults_json", help="Fault configuration as JSON (see docs/simulator.md).")
@click.option("--assume", multiple=True, help="Override an assumption: key=value (repeatable).")
@click.option("--quiet/--verbose", default=False, help="Hide per-request log lines.")
def simulator(host, port, api_keys, fixture, db, seed, latency_ms, rate_limit, faults_json, assume, quiet):
    """Run a local Vendus REST API simulator (documents, clients, products, faults, rate limits)."""
    try:
        faults = json.loads(faults_json) if faults_json else {}
        if latency_ms:
            bounds = [float(part) for part in latency_ms.split(",")]
            rule = {"latency_ms": bounds if len(bounds) == 2 else bounds[0]}
            faults = {"seed": faults.get("seed"), "rules": [*_rules(faults), rule]}
        assumptions = SimulatorAssumptions().update(parse_assume_options(assume))
        limit = RateLimitConfig.parse(rate_limit) if rate_limit else None
    except (ValueError, TypeError) as exc:
        raise click.BadParameter(str(exc)) from exc
    state = SimulatorState(
        fixture=fixture,
        api_keys=api_keys,
        assumptions=assumptions,
        faults=faults or None,
        seed=seed,
        rate_limit=limit,
        db_path=db,
    )
    if not state.accounts:  # nothing given and nothing on disk: the shipped demo accounts
        state.load_fixture(DEFAULT_FIXTURE)
    server = serve(state, host, port, quiet=quiet)
    print_banner(Console(), f"http://{host}:{server.server_port}/ws/v1.1", list(state.accounts.values()))
    sys.stdout.flush()  # the first line is read by whoever started us (tests, the demo)
    # SIGTERM (docker stop, process managers) shuts down as cleanly as Ctrl-C
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        state.close()


def _rules(faults: dict) -> list:
    if "rules" in faults:
        return list(faults["rules"])
    rest = {k: v for k, v in faults.items() if k != "seed"}
    return [rest] if rest else []


if __name__ == "__main__":
    simulator()
