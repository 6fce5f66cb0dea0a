"""The linked services end to end over real HTTP: a `cityhub serve` process with auth on, the
agency simulator filing 119, 112 and vulnerable-people requests (plain JSON, message form and
the `cityhub agency` command), and the platform simulator receiving the forwarded events."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from cityhub.sim.agencies import Agency, PlatformLog
from tests.ops.test_forward import Platform, until
from tests.ops.test_linked import SCENE, T, city
from tests.test_cli import Server, run

pytestmark = pytest.mark.anyio


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Server, Platform]]:
    """A hub forwarding to a platform simulator."""
    platform = Platform(PlatformLog())
    monkeypatch.setenv("CITYHUB_FORWARD_URL", platform.url)
    monkeypatch.setenv("CITYHUB_FORWARD_API_KEY", "any")
    srv = Server("--data-dir", str(tmp_path / "data"), "--auth", "on")
    yield srv, platform
    srv.stop()
    platform.stop()


async def test_agencies_over_http(world: tuple[Server, Platform]) -> None:
    srv, platform = world
    found = re.search(r"password: (\S+)", srv.output())
    assert found, srv.output()
    async with httpx.AsyncClient(base_url=srv.url, timeout=10) as c:
        r = await c.post(
            "/cityhub/v1/auth/login", json={"username": "admin", "password": found.group(1)}
        )
        admin = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = await c.post("/ngsi-ld/v1/entityOperations/upsert", json=city(), headers=admin | T)
        assert r.status_code == 201, r.text
        keys = {}
        for name in ("fire119", "police112", "welfare"):
            grant = {"role": "agency", "tenant": "gwacheon"}
            r = await c.post(
                "/cityhub/v1/users", json={"name": name, "grants": [grant]}, headers=admin
            )
            assert r.status_code == 201, r.text
            login = await c.post(
                "/cityhub/v1/auth/login", json={"username": name, "password": r.json()["password"]}
            )
            auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
            key = await c.post("/cityhub/v1/apikeys", json={"label": "center system"}, headers=auth)
            keys[name] = key.json()["key"]
        # 119 in plain JSON: route, arrival
        fire = Agency(srv.url, "119-dispatch", keys["fire119"], "gwacheon")
        r = await fire.request(c, *SCENE, reference="F-1", place="별양동 상가")
        assert r.status_code == 201, r.text
        filed = r.json()
        assert filed["route"]["station"]["name"] == "과천소방서" and filed["grants"]
        assert (await fire.arrived(c, filed["id"])).status_code == 200
        # 112 video in the message form
        police = Agency(srv.url, "112-video", keys["police112"], "gwacheon", "P1100000000")
        answer = await police.message(c, *SCENE, "20261130120000001", "강도 신고", "별양동")
        assert answer["result"] == "0", answer
        assert answer["data"]["agency"] == "police112" and len(answer["data"]["grants"]) == 2
    # welfare through the command line, with a telecom fix of the phone
    env = {"CITYHUB_AGENCY_KEY": keys["welfare"]}
    done = await asyncio.to_thread(
        run,
        *("agency", "request", "--url", srv.url, "--tenant", "gwacheon"),
        *("--service", "vulnerable", "--lon", str(SCENE[0]), "--lat", str(SCENE[1])),
        *("--telecom", "30", "--seed", "7"),
        env=env,
    )
    assert done.returncode == 0, done.stderr
    printed = orjson.loads(done.stdout)
    assert printed["service"] == "vulnerable" and printed["agency"] == "welfare"
    # the platform received the three events, with their service codes
    await until(lambda: len(platform.log.events) >= 3)
    codes = sorted(m["body"]["evtId"] for m in platform.log.events)
    assert codes == ["LNK112VID", "LNK119DSP", "LNKVULN"], codes
