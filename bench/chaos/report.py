"""The chaos suite's sections of ``bench/RESULTS.md``: each run replaces its own section only."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
from datetime import UTC, datetime

from bench.chaos.e2e import REPO

RESULTS = REPO / "bench" / "RESULTS.md"


def commit() -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def header() -> str:
    return (f"Run {datetime.now(UTC).isoformat(timespec='seconds')} on commit {commit()}, {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.2f} when this section was written (a shared machine: figures "
            "are indicative, ratios are measured within one run; what else ran is said below).")


def write_section(name: str, body: str) -> None:
    begin, end = f"<!-- bench_chaos_{name}: begin -->", f"<!-- bench_chaos_{name}: end -->"
    block = f"{begin}\n{body.rstrip()}\n{end}\n"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block
    RESULTS.write_text(text)


def ledger_markdown(result, args: argparse.Namespace) -> str:
    drain = result.drain_after_last_fault
    lines = [
        "## Ledger under combined faults (`bench/chaos`)", "", header(), "",
        f"`python -m bench.chaos --events {args.events} --senders {args.senders} --profile {args.profile}"
        f"{f' --vendus-down {args.vendus_down:.0f}' if args.vendus_down is not None else ''}`: "
        f"{result.events} events in {result.stories} stories ({', '.join(f'{k} {v}' for k, v in result.mix.items())}).",
        "", "```", result.ledger.line(),
        *([result.deliveries.line()] if result.deliveries is not None else []), "```", "",
        f"- Faults, in order: {'; '.join(result.faults)}.",
        f"- Processes restarted by the supervisor (as systemd's Restart=always does): {result.restarts or 'none'}.",
        f"- Sending took {result.send_seconds:.0f} s; senders retried {result.sender_retries} times; answers "
        f"{result.answers}.",
        f"- Drain after the last fault: {f'{drain:.0f} s' if drain is not None else 'did not drain'}; "
        f"accepted → done p50 {result.p50 or 0:.1f} s, p95 {result.p95 or 0:.1f} s (over the whole faulted run).",
    ]
    return "\n".join(lines)
