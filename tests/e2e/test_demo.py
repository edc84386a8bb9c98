"""The README's first command: `kapta-vendus demo` on the embedded default, end to end."""

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e


def test_demo_issues_every_document_type_and_exits_cleanly(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAPTA_")}
    env["COLUMNS"] = "200"
    result = subprocess.run([sys.executable, "-m", "kapta_vendus", "demo"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    issued = {m.group(1) for line in rows for m in [re.search(r"│ (FR|FS|FT|RG|NC) \d\dP\d{4}/\d+ ", line)] if m}
    assert issued == {"FR", "FS", "FT", "RG", "NC"}, result.stdout
    assert len(rows) == 9 and all("│ done " in line for line in rows), result.stdout
    # A services sale over 100 € is an FR (CIVA 40(1)); a named customer without a NIF gets an FR.
    assert any("services sale over 100" in line and "│ FR " in line for line in rows), result.stdout
    assert any("named customer, no NIF" in line and "│ FR " in line for line in rows), result.stdout
    # The Madeira shop has its own register and series.
    assert any("Madeira" in line and "FS 02P" in line for line in rows), result.stdout
    # Nothing left behind: the embedded run used a temporary data dir.
    assert not (tmp_path / "var").exists()
