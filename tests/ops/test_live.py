"""The live event feed (server-sent events) over a real socket: what a dashboard sees, and its
filters."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.test_cli import Server

pytestmark = pytest.mark.slow
EV = "/cityhub/v1/events"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A hub process (auth off)."""
    srv = Server("--data-dir", str(tmp_path_factory.mktemp("live")))
    yield srv
    srv.stop()


class Listener:
    """A dashboard's stream, read in a thread: the events it received, with their arrival."""

    def __init__(self, url: str, params: dict[str, str]) -> None:
        self.got: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self.ready = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url, params), daemon=True)
        self._thread.start()
        assert self.ready.wait(10), "the stream did not open"

    def _read(self, url: str, params: dict[str, str]) -> None:
        try:
            with httpx.Client(timeout=None) as c, c.stream("GET", url, params=params) as r:
                assert r.headers["content-type"].startswith("text/event-stream")
                self.ready.set()
                kind = ""
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: ") and kind == "cityevent":
                        self.got.put((time.monotonic(), json.loads(line[6:])))
        except httpx.TransportError:
            pass  # the hub stopped at the end of the tests

    def next_for(self, event_id: str, timeout_s: float = 10.0) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while True:
            at, event = self.got.get(timeout=max(0.01, deadline - time.monotonic()))
            if event["id"] == event_id:
                return at, event

    def nothing_for(self, event_id: str, wait_s: float = 1.5) -> bool:
        try:
            self.next_for(event_id, wait_s)
        except queue.Empty:
            return True
        return False


def _event(code: str, severity: str, lon: float) -> dict[str, Any]:
    return {
        "eventCode": code,
        "eventName": code,
        "severity": severity,
        "location": {"type": "Point", "coordinates": [lon, 37.43]},
    }


def test_dashboard_sees_changes_as_they_happen(hub: Server) -> None:
    everything = Listener(f"{hub.url}{EV}/stream", {})
    severe_near = Listener(
        f"{hub.url}{EV}/stream", {"minSeverity": "high", "bbox": "126.9,37.4,127.1,37.5"}
    )
    c = httpx.Client(base_url=hub.url, timeout=10)
    sent = time.monotonic()
    fire = c.post(EV, json=_event("FIRE0001", "high", 126.99)).json()
    at, seen = everything.next_for(fire["id"])
    assert seen["status"] == "occurred" and seen["op"] == "create"
    assert at - sent < 2.0
    assert severe_near.next_for(fire["id"])[1]["severity"] == "high"
    c.post(f"{EV}/{fire['id']}/transitions", json={"to": "acknowledged"})
    assert everything.next_for(fire["id"])[1]["status"] == "acknowledged"
    # filtered out: too mild, or elsewhere
    mild = c.post(EV, json=_event("ENV0025", "low", 126.99)).json()
    far = c.post(EV, json=_event("FIRE0002", "critical", 129.07)).json()  # Busan
    assert everything.next_for(far["id"])[1]["eventCode"] == "FIRE0002"
    assert severe_near.nothing_for(mild["id"]) and severe_near.nothing_for(far["id"])
    c.close()


def test_bad_filters(hub: Server) -> None:
    c = httpx.Client(base_url=hub.url, timeout=10)
    for params in ({"bbox": "1,2,3"}, {"minSeverity": "extreme"}):
        r = c.get(f"{EV}/stream", params=params)
        assert r.status_code == 400 and r.json()["type"].endswith("BadRequestData")
    c.close()


def test_streams_do_not_leak_across_tenants(hub: Server) -> None:
    seoul = Listener(f"{hub.url}{EV}/stream", {})  # the default tenant
    c = httpx.Client(base_url=hub.url, timeout=10)
    other = c.post(EV, json=_event("FIRE0003", "high", 126.99), headers={"NGSILD-Tenant": "busan"})
    assert other.status_code == 201
    assert seoul.nothing_for(other.json()["id"])
    c.close()
