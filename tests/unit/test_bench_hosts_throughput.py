"""The hosts benchmark's steady-state arithmetic (``bench/hosts/throughput.py``): pure functions, no I/O."""

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for ``bench``

from bench.hosts.throughput import steady_cpu, steady_rate

START = datetime(2026, 1, 1, tzinfo=UTC)


def test_steady_rate_leaves_out_start_up_and_tail():
    # 100 documents 0.1 s apart, then a late straggler: the window between 10 % and 90 % sees 10/s.
    moments = [START + timedelta(seconds=0.1 * i) for i in range(100)] + [START + timedelta(seconds=60)]
    assert abs(steady_rate(moments) - 10.0) < 0.01


def test_steady_rate_of_a_burst_is_huge_not_the_calls_rate():
    # What the old "done" measure saw: a slow start, then everything at once.
    moments = [START + timedelta(seconds=5)] * 9 + [START + timedelta(seconds=10, milliseconds=i) for i in range(91)]
    assert steady_rate(moments) > 500


def test_steady_rate_needs_enough_points():
    assert steady_rate([START, START + timedelta(seconds=1)]) == 0.0


def test_steady_cpu_is_cpu_per_document_inside_the_window():
    # Start-up costs 2 s of CPU before the first document; then 0.03 s per document.
    samples = [(0, 2.0)] + [(n, 2.0 + 0.03 * n) for n in range(5, 101, 5)]
    assert abs(steady_cpu(samples, 100) - 0.03) < 1e-9
