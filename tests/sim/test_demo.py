"""The demo city in a hub: written once on both backends with every service set up, and
`cityhub demo` over real HTTP — the city is there, the dashboard answers, a second run resumes
without writing it again."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from cityhub.services.catalog import SERVICES
from cityhub.settings import Settings
from cityhub.sim.city import COUNTS
from cityhub.sim.demo import seed
from tests.auth.test_access import _hub
from tests.test_cli import CITYHUB, free_port

pytestmark = pytest.mark.anyio


async def test_seeded_once_with_the_services_set_up(settings: Settings) -> None:
    async for hub in _hub(settings):
        app_hub = hub.client._transport.app.state.hub  # type: ignore[attr-defined]
        written = await seed(app_hub, 11)
        assert written > 2000
        assert await seed(app_hub, 11) == 0  # there already: nothing written
        admin = await hub.login("admin", hub.admin_password)
        r = await hub.client.get(
            "/ngsi-ld/v1/entities",
            params={"type": "CCTVCamera", "count": "true", "limit": 1},
            headers=admin,
        )
        assert r.headers["NGSILD-Results-Count"] == str(COUNTS["CCTVCamera"])
        rules = {r["id"] for r in (await hub.client.get("/cityhub/v1/rules", headers=admin)).json()}
        expected = {doc["id"] for s in SERVICES.values() for doc in s.rules}
        assert expected and expected <= rules


class Demo:
    """A `cityhub demo` process on a free port (more flags in ``args``)."""

    def __init__(self, data: Path, *args: str, auth: str = "on") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.out = tempfile.NamedTemporaryFile(prefix="cityhub-demo-", suffix=".log")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*CITYHUB, "demo", "--port", str(self.port), "--data-dir", str(data), *args],
            stdout=self.out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "CITYHUB_AUTH": auth},  # on: as a newcomer runs it
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/version", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("cityhub demo did not start: " + self.output())

    def output(self) -> str:
        return Path(self.out.name).read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.out.close()


def _count(c: httpx.Client, kind: str) -> int:
    r = c.get("/ngsi-ld/v1/entities", params={"type": kind, "count": "true", "limit": 1})
    assert r.status_code == 200, r.text
    return int(r.headers["NGSILD-Results-Count"])


def test_cityhub_demo_runs_and_resumes(tmp_path: Path) -> None:
    # no simulator: it would publish on whatever broker answers on 1883 (tests/sim/test_simulate.py
    # runs it against brokers of its own)
    demo = Demo(tmp_path / "data", "--no-simulate")
    try:
        found = re.search(r"password: (\S+)", demo.output())
        assert found and "open http://127.0.0.1" in demo.output(), demo.output()
        password = found.group(1)
        with httpx.Client(base_url=demo.url, timeout=10) as c:
            r = c.post("/cityhub/v1/auth/login", json={"username": "admin", "password": password})
            c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            deadline = time.monotonic() + 60
            while "services set up" not in demo.output():
                assert time.monotonic() < deadline, "the demo city was not written"
                time.sleep(0.5)
            assert _count(c, "District") == 6
            assert _count(c, "CareHousehold") == COUNTS["CareHousehold"]
            assert _count(c, "OffStreetParking") == COUNTS["OffStreetParking"]
            assert _count(c, "ElectricalPanel") == COUNTS["ElectricalPanel"]
            assert c.get("/").status_code == 200
            services = {s["id"] for s in c.get("/cityhub/v1/services").json()}
            assert {"parking", "air", "care", "facility", "electrical-fire"} <= services
    finally:
        demo.stop()
    again = Demo(tmp_path / "data", "--no-simulate")
    try:
        assert "password:" not in again.output()  # shown once, on the first start
        with httpx.Client(base_url=again.url, timeout=10) as c:
            r = c.post("/cityhub/v1/auth/login", json={"username": "admin", "password": password})
            c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            time.sleep(1.0)
            assert _count(c, "CCTVCamera") == COUNTS["CCTVCamera"]  # not written twice
            assert "services set up" not in again.output()  # nothing seeded the second time
    finally:
        again.stop()
