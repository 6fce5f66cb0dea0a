"""Helpers for the dashboard's browser tests and its benchmark: Debian's Chromium driven by
Playwright, a demo city seeded over the API, and logging in through the page.

Chromium runs headless with the flags a machine without network access needs (no background
fetches, no component updates, no sync) and a fresh profile; Playwright downloads no browser.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

#: flags for a headless Chromium on a machine with no way out (docs/dashboard.md, Testing)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
CENTER = (126.993, 37.431)  # the demo city (Gwacheon-like)
ENTITIES = "/ngsi-ld/v1/entities"


def chromium_path() -> str | None:
    """Debian's Chromium (``CITYHUB_CHROMIUM`` names another), or None when absent."""
    for candidate in (
        os.environ.get("CITYHUB_CHROMIUM"),
        shutil.which("chromium"),
        "/usr/bin/chromium",
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def launch(playwright: Any, executable: str) -> Any:
    """A headless Chromium browser (Playwright's), from ``executable``."""
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)


def token(base_url: str, user: str, password: str) -> str:
    """A login token (bearer) for API calls outside the browser."""
    r = httpx.post(
        f"{base_url}/cityhub/v1/auth/login", json={"username": user, "password": password}
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


def prop(value: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **extra}


def point(lon: float, lat: float) -> dict[str, Any]:
    return {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
    }


def parking(n: int, lon: float, lat: float, free: int, total: int, name: str) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:OffStreetParking:demo-{n}",
        "type": "OffStreetParking",
        "name": prop(name),
        "availableSpotNumber": prop(free),
        "totalSpotNumber": prop(total),
        "location": point(lon, lat),
    }


def camera(n: int, lon: float, lat: float, heading: float, name: str) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:CCTVCamera:demo-{n}",
        "type": "CCTVCamera",
        "name": prop(name),
        "heading": prop(heading),
        "fieldOfView": prop(70),
        "viewDistance": prop(80),
        "purpose": prop("crimePrevention"),
        "deviceState": prop("online"),
        "location": point(lon, lat),
    }


def hydrant(n: int, lon: float, lat: float, blocked: bool = False) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:FireHydrant:demo-{n}",
        "type": "FireHydrant",
        "name": prop(f"소화전 {n}"),
        "status": prop("inService"),
        "pressure": prop(0.35),
        "illegalParkingDetected": prop(blocked),
        "location": point(lon, lat),
    }


def air(n: int, lon: float, lat: float, pm10: float, pm25: float, name: str) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:AirQualityObserved:demo-{n}",
        "type": "AirQualityObserved",
        "name": prop(name),
        "pm10": prop(pm10),
        "pm25": prop(pm25),
        "location": point(lon, lat),
    }


def facility(n: int, lon: float, lat: float, grade: str, name: str) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Facility:demo-{n}",
        "type": "Facility",
        "name": prop(name),
        "structureType": prop("bridge"),
        "safetyGrade": prop(grade),
        "location": point(lon, lat),
    }


def panel(
    n: int, lon: float, lat: float, leakage: float, observed: str, name: str
) -> dict[str, Any]:
    """A distribution panel with an electrical-fire sensor's reading observed at ``observed``
    (the electrical service grades it and writes ``anomalyGrade``)."""
    return {
        "id": f"urn:ngsi-ld:ElectricalPanel:demo-{n}",
        "type": "ElectricalPanel",
        "name": prop(name),
        "buildingType": prop("traditionalMarket"),
        "panelType": prop("sub"),
        "leakageCurrent": prop(leakage, unitCode="4K", observedAt=observed),
        "temperature": prop(24.0, unitCode="CEL", observedAt=observed),
        "arcEvents": prop(0, observedAt=observed),
        "location": point(lon, lat),
    }


def crosswalk(n: int, lon: float, lat: float, violations: int, name: str) -> dict[str, Any]:
    """A smart crosswalk with the counts of one interval."""
    return {
        "id": f"urn:ngsi-ld:CrosswalkObserved:demo-{n}",
        "type": "CrosswalkObserved",
        "name": prop(name),
        "stopLineViolations": prop(violations),
        "vehicleCount": prop(240),
        "pedestrianCount": prop(310),
        "schoolZone": prop(True),
        "location": point(lon, lat),
    }


def violation(
    n: int, lon: float, lat: float, status: str, category: str, zone: str
) -> dict[str, Any]:
    """A parking violation (as enforcement makes them) in a zone of ``category``."""
    return {
        "id": f"urn:ngsi-ld:ParkingViolation:demo-{n}",
        "type": "ParkingViolation",
        "status": prop(status),
        "maskedPlate": prop("12가**56"),
        "zoneName": prop(zone),
        "zoneCategory": prop(category),
        "zoneType": prop("immediate"),
        "confirmedAt": prop("2026-02-11T05:05:12.000Z"),
        "fineAmount": prop(80_000, unitCode="KRW"),
        "location": point(lon, lat),
    }


def demo_city() -> list[dict[str, Any]]:
    """A small believable set: lots, cameras around the centre, hydrants, stations, bridges."""
    lots = [
        parking(1, 126.9876, 37.4292, 62, 120, "과천시청 공영주차장"),
        parking(2, 126.9990, 37.4335, 9, 80, "별양동 공영주차장"),
        parking(3, 126.9795, 37.4205, 2, 60, "문원동 공영주차장"),
        parking(4, 127.0105, 37.4280, 35, 50, "과천동 환승주차장"),
    ]
    cams = [
        camera(
            i,
            126.9876 + 0.0012 * math.cos(i),
            37.4292 + 0.0009 * math.sin(i),
            (i * 45) % 360,
            f"방범 CCTV {i}",
        )
        for i in range(1, 9)
    ]
    hydrants = [
        hydrant(1, 126.9880, 37.4301),
        hydrant(2, 126.9935, 37.4310, blocked=True),
        hydrant(3, 126.9822, 37.4258),
    ]
    stations = [
        air(1, 126.9901, 37.4330, 28, 12, "과천시청 측정소"),
        air(2, 127.0050, 37.4232, 95, 40, "과천동 측정소"),
    ]
    bridges = [
        facility(1, 126.9960, 37.4248, "B", "양재천 보도교"),
        facility(2, 126.9841, 37.4371, "D", "중앙 지하차도"),
    ]
    return [*lots, *cams, *hydrants, *stations, *bridges]


def many_features(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` entities of the five map types spread over the demo city (for the benchmark)."""
    rnd = random.Random(seed)
    out: list[dict[str, Any]] = []
    for n in range(count):
        lon = CENTER[0] + rnd.uniform(-0.03, 0.03)
        lat = CENTER[1] + rnd.uniform(-0.025, 0.025)
        kind = n % 5
        if kind == 0:
            total = rnd.randint(20, 300)
            out.append(parking(10_000 + n, lon, lat, rnd.randint(0, total), total, f"주차장 {n}"))
        elif kind == 1:
            out.append(camera(10_000 + n, lon, lat, rnd.uniform(0, 360), f"CCTV {n}"))
        elif kind == 2:
            out.append(hydrant(10_000 + n, lon, lat, blocked=rnd.random() < 0.05))
        elif kind == 3:
            out.append(
                air(10_000 + n, lon, lat, rnd.uniform(5, 180), rnd.uniform(2, 90), f"측정소 {n}")
            )
        else:
            out.append(facility(10_000 + n, lon, lat, rnd.choice("ABCDE"), f"시설물 {n}"))
    return out


def upsert(client: httpx.Client, entities: list[dict[str, Any]], chunk: int = 500) -> None:
    """Create (or replace) entities through the batch API."""
    for i in range(0, len(entities), chunk):
        r = client.post("/ngsi-ld/v1/entityOperations/upsert", json=entities[i : i + chunk])
        assert r.status_code in (201, 204), r.text


def raise_event(
    client: httpx.Client, name: str, severity: str, lon: float, lat: float, **extra: Any
) -> dict[str, Any]:
    """Raise a situation event over the API; returns it."""
    body = {
        "eventCode": extra.pop("eventCode", "FIRE0001"),
        "eventName": name,
        "severity": severity,
        "category": extra.pop("category", "fire"),
        "place": extra.pop("place", "과천시 중앙동 1-3"),
        "location": {"type": "Point", "coordinates": [lon, lat]},
        **extra,
    }
    r = client.post("/cityhub/v1/events", json=body)
    assert r.status_code in (200, 201), r.text
    found: dict[str, Any] = r.json()
    return found


def login(page: Any, base_url: str, user: str, password: str) -> None:
    """Log in through the dashboard's form and wait for the operations view."""
    page.goto(base_url + "/")
    page.fill("#login-user", user)
    page.fill("#login-password", password)
    page.press("#login-password", "Enter")
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)


@contextlib.contextmanager
def serving(data_dir: str, operator: tuple[str, str]) -> Iterator[dict[str, Any]]:
    """A `cityhub serve` with access control on, its admin's API client and password, and an
    operator ``(name, password)`` in the default tenant."""
    from tests.test_cli import Server

    srv = Server("--data-dir", data_dir, "--auth", "on")
    try:
        found = re.search(r"password: (\S+)", srv.output())
        assert found, "the first start prints the admin's password"
        admin_password = found.group(1)
        with httpx.Client(
            base_url=srv.url,
            headers={"Authorization": f"Bearer {token(srv.url, 'admin', admin_password)}"},
        ) as api:
            user = {
                "name": operator[0],
                "password": operator[1],
                "grants": [{"role": "operator", "tenant": ""}],
            }
            assert api.post("/cityhub/v1/users", json=user).status_code == 201
            yield {"server": srv, "url": srv.url, "api": api, "admin": ("admin", admin_password)}
    finally:
        srv.stop()
