"""Network namespaces as hosts: one bridge namespace (the switch) and one namespace per host.

Addresses come from 198.18.0.0/15, the range reserved for network benchmarks (RFC 2544), and
exist only inside these namespaces: no namespace has a route out, so no packet can leave them.
Everything made here is removed by ``teardown`` (always called, even after a failure).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

SUBNET = "198.18.13"
PREFIX = "kv13"


@dataclass(frozen=True)
class Host:
    name: str  # short: data, recv, sim, w1...
    octet: int

    @property
    def ns(self) -> str:
        return f"{PREFIX}-{self.name}"

    @property
    def address(self) -> str:
        return f"{SUBNET}.{self.octet}"

    @property
    def exec(self) -> list[str]:
        return ["ip", "netns", "exec", self.ns]

    @property
    def switch_port(self) -> str:
        return f"{PREFIX}{self.name}s"  # the veth end on the bridge (names are at most 15 characters)


SWITCH = f"{PREFIX}-sw"


def _ip(*args: str, ns: str | None = None, check: bool = True) -> None:
    argv = ["ip", "netns", "exec", ns, "ip", *args] if ns else ["ip", *args]
    subprocess.run(argv, check=check, capture_output=True, text=True)


def setup(hosts: list[Host]) -> None:
    _ip("netns", "add", SWITCH)
    _ip("link", "add", "br0", "type", "bridge", ns=SWITCH)
    _ip("link", "set", "br0", "up", ns=SWITCH)
    for host in hosts:
        _ip("netns", "add", host.ns)
        _ip("link", "set", "lo", "up", ns=host.ns)
        # Created inside the host's namespace, then one end moved to the switch: nothing in the
        # machine's own namespace, not even for a moment.
        _ip("link", "add", "eth0", "type", "veth", "peer", "name", host.switch_port, ns=host.ns)
        _ip("link", "set", host.switch_port, "netns", SWITCH, ns=host.ns)
        _ip("addr", "add", f"{host.address}/24", "dev", "eth0", ns=host.ns)
        _ip("link", "set", "eth0", "up", ns=host.ns)
        _ip("link", "set", host.switch_port, "master", "br0", ns=SWITCH)
        _ip("link", "set", host.switch_port, "up", ns=SWITCH)


def cut(host: Host) -> None:
    """Unplug the host's cable at the switch: its connections hang, as in a real partition."""
    _ip("link", "set", host.switch_port, "down", ns=SWITCH)


def restore(host: Host) -> None:
    _ip("link", "set", host.switch_port, "up", ns=SWITCH)


def teardown(hosts: list[Host]) -> None:
    for host in hosts:
        _ip("netns", "del", host.ns, check=False)  # removes its veth pair too
    _ip("netns", "del", SWITCH, check=False)


@contextmanager
def network(hosts: list[Host]) -> Iterator[list[Host]]:
    teardown(hosts)  # leftovers of an interrupted run
    try:
        setup(hosts)
        yield hosts
    finally:
        teardown(hosts)
