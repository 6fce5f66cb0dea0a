"""`cityhub simulate` against a running demo hub, end to end: measures over a real Mosquitto and
over HTTP update the demo entities (seen through the NGSI-LD API), bus sightings reach the
enforcement service; and `cityhub demo` with no broker reachable starts an embedded one that the
measures arrive through."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from cityhub.sim.broker import answers
from tests.mqttserver import Mosquitto, MqttUnavailable, _binary, _required
from tests.sim.test_demo import Demo
from tests.test_cli import CITYHUB, free_port

AIR = "/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:demo-1"


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    """A Mosquitto of the module's own: no other hub takes (or sends) measures on it."""
    try:
        mosquitto = Mosquitto(_binary())
        mosquitto.start()
    except MqttUnavailable as err:
        if _required():
            raise
        pytest.skip(f"no mosquitto: {err}")
    yield f"mqtt://127.0.0.1:{mosquitto.port}"
    mosquitto.stop()


@pytest.fixture(scope="module")
def hub(broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo city in a hub taking measures from the module's broker (its own simulator
    off), once its devices are provisioned."""
    demo = Demo(
        tmp_path_factory.mktemp("demo") / "data", "--mqtt", broker, "--no-simulate", auth="off"
    )
    try:
        _until(lambda: "devices provisioned" in demo.output(), 60, demo.output)
        yield demo
    finally:
        demo.stop()


@pytest.fixture
def client(hub: Demo) -> Iterator[httpx.Client]:
    """An HTTP client of the module's hub."""
    with httpx.Client(base_url=hub.url, timeout=10) as c:
        yield c


def _until(check: Callable[[], Any], seconds: float, why: Callable[[], str]) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, why()
        time.sleep(0.3)


def _simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CITYHUB, "simulate", "--speed", "3600", "--rate", "0", *args],
        capture_output=True,
        text=True,
        timeout=90,
    )


def _observed(attr: dict[str, Any] | None) -> datetime | None:
    at = (attr or {}).get("observedAt")
    return datetime.fromisoformat(at.replace("Z", "+00:00")) if at else None


def test_measures_over_mosquitto_update_the_demo_city(
    hub: Demo, broker: str, client: httpx.Client
) -> None:
    c = client
    assert _observed(c.get(AIR).json()["pm10"]) is None  # as seeded
    started = datetime.now(UTC) - timedelta(seconds=1)
    run = _simulate(
        "--url",
        hub.url,
        "--mqtt",
        broker,
        "--duration",
        "4",
        "--start",
        "2026-03-02T08:00:00+09:00",
    )
    assert run.returncode == 0, run.stderr
    assert f"measures over MQTT {broker}" in run.stderr
    summary = run.stderr.strip().splitlines()[-1]
    assert "sent" in summary and "spot" in summary and "sightings" in summary, run.stderr
    assert "Traceback" not in run.stderr

    sent = {k: int(n) for k, n in re.findall(r"(\w+) (\d+)[,)]", summary)}
    published = sum(n for kind, n in sent.items() if kind != "sightings")
    assert published > 500, summary

    def arrived() -> bool:  # the hub has taken every message published
        return bool(c.get("/cityhub/v1/status").json()["mqttIngest"]["taken"] >= published)

    _until(arrived, 30, hub.output)
    air = c.get(AIR).json()
    at = _observed(air["pm10"])
    assert at is not None and started <= at <= datetime.now(UTC)  # stamped when sent
    assert air["pm10"]["unitCode"] == "GQ" and air["pm10"]["value"] > 0
    spots = c.get(
        "/ngsi-ld/v1/entities", params={"type": "ParkingSpot", "attrs": "status", "limit": 1000}
    ).json()
    reported = [s for s in spots if (_observed(s["status"]) or started) > started]
    assert len(reported) > 100  # each spot reports in its first half hour, then on changes
    lot = c.get("/ngsi-ld/v1/entities/urn:ngsi-ld:OffStreetParking:demo-1").json()
    assert _observed(lot["occupiedSpotNumber"]) is not None
    panel = c.get("/ngsi-ld/v1/entities/urn:ngsi-ld:ElectricalPanel:demo-1").json()
    assert _observed(panel["leakageCurrent"]) is not None and panel["arcEvents"]["value"] == 0
    assert c.get("/iot/dead-letters/counts").json() == []  # every message was taken
    cases = c.get("/cityhub/v1/parking/enforcement/cases").json()
    assert cases, "the bus sightings opened no enforcement case"


def test_measures_over_http_when_there_is_no_broker(hub: Demo, client: httpx.Client) -> None:
    c = client
    taken = c.get("/cityhub/v1/status").json()["mqttIngest"]["taken"]
    started = datetime.now(UTC) - timedelta(seconds=1)
    run = _simulate(
        "--url",
        hub.url,
        "--mqtt",
        "none",
        "--duration",
        "3",
        "--start",
        "2026-03-02T13:00:00+09:00",
    )
    assert run.returncode == 0, run.stderr
    assert f"measures over HTTP {hub.url}/iot/json" in run.stderr
    # HTTP measures are written before the answer: no waiting
    spots = c.get(
        "/ngsi-ld/v1/entities", params={"type": "ParkingSpot", "attrs": "status", "limit": 1000}
    ).json()
    assert len([s for s in spots if (_observed(s["status"]) or started) > started]) > 50
    crosswalks = c.get(
        "/ngsi-ld/v1/entities", params={"type": "CrosswalkObserved", "attrs": "vehicleCount"}
    ).json()
    counted = [x for x in crosswalks if (_observed(x.get("vehicleCount")) or started) > started]
    assert counted and all(x["vehicleCount"]["value"] >= 0 for x in counted)
    assert c.get("/cityhub/v1/status").json()["mqttIngest"]["taken"] == taken  # not MQTT


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_ctrl_c_ends_with_a_summary(hub: Demo, sig: int) -> None:
    proc = subprocess.Popen(
        [*CITYHUB, "simulate", "--url", hub.url, "--mqtt", "none", "--speed", "600"],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    first = ""
    while not first.startswith("simulated "):  # a progress line every 5 s
        first = proc.stderr.readline()
        assert first, "it ended without progress"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("simulated ") and " sent " in last and "Traceback" not in err


def test_no_hub_is_a_clear_error() -> None:
    run = _simulate("--url", f"http://127.0.0.1:{free_port()}", "--mqtt", "none", "--duration", "2")
    assert run.returncode == 1
    assert "cannot reach the hub" in run.stderr and "Traceback" not in run.stderr


def test_demo_with_no_broker_starts_an_embedded_one(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there: the demo starts a broker of its own on it
    demo = Demo(tmp_path / "data", "--mqtt", f"mqtt://127.0.0.1:{port}", "--speed", "3600")
    with contextlib.ExitStack() as stack:
        stack.callback(demo.stop)
        assert f"embedded broker at mqtt://127.0.0.1:{port}" in demo.output(), demo.output()
        assert answers("127.0.0.1", port)
        _until(lambda: "password: " in demo.output(), 30, demo.output)
        password = demo.output().split("password: ", 1)[1].split()[0]
        c = httpx.Client(base_url=demo.url, timeout=10)
        stack.callback(c.close)
        r = c.post("/cityhub/v1/auth/login", json={"username": "admin", "password": password})
        c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"

        def reported() -> list[dict[str, Any]]:
            stations = c.get(
                "/ngsi-ld/v1/entities", params={"type": "AirQualityObserved", "attrs": "pm10"}
            ).json()
            return [s for s in stations if _observed(s.get("pm10"))]

        assert _until(reported, 30, demo.output)
        assert c.get("/cityhub/v1/status").json()["mqttIngest"]["taken"] > 0  # through MQTT
        users = {u["name"] for u in c.get("/cityhub/v1/users").json()}
        assert "demo-bus-cameras" in users  # the simulator's sightings have a key of their own
        demo.proc.send_signal(signal.SIGINT)  # Ctrl-C
        demo.proc.wait(timeout=30)
        assert "simulator: simulated" in demo.output()  # its summary
        assert not answers("127.0.0.1", port)  # the embedded broker stopped with it
        assert "Traceback" not in demo.output()
