"""No notification is lost: acknowledged updates reach the subscriber across a kill -9."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_cli import Server, free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


class Receiver:
    """The benchmark's webhook receiver (bench/notify_receiver.py) as a process."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.notify_receiver:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/stats", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("receiver did not start")

    def values(self) -> list[int]:
        return [r[1] for r in httpx.get(self.url + "/records", timeout=10).json()]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def receiver_port() -> Iterator[int]:
    yield free_port()


def test_notifications_of_acknowledged_updates_survive_kill_9(
    tmp_path: Path, receiver_port: int
) -> None:
    data = str(tmp_path / "data")
    srv = Server("--data-dir", data)
    lot = "urn:ngsi-ld:Lot:1"
    try:
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            assert c.post("/ngsi-ld/v1/entities", json={"id": lot, "type": "Lot", "value": 0})
            r = c.post(
                "/ngsi-ld/v1/subscriptions",
                json={
                    "type": "Subscription",
                    "entities": [{"type": "Lot"}],
                    "watchedAttributes": ["value"],
                    "notification": {
                        # nobody listens there yet: every delivery fails until after the crash
                        "endpoint": {"uri": f"http://127.0.0.1:{receiver_port}/notify"},
                        "format": "keyValues",
                        "attributes": ["value"],
                    },
                },
            )
            assert r.status_code == 201
            for v in range(1, 101):
                r = c.patch(f"/ngsi-ld/v1/entities/{lot}/attrs/value", json={"value": v})
                assert r.status_code == 204
    finally:
        srv.stop(signal.SIGKILL)
    receiver = Receiver(receiver_port)
    again = Server("--data-dir", data)
    try:
        deadline = time.monotonic() + 60
        values: list[int] = []
        while time.monotonic() < deadline:
            values = receiver.values()
            if len(set(values)) >= 100:
                break
            time.sleep(0.3)
        assert sorted(set(values)) == list(range(1, 101))  # none lost
        firsts = [values.index(v) for v in range(1, 101)]
        assert firsts == sorted(firsts)  # and in the order of the updates
    finally:
        again.stop()
        receiver.stop()
