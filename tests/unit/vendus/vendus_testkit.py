"""Shared constants and helpers of the Vendus client tests (imported by conftest and tests)."""

from __future__ import annotations

import responses

BASE = "http://vendus.test/ws/v1.1/"
API_KEY = "vk_live_S3CRET-do-not-leak-9f8e7d"
NO_DATA = {"errors": [{"code": "A001", "message": "No data"}]}


def url(path: str) -> str:
    return BASE + path


def no_data(rsps: responses.RequestsMock, path: str) -> None:
    """Register Vendus' empty-result answer (404 A001 "No data") for a GET."""
    rsps.add(responses.GET, url(path), status=404, json=NO_DATA)


class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
