"""``python -m bench.chaos``: the ledger run under combined faults, and the fairness measurement.

Prints one ledger line at quiescence and exits non-zero when the run is void. ``--results``
appends the figures to ``bench/RESULTS.md`` (section ``bench_chaos``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from bench.chaos import faults
from bench.chaos.report import write_section
from bench.chaos.run import run_ledger
from bench.common import stop_cleanly_on_sigterm


def main(argv: list[str] | None = None) -> int:
    stop_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument("--events", type=int, default=10_000, help="signed events to send (duplicates included)")
    parser.add_argument("--senders", type=int, default=6, help="concurrent senders")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--profile", choices=("full", "ci"), default="full",
                        help="fault durations: full (PostgreSQL 20 s, Vendus 3 min) or ci (6 s, 15 s)")
    parser.add_argument("--vendus-down", type=float, help="override the Vendus outage, in seconds")
    parser.add_argument("--quiet-timeout", type=float, default=1800, help="seconds to wait for quiescence")
    parser.add_argument("--no-faults", action="store_true", help="the same run without any fault (a baseline)")
    parser.add_argument("--fairness", action="store_true", help="measure fairness under a flood instead")
    parser.add_argument("--flood", type=int, default=5000)
    parser.add_argument("--few", type=int, default=50)
    parser.add_argument("--log-dir", type=Path, help="keep the processes' logs here")
    parser.add_argument("--results", action="store_true", help="append the figures to bench/RESULTS.md")
    args = parser.parse_args(argv)
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="kapta-chaos-"))
    print(f"logs in {log_dir}; load average at the start {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    if args.fairness:
        from bench.chaos.fairness import run_fairness

        outcome = run_fairness(log_dir, flood=args.flood, few=args.few)
        print(outcome.line())
        print("\n".join(outcome.stages))
        if args.results:
            write_section("fairness", outcome.markdown())
        return 0
    profile = faults.FULL if args.profile == "full" else faults.CI
    if args.vendus_down is not None:
        profile = faults.Profile(profile.gap, profile.postgres_down, args.vendus_down, profile.destination_down)
    result = run_ledger(log_dir, events=args.events, senders=args.senders, seed=args.seed, profile=profile,
                        quiet_timeout=args.quiet_timeout, with_faults=not args.no_faults)
    print(result.ledger.line())
    if result.deliveries is not None:
        print(result.deliveries.line())
    for problem in result.ledger.problems[:20]:
        print(f"  {problem}")
    drain = result.drain_after_last_fault
    print(f"drain after the last fault: {f'{drain:.1f} s' if drain is not None else 'did not drain'}; "
          f"accepted→done p50 {result.p50 or 0:.1f} s, p95 {result.p95 or 0:.1f} s; sender answers {result.answers}")
    if args.results:
        from bench.chaos.report import ledger_markdown

        write_section("ledger", ledger_markdown(result, args))
    return 0 if result.valid else 1


if __name__ == "__main__":
    sys.exit(main())
