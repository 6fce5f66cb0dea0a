"""`cityhub scenario` against a real `cityhub demo` (access control on, as a newcomer runs it):
each scripted incident, run through the command line, exits 0, and what it should have made
happen is checked independently through the public API — events and their SOPs, linked-service
requests, camera shares, violations, alerts, agency inboxes, entity history. A hub without the
demo city is refused with a message that says so. The demo's own sensor simulator may be
sending meanwhile: the checks look for what the scenario made, not for a quiet hub."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cityhub.sim.city import generate
from tests.test_cli import CITYHUB, Server, free_port

pytestmark = pytest.mark.slow


class DemoHub:
    """A `cityhub demo` process with the demo city written, and an admin token for it."""

    def __init__(self, data: Path, **env: str) -> None:
        self.data = data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.out = tempfile.NamedTemporaryFile(prefix="cityhub-demo-", suffix=".log")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*CITYHUB, "demo", "--port", str(self.port), "--data-dir", str(data)],
            stdout=self.out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "CITYHUB_AUTH": "on", **env},
        )
        try:
            self._wait(lambda: "services set up" in self.output(), "the demo city was not written")
            found = re.search(r"password: (\S+)", self.output())
            assert found, self.output()
            r = httpx.post(
                self.url + "/cityhub/v1/auth/login",
                json={"username": "admin", "password": found.group(1)},
                timeout=10,
            )
            self.token = r.json()["access_token"]
        except BaseException:
            self.stop()
            raise
        self.api = httpx.Client(
            base_url=self.url, timeout=30, headers={"Authorization": f"Bearer {self.token}"}
        )

    def _wait(self, ready: Any, why: str) -> None:
        deadline = time.monotonic() + 90
        while not ready():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"{why}: {self.output()[-3000:]}")
            time.sleep(0.3)

    def output(self) -> str:
        return Path(self.out.name).read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if getattr(self, "api", None) is not None:
            self.api.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.out.close()

    def get(self, path: str, **params: Any) -> Any:
        r = self.api.get(path, params=params)
        assert r.status_code == 200, (path, r.text)
        return r.json()

    def events(self, code: str) -> dict[str, dict[str, Any]]:
        return {e["id"]: e for e in self.get("/cityhub/v1/events", eventCode=code, limit=1000)}

    def inbox(self, agency: str) -> set[str]:
        return {m["eventId"] for m in self.get("/cityhub/v1/inbox", agency=agency, limit=500)}

    def scenario(self, name: str) -> subprocess.CompletedProcess[str]:
        """Run `cityhub scenario <name>` against this hub to the end."""
        args = ["scenario", name, "--url", self.url, "--key", self.token, "--timeout", "100"]
        return subprocess.run(
            [*CITYHUB, *args], capture_output=True, text=True, timeout=300, env=os.environ.copy()
        )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoHub]:
    """One `cityhub demo` for the module, in a temporary data directory."""
    hub = DemoHub(tmp_path_factory.mktemp("scenarios") / "data")
    yield hub
    hub.stop()


def _ok(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 0, out.stdout + out.stderr
    assert "the whole flow completed" in out.stdout
    assert "Traceback" not in out.stderr
    return out.stdout


def test_the_city_is_alive(demo: DemoHub) -> None:
    """The demo's simulator feeds the city's devices: spots and stations change through the
    ingest gateway while the hub runs, and its provisioned sensors report."""

    def stamps(kind: str) -> dict[str, str]:
        found = demo.get("/ngsi-ld/v1/entities", type=kind, limit=1000, options="sysAttrs")
        return {e["id"]: e["modifiedAt"] for e in found}

    before = {kind: stamps(kind) for kind in ("ParkingSpot", "AirQualityObserved")}
    deadline = time.monotonic() + 60
    changed: dict[str, int] = {}
    while time.monotonic() < deadline:
        time.sleep(2)
        for kind, was in before.items():
            now = stamps(kind)
            changed[kind] = sum(1 for i, at in now.items() if was.get(i) not in (None, at))
        if all(changed.values()):
            break
    assert all(changed.values()), changed
    devices = demo.get("/cityhub/v1/devices/silent", after=3600, limit=0)
    assert devices["devices"] > 900 and devices["silent"] < devices["devices"]


def test_fire(demo: DemoHub) -> None:
    before = {r["id"] for r in demo.get("/cityhub/v1/linked/requests", service="119-dispatch")}
    out = _ok(demo.scenario("fire"))
    assert "illegally parked on the way" in out and "the unit arrived" in out
    new = [
        r
        for r in demo.get("/cityhub/v1/linked/requests", service="119-dispatch")
        if r["id"] not in before
    ]
    assert len(new) == 1, new
    request = new[0]
    assert request["agency"] == "fire119" and request["arrivedAt"]
    assert request["grants"] and all(g["agency"] == "fire119" for g in request["grants"])
    route = request["route"]
    assert route["lengthM"] > 0 and route["hydrants"]
    parked = [p["id"] for p in route["illegallyParked"]]
    assert any(p.startswith("urn:ngsi-ld:ParkingViolation:") for p in parked)
    towed = [demo.get(f"/ngsi-ld/v1/entities/{p}", options="keyValues") for p in parked]
    assert any(v["status"] == "cleared" and v.get("vehicleLeftAt") for v in towed)
    event = demo.get(f"/cityhub/v1/events/{request['eventId']}")
    assert event["linkedService"] == "119-dispatch" and event["arrivedAt"]
    assert event["sop"]["template"] == "119-dispatch"
    assert request["eventId"] in demo.inbox("fire119")


def test_missing_child(demo: DemoHub) -> None:
    before = {c["id"] for c in demo.get("/cityhub/v1/care/missing")}
    _ok(demo.scenario("missing-child"))
    new = [c for c in demo.get("/cityhub/v1/care/missing") if c["id"] not in before]
    assert len(new) == 1
    case = demo.get(f"/cityhub/v1/care/missing/{new[0]['id']}")
    assert case["status"] == "found" and case["kind"] == "child"
    assert case["agency"] == "police112" and len(case["locations"]) == 2
    assert case["grants"] and all(g["revokedAt"] for g in case["grants"])
    event = demo.get(f"/cityhub/v1/events/{case['eventId']}")
    assert event["status"] == "completed" and event["sop"]["template"] == "vulnerable"
    assert case["eventId"] in demo.inbox("police112")


def test_fine_dust(demo: DemoHub) -> None:
    before = set(demo.events("ENV0010")) | set(demo.events("ENV0011"))
    out = _ok(demo.scenario("fine-dust"))
    assert "주의보 issued" in out and "경보 issued" in out and "해제" in out
    advisories = [e for i, e in demo.events("ENV0010").items() if i not in before]
    warnings = [e for i, e in demo.events("ENV0011").items() if i not in before]
    assert advisories and len(warnings) == 1
    assert all(e["status"] == "cleared" for e in advisories + warnings)
    assert warnings[0]["severity"] == "critical" and warnings[0]["sop"]["template"] == "fine-dust"
    district = next(i["val"] for i in warnings[0]["eventItems"] if i["key"] == "district")
    shown = next(d for d in demo.get("/cityhub/v1/air/districts") if d["id"] == district)
    assert not [a for a in shown["alerts"] if a["pollutant"] == "pm10"]  # lifted
    assert advisories[0]["id"] in demo.inbox("environment")


def test_flood(demo: DemoHub) -> None:
    before = set(demo.events("DIS0100")) | set(demo.events("DIS0101"))
    out = _ok(demo.scenario("flood"))
    assert "river at its alert level" in out
    river = [e for i, e in demo.events("DIS0100").items() if i not in before]
    evacuate = [e for i, e in demo.events("DIS0101").items() if i not in before]
    assert river and evacuate
    assert all(e["status"] == "cleared" for e in river + evacuate)
    assert river[0]["sop"]["template"] == "flood" and river[0]["category"] == "flood"
    assert evacuate[0]["sop"]["template"] == "riverside-evacuation"
    assert evacuate[0]["severity"] == "critical"
    assert river[0]["id"] in demo.inbox("disaster-center")
    assert evacuate[0]["id"] in demo.inbox("traffic")
    gauge = next(e["id"] for e in generate() if e["type"] == "FloodMonitoring")
    history = demo.get(
        f"/ngsi-ld/v1/temporal/entities/{gauge}",
        attrs="currentLevel",
        timerel="after",
        timeAt="2000-01-01T00:00:00Z",
        options="temporalValues",
    )
    levels = [v[0] for v in history["currentLevel"]["values"]]
    assert 3.7 in levels and 2.4 in levels  # the entity took the gauge's readings


def test_elderly_no_activity(demo: DemoHub) -> None:
    before = {a["id"] for a in demo.get("/cityhub/v1/care/alerts", state="all", limit=1000)}
    out = _ok(demo.scenario("elderly-no-activity"))
    assert "119 request" in out
    new = [
        a
        for a in demo.get("/cityhub/v1/care/alerts", state="all", limit=1000)
        if a["id"] not in before and a["kind"] == "inactivity" and a["endedAt"]
    ]
    assert new, "no inactivity alert filed and ended"
    request = demo.get(f"/cityhub/v1/linked/requests/{new[0]['requestId']}")
    assert request["agency"] == "fire119" and request["arrivedAt"]
    event = demo.get(f"/cityhub/v1/events/{request['eventId']}")
    assert event["eventCode"] == "CARE0101" and event["category"] == "emergencyMedical"
    assert event["conditionEndedAt"] and event["refRelatedEntity"] == new[0]["household"]
    assert event["sop"]["template"] == "119-dispatch"


def test_elderly_no_activity_when_every_home_moved_lately(demo: DemoHub) -> None:
    """With every household active within hours (a live demo), the care worker watches the
    quietest one closer for the scenario, and sets it back after."""
    three_hours_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3 * 3600))
    motion = {"type": "Property", "value": True, "observedAt": three_hours_ago}
    sensors = [e["id"] for e in generate() if e["id"].startswith("urn:ngsi-ld:Device:demo-motion")]
    r = demo.api.post(
        "/ngsi-ld/v1/entityOperations/update",
        json=[{"id": s, "type": "Device", "motionDetected": motion} for s in sensors],
    )
    assert r.status_code == 204, r.text
    out = _ok(demo.scenario("elderly-no-activity"))
    watched = re.search(r"household (GC-\d+) has been quiet since .* inactivityHours (\d+)", out)
    assert watched and watched.group(2) in ("2", "3"), out
    number = int(watched.group(1).removeprefix("GC-"))
    home = demo.get(
        f"/ngsi-ld/v1/entities/urn:ngsi-ld:CareHousehold:demo-{number}", options="keyValues"
    )
    assert home["inactivityHours"] == 12  # set back


def test_facility_tilt(demo: DemoHub) -> None:
    before = set(demo.events("FAC0101"))
    _ok(demo.scenario("facility-tilt"))
    new = [e for i, e in demo.events("FAC0101").items() if i not in before]
    worst = [e for e in new if e.get("eventGrade") == "E"]
    assert worst and worst[0]["severity"] == "critical"
    assert worst[0]["sop"]["template"] == "facility-alarm"
    facility = next(i["val"] for i in worst[0]["eventItems"] if i["key"] == "facility")
    graded = demo.get("/cityhub/v1/facilities", grade="E")["facilities"]
    assert facility in {f["id"] for f in graded}
    assert worst[0]["id"] in demo.inbox("facility-manager")


def test_hydrant_parking(demo: DemoHub) -> None:
    before = set(demo.events("TRF0105"))
    out = _ok(demo.scenario("hydrant-parking"))
    plate = re.search(r"\]\s+(\S+) stops in", out)
    assert plate, out
    cases = demo.get("/cityhub/v1/parking/enforcement/cases", plate=plate.group(1))
    violations = [c for c in cases if c.get("violation")]
    assert len(violations) == 1 and violations[0]["zone"]["category"] == "hydrant"
    assert violations[0]["notice"]["status"] == "sent"  # the demo city texts in hydrant zones
    violation = demo.get(
        f"/ngsi-ld/v1/entities/{violations[0]['violation']['id']}", options="keyValues"
    )
    assert violation["status"] == "cleared" and violation["fineAmount"] == 80000
    new = [e for i, e in demo.events("TRF0105").items() if i not in before]
    mine = [e for e in new if e.get("refRelatedEntity") == violation["id"]]
    assert mine and mine[0]["sop"]["template"] == "parking-hydrant"
    assert mine[0]["id"] in demo.inbox("fire119")
    assert "SMS pre-notice sent to 010-****-" in out, out
    lines = (demo.data / "sms.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines]
    wanted = f"{plate.group(1)} 차량이 단속구역 1(즉시 단속 구역)에서 단속되었습니다"
    assert any(wanted in t for t in texts), texts


def test_hydrant_parking_where_the_city_does_not_notify_immediate_zones(tmp_path: Path) -> None:
    """A city that sends no SMS in immediate zones (parking_notice_immediate off): the first
    bus pass is the violation, no notice goes out, and the scenario says why."""
    hub = DemoHub(tmp_path / "data", CITYHUB_PARKING_NOTICE_IMMEDIATE="false")
    try:
        out = _ok(hub.scenario("hydrant-parking"))
        plate = re.search(r"\]\s+(\S+) stops in", out)
        assert plate and "no SMS pre-notice: an immediate zone" in out, out
        cases = hub.get("/cityhub/v1/parking/enforcement/cases", plate=plate.group(1))
        assert [c["notice"]["status"] for c in cases if c.get("violation")] == ["off"]
        sms = tmp_path / "data" / "sms.jsonl"
        assert not sms.exists() or plate.group(1) not in sms.read_text(encoding="utf-8")
    finally:
        hub.stop()


def test_list_and_usage() -> None:
    listed = subprocess.run(
        [*CITYHUB, "scenario", "--list"], capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0
    names = {line.split()[0] for line in listed.stdout.splitlines()}
    assert names == {
        "fire",
        "missing-child",
        "fine-dust",
        "flood",
        "elderly-no-activity",
        "facility-tilt",
        "hydrant-parking",
    }
    wrong = subprocess.run(
        [*CITYHUB, "scenario", "earthquake"], capture_output=True, text=True, timeout=60
    )
    assert wrong.returncode == 2 and "'earthquake' is not one of" in wrong.stderr


def test_a_hub_without_the_demo_city(tmp_path: Path) -> None:
    server = Server("--data-dir", str(tmp_path / "data"), "--auth", "off")
    try:
        out = subprocess.run(
            [*CITYHUB, "scenario", "fire", "--url", server.url, "--timeout", "20"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.stop()
    assert out.returncode == 1
    assert "holds no demo city" in out.stderr and "cityhub demo" in out.stderr
    assert "Traceback" not in out.stderr
