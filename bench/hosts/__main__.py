"""``python -m bench.hosts`` (as root): the pipeline on several hosts made of network namespaces.

Makes the namespaces (``netns``), runs ``drive`` inside the receiver's namespace, and removes
every namespace afterwards, also after a failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.chaos.e2e import REPO
from bench.common import stop_cleanly_on_sigterm
from bench.hosts.netns import Host, network


def main(argv: list[str] | None = None) -> int:
    stop_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m bench.hosts", description=__doc__)
    parser.add_argument("--worker-hosts", type=int, default=3, choices=(2, 3))
    parser.add_argument("--log-dir", type=Path)
    args, rest = parser.parse_known_args(argv)
    if os.geteuid() != 0:
        print("bench.hosts needs root: it creates network namespaces (ip netns)", file=sys.stderr)
        return 2
    layout = {"data": 2, "recv": 3, "sim": 4, **{f"w{i}": 10 + i for i in range(1, args.worker_hosts + 1)}}
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="kapta-hosts-"))
    print(f"logs in {log_dir}; load average {os.getloadavg()[0]:.2f}", flush=True)
    hosts = [Host(name, octet) for name, octet in layout.items()]
    with network(hosts):
        recv = next(h for h in hosts if h.name == "recv")
        command = [*recv.exec, sys.executable, "-m", "bench.hosts.drive", "--hosts", json.dumps(layout),
                   "--log-dir", str(log_dir), *rest]
        return subprocess.run(command, cwd=REPO).returncode


if __name__ == "__main__":
    sys.exit(main())
