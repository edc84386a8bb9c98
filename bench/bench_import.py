"""Import benchmark: `kapta-vendus import` throughput against the simulator's raw page-serving rate in
the same run, and the import's peak RSS for 100k documents.

    .venv/bin/python -m bench.bench_import [--documents 100000] [--pairs 2] [--latency-ms 250]

It creates a scratch PostgreSQL database, starts the Vendus simulator as its own process, seeds it
with ``/_sim/bulk`` (documents spread over 100 days), and alternates (ABBA) between

- the baseline: every page of the window fetched with plain ``requests`` (``per_page=1000``), bodies
  read and thrown away: how fast the simulator serves pages, with nothing done with them;
- the subject: ``kapta-vendus import --json`` in a child process, into a fresh integration each time
  (so every round writes everything: mirror rows, links, imported events, checkpoints).

Rates are documents per second; the subject's comes from its own summary (the import loop, without
the process start, which is reported apart). Peak RSS is the child's ``ru_maxrss`` (``os.wait4``).
A second phase repeats one pair with a per-page latency injected by the simulator
(``slow_page_ms``), as a real account's pages take time to serve. Results replace this benchmark's
section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from bench.common import (
    PG_ADMIN_URL,
    REPO,
    BenchError,
    BenchProcesses,
    bench_dir,
    bench_settings,
    free_port,
    median,
    order_of_rounds,
    scratch_database,
    wait_http,
)

API_KEY = "bench-import-key"
RESULTS = REPO / "bench" / "RESULTS.md"
BEGIN, END = "<!-- bench_import: begin -->", "<!-- bench_import: end -->"


class Run:
    def __init__(self, args, settings, processes: BenchProcesses, workdir: Path) -> None:
        self.args, self.settings, self.processes, self.workdir = args, settings, processes, workdir
        port = free_port()
        processes.start("simulator", "simulator", "--port", str(port), "--api-key", API_KEY, "--quiet")
        self.root = f"http://127.0.0.1:{port}"
        self.url = f"{self.root}/ws/v1.1"
        wait_http(f"{self.root}/_sim/stats", processes)
        self.http = requests.Session()
        now = self.http.get(f"{self.root}/_sim/clock", timeout=10).json()["now"]
        self.last = date.fromisoformat(now[:10]) - timedelta(days=1)
        self.first = self.last - timedelta(days=99)
        self.serial = 0

    def seed(self, n: int) -> None:
        reply = self.http.post(f"{self.root}/_sim/bulk", timeout=300, json={
            "api_key": API_KEY, "n": n, "start_date": self.first.isoformat(), "end_date": self.last.isoformat(),
            "external_reference_prefix": "B-"})
        if reply.status_code not in (200, 201):
            raise BenchError(f"bulk seeding failed: {reply.text}")
        self.store_id = int(self.http.get(f"{self.url}/stores/", auth=(API_KEY, ""), timeout=10).json()[0]["id"])

    def faults(self, config: dict[str, Any]) -> None:
        self.http.post(f"{self.root}/_sim/faults", json=config, timeout=10).raise_for_status()

    def baseline(self, until: date) -> dict[str, Any]:
        """Every page of the window, bodies read and dropped: the simulator's raw serving rate."""
        started, page = time.perf_counter(), 1
        while True:
            reply = self.http.get(f"{self.url}/documents/", auth=(API_KEY, ""), timeout=60, params={
                "store_id": self.store_id, "since": self.first.isoformat(), "until": until.isoformat(),
                "per_page": 1000, "page": page})
            reply.raise_for_status()
            _body = reply.content
            if page >= int(reply.headers["X-Paginator-Pages"]):
                break
            page += 1
        seconds = time.perf_counter() - started
        documents = int(reply.headers["X-Paginator-Items"])
        return {"documents": documents, "pages": page, "seconds": seconds, "dps": documents / seconds}

    def subject(self, until: date) -> dict[str, Any]:
        """``kapta-vendus import`` into a fresh integration, in a child process whose peak RSS is read."""
        integration_id = self.integration()
        argv = [sys.executable, "-m", "kapta_vendus", "import", "--integration", integration_id,
                "--since", self.first.isoformat(), "--until", until.isoformat(), "--json"]
        started = time.perf_counter()
        with open(self.workdir / "import.log", "ab") as log:
            child = subprocess.Popen(argv, env=self.processes.env, stdout=subprocess.PIPE, stderr=log, cwd=str(REPO))
            out = child.stdout.read()
            _pid, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        if child.returncode:
            raise BenchError(f"the import failed ({child.returncode}); see {self.workdir / 'import.log'}")
        (report,) = json.loads(out)["documents"]
        if not report["complete"]:
            raise BenchError(f"the import did not complete: {report}")
        return {"documents": report["documents"], "seconds": report["seconds"], "dps": report["documents_per_second"],
                "wall_seconds": wall, "peak_rss_mib": usage.ru_maxrss / 1024, "events": report["events_created"]}

    def integration(self) -> str:
        from kapta_vendus.db.session import database_for
        from kapta_vendus.integrations.service import create_integration

        self.serial += 1
        with database_for(self.settings.database_url).unit_of_work() as session:
            integration, _secret = create_integration(
                session, self.settings, name=f"bench-import-{self.serial}", vendus_url=self.url, api_key=API_KEY,
                stores=[self.store_id], mode="normal", config={"mapping": {"mode": "normal"}})
            return integration.id


def pairs(run: Run, count: int, until: date, label: str) -> dict[str, Any]:
    rounds: dict[str, list[dict[str, Any]]] = {"baseline": [], "subject": []}
    ratios = []
    for index, order in enumerate(order_of_rounds(count)):
        pair = {}
        for kind in order:
            result = run.baseline(until) if kind == "baseline" else run.subject(until)
            rounds[kind].append(result)
            pair[kind] = result["dps"]
            extra = f"  peak RSS {result['peak_rss_mib']:.0f} MiB" if kind == "subject" else ""
            print(f"{label} pair {index + 1}/{count} {kind:8s} {result['documents']:7d} docs "
                  f"{result['dps']:9.0f}/s{extra}", flush=True)
        ratios.append(pair["subject"] / pair["baseline"])
    return {"baseline_dps": [round(r["dps"]) for r in rounds["baseline"]],
            "subject_dps": [round(r["dps"]) for r in rounds["subject"]],
            "ratio_pairs": [round(r, 3) for r in ratios], "ratio_median": round(median(ratios), 3),
            "peak_rss_mib": [round(r["peak_rss_mib"], 1) for r in rounds["subject"]],
            "subject_wall_seconds": [round(r["wall_seconds"], 1) for r in rounds["subject"]],
            "documents": rounds["subject"][0]["documents"]}


def _rates(values: list[int]) -> str:
    return ", ".join(f"{v:,}" for v in values)


def write_section(report: dict[str, Any]) -> None:
    fast, slow = report["no_latency"], report["latency"]
    lines = [
        BEGIN, "## Historical import (`bench/bench_import.py`)", "",
        f"Run {report['date']} on {report['cpus']} CPU(s), load average {report['load_average_start'][0]:.2f} "
        f"at the start; the simulator, PostgreSQL and the import share the machine.", "",
        "| phase | documents | raw page serving (docs/s) | import (docs/s) | import / raw | peak RSS of the import |",
        "|---|---|---|---|---|---|",
        f"| no latency | {fast['documents']:,} | {_rates(fast['baseline_dps'])} | "
        f"{_rates(fast['subject_dps'])} | {fast['ratio_median']} (pairs: {fast['ratio_pairs']}) | "
        f"{max(fast['peak_rss_mib'])} MiB |",
    ]
    if slow:
        lines.append(
            f"| {report['latency_ms']:.0f} ms per list page | {slow['documents']:,} | "
            f"{_rates(slow['baseline_dps'])} | {_rates(slow['subject_dps'])} | "
            f"{slow['ratio_median']} (pairs: {slow['ratio_pairs']}) | {max(slow['peak_rss_mib'])} MiB |")
    lines += [
        "", f"Goal: import at least 0.8 times the raw page serving rate. Import wall time with the process start: "
        f"{fast['subject_wall_seconds']} s.", "",
        "Raw page serving reads each page's body and drops it; the import parses it, and writes one mirror row, "
        "one imported event and (with an external reference) one link per document, with a checkpoint per page, "
        "reading the next page while it writes. Without latency the import is bound by PostgreSQL's writes "
        "(three indexed tables) and the CPUs it shares with the simulator; with per-page latency the read-ahead "
        "hides the writes behind the wait for the next page.", END]
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    section = "\n".join(lines)
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        text = head + section + rest.partition(END)[2]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=100_000, help="documents seeded (and imported per round)")
    parser.add_argument("--pairs", type=int, default=2, help="baseline/import round pairs, ABBA")
    parser.add_argument("--latency-ms", type=float, default=250.0, help="per list page in the second phase (0: skip)")
    parser.add_argument("--latency-days", type=int, default=20, help="days of documents in the second phase")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    parser.add_argument("--no-results", action="store_true", help="do not write bench/RESULTS.md")
    parser.add_argument("--keep", action="store_true", help="keep the logs")
    args = parser.parse_args(argv)
    if min(args.documents, args.pairs, args.latency_days) < 1:
        parser.error("counts must be positive")
    load_start = os.getloadavg()
    with ExitStack() as stack:
        workdir = stack.enter_context(bench_dir(args.keep))
        database_url = stack.enter_context(scratch_database(args.pg_admin_url))
        # The embedded broker: the import enqueues nothing, and no Redis database is needed.
        settings = bench_settings(workdir, database_url, "", "WARNING")
        processes = BenchProcesses(workdir, settings)
        stack.callback(processes.stop_all)
        run = Run(args, settings, processes, workdir)
        run.seed(args.documents)
        run.subject(run.first + timedelta(days=4))  # warm-up: imports, caches, connections
        fast = pairs(run, args.pairs, run.last, "no latency")
        slow = None
        if args.latency_ms:
            run.faults({"rules": [{"paths": ["documents"], "slow_page_ms": args.latency_ms}]})
            slow = pairs(run, 1, run.first + timedelta(days=args.latency_days - 1), f"{args.latency_ms:.0f} ms")
            run.faults({})
        processes.check_alive()
    report = {"benchmark": "import", "date": datetime.now(UTC).isoformat(timespec="seconds"),
              "cpus": os.cpu_count(), "load_average_start": load_start, "load_average_end": os.getloadavg(),
              "latency_ms": args.latency_ms, "no_latency": fast, "latency": slow}
    print(json.dumps(report, indent=2))
    if not args.no_results:
        write_section(report)
        print(f"results written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
