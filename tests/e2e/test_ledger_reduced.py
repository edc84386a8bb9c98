"""The ledger suite, reduced: 500 signed events under every scripted fault, then the ledger must balance.

The same run as ``python -m bench.chaos --profile ci --events 500`` (see ``bench/chaos``): its own
Redis and PostgreSQL, a simulator, a receiver, a worker on every queue, a billing worker and beat,
six senders that retry like a POS, and meanwhile: simulator 5xx/429/timeouts/commit-then-drop at
about 15 %, SIGKILL of a worker mid-chain and of the billing pool, Redis restarted empty,
PostgreSQL stopped for 6 s, the receiver restarted, Vendus down for 15 s, and (in builds with
outbound destinations) the integration's destination down for 10 s. What must hold is the
ledger (ARCHITECTURE "Guarantees" 1-4), never a timing.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for ``bench``

from bench.chaos import faults
from bench.chaos.run import run_ledger

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(480)]


def _require(binary: str) -> None:
    if shutil.which(binary) is None:
        message = f"{binary} is not installed: the ledger run starts its own Redis and PostgreSQL"
        if os.environ.get("KAPTA_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)


def test_500_events_under_combined_faults_balance_the_ledger(tmp_path):
    for binary in ("redis-server", "initdb", "pg_ctl"):
        _require(binary)
    result = run_ledger(tmp_path, events=500, senders=6, seed=13, profile=faults.CI, quiet_timeout=180)
    ledger = result.ledger
    detail = "\n".join([ledger.line(), *ledger.problems[:20], f"faults: {result.faults}"])

    assert len(result.faults) >= 8, detail  # every fault of the script ran
    assert ledger.unaccounted == 0 and ledger.refused == 0, detail  # nothing accepted was lost
    assert ledger.accepted == ledger.done + ledger.rejected + ledger.dead + ledger.in_flight, detail
    assert ledger.in_flight == 0 and ledger.dead == 0 and ledger.rejected == 0, detail
    assert (ledger.duplicates, ledger.missing, ledger.wrong_totals) == (0, 0, 0), detail
    assert ledger.keys == ledger.documents > 0, detail  # one document per business key
    assert ledger.valid, detail
    if result.deliveries is not None:  # builds with destinations: one was down for 10 s
        assert result.deliveries.valid, result.deliveries.line()
