"""The end-to-end suite's process and stack helpers, shared with the chaos, hosts and soak runs.

``tests/e2e`` is not a package (pytest puts the folder itself on the path), so its modules are
imported here the same way; nothing is copied, and a fix there fixes both.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_E2E = str(REPO / "tests" / "e2e")
if _E2E not in sys.path:
    sys.path.insert(0, _E2E)

import e2e_events  # noqa: E402
from e2e_stack import API_KEY, CLI, FINISHED, Stack, scratch_database  # noqa: E402
from processes import ManagedProcess, start_process, stop_all, wait_until  # noqa: E402

__all__ = ["API_KEY", "CLI", "FINISHED", "REPO", "ManagedProcess", "Stack", "e2e_events", "scratch_database",
           "start_process", "stop_all", "wait_until"]
