"""The dashboard's city figures, time-series charts and mayor's view in a real browser
(Debian's Chromium through Playwright) against a real `cityhub serve` with access control on."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import expect
from tests.web.support import login, prop, raise_event, upsert
from tests.web.test_dashboard import hub  # noqa: F401

pytestmark = pytest.mark.slow
LOT = "urn:ngsi-ld:OffStreetParking:demo-2"
STATION = "urn:ngsi-ld:AirQualityObserved:demo-2"
DISTRICT = {
    "id": "urn:ngsi-ld:District:views-1",
    "type": "District",
    "name": prop("중앙동"),
    "location": {
        "type": "GeoProperty",
        "value": {
            "type": "Polygon",
            "coordinates": [
                [
                    [126.90, 37.38],
                    [127.10, 37.38],
                    [127.10, 37.48],
                    [126.90, 37.48],
                    [126.90, 37.38],
                ]
            ],
        },
    },
}


@pytest.fixture(scope="module")
def city(hub: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    """The hub with a district around the stations and one provisioned device never heard
    from (a sensor offline)."""
    api = hub["api"]
    upsert(api, [DISTRICT])
    r = api.post(
        "/iot/services",
        json={"services": [{"apikey": "k-views", "entity_type": "AirQualityObserved"}]},
    )
    assert r.status_code == 201, r.text
    r = api.post("/iot/devices", json={"devices": [{"device_id": "aq-quiet", "apikey": "k-views"}]})
    assert r.status_code == 201, r.text
    # a few readings of the lot, for its chart
    for free in (20, 15, 9):
        r = api.patch(f"/ngsi-ld/v1/entities/{LOT}/attrs", json={"availableSpotNumber": prop(free)})
        assert r.status_code == 204, r.text
    # a station reporting its CAI itself, as AirKorea's do: written once the air service has
    # looked at the stations' readings (it owns the index it computes from hours of history,
    # and clears one it cannot compute yet)
    deadline = time.monotonic() + 60
    while any(c["behind"] for c in api.get("/cityhub/v1/status").json()["consumers"].values()):
        assert time.monotonic() < deadline, "the change-log consumers did not catch up"
        time.sleep(0.2)
    r = api.patch(f"/ngsi-ld/v1/entities/{STATION}/attrs", json={"airQualityIndex": prop(120)})
    assert r.status_code == 204, r.text
    deadline = time.monotonic() + 30
    while api.get("/cityhub/v1/air/districts").json()[0]["caiGrade"] is None:
        assert time.monotonic() < deadline, "the air service did not grade the district"
        time.sleep(0.2)
    return hub


def test_kpi_tiles_show_parking_air_and_silent_sensors(
    page: Any,  # noqa: F811
    city: dict[str, Any],
) -> None:
    api = city["api"]
    parking = api.get("/cityhub/v1/parking/availability").json()["total"]
    districts = api.get("/cityhub/v1/air/districts").json()
    assert [d["name"] for d in districts] == ["중앙동"] and districts[0]["caiGrade"] == 3
    login(page, city["url"], *city["admin"])
    tile = page.locator('.tile[data-kpi="parking"]')
    expect(tile.locator(".tile-value")).to_have_text(
        f"{parking['occupancy'] * 100:.1f}%".replace(".0%", "%")
    )
    expect(tile.locator(".tile-hint")).to_contain_text(f"빈 면 {parking['available']}")
    air = page.locator('.tile[data-kpi="air"]')
    expect(air.locator(".tile-value")).to_have_text("중앙동")
    expect(air.locator(".tile-hint")).to_contain_text("나쁨")
    expect(air).to_have_class("tile tone-warn")
    sensors = page.locator('.tile[data-kpi="sensors"]')
    expect(sensors.locator(".tile-value")).to_have_text("1")
    expect(sensors.locator(".tile-hint")).to_contain_text("전체 1대")


def test_a_chart_with_ranges_and_csv_export(
    page: Any,  # noqa: F811
    city: dict[str, Any],
    tmp_path: Path,
) -> None:
    login(page, city["url"], *city["admin"])
    # from the map: a lot's details link to its chart
    page.evaluate("id => cityhub.map.focus(id)", LOT)
    page.locator(".details .chart-link").click()
    chart = page.locator(f'.chart[data-entity="{LOT}"][data-attr="availableSpotNumber"]')
    expect(chart.locator("canvas")).to_be_visible()
    points = int(chart.get_attribute("data-points") or 0)
    assert points >= 4  # created, then three readings
    expect(page.locator('.chart-ranges button[data-range="24h"]')).to_have_attribute(
        "aria-pressed", "true"
    )

    with page.expect_download() as download:
        chart.get_by_role("button", name="CSV 내보내기").click()
    saved = tmp_path / "lot.csv"
    download.value.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert rows[0] == ["entityId", "attribute", "observedAt", "value"]
    assert len(rows) == points + 1
    assert [r[3] for r in rows[-3:]] == ["20", "15", "9"]
    assert all(r[0] == LOT and r[1] == "availableSpotNumber" for r in rows[1:])

    # a week: hourly average, min and max
    page.locator('.chart-ranges button[data-range="7d"]').click()
    expect(chart.locator(".chart-head .muted")).to_contain_text("구간 평균·최소·최대")
    expect(chart.locator("canvas")).to_be_visible()
    assert "range=7d" in page.url

    # a second series through the picker; a wrong id is said so
    page.fill("#chart-entity", "urn:ngsi-ld:AirQualityObserved:nowhere")
    page.press("#chart-entity", "Tab")
    expect(page.locator(".chart-picker .error")).to_have_text("그런 엔티티가 없습니다.")
    page.fill("#chart-entity", STATION)
    page.press("#chart-entity", "Tab")
    expect(page.locator("#chart-attr option")).to_have_count(3)  # CAI, pm10, pm25
    page.select_option("#chart-attr", "pm25")
    page.get_by_role("button", name="차트 추가").click()
    expect(page.locator(".chart")).to_have_count(2)
    expect(page.locator(f'.chart[data-entity="{STATION}"][data-attr="pm25"]')).to_be_visible()

    # a custom window where nothing was recorded
    page.fill("#chart-from", "2020-01-01T00:00")
    page.fill("#chart-to", "2020-01-02T00:00")
    page.get_by_role("button", name="기간 적용").click()
    expect(chart).to_contain_text("이 기간에 기록된 값이 없습니다.")
    page.fill("#chart-to", "2019-01-01T00:00")
    page.get_by_role("button", name="기간 적용").click()
    expect(page.locator('[role="alert"]', has_text="시작 시각이")).to_be_visible()


def test_the_mayors_view(page: Any, city: dict[str, Any]) -> None:  # noqa: F811
    login(page, city["url"], *city["admin"])
    page.get_by_role("link", name="시장실").click()
    pane = page.locator(".mayor-pane")
    expect(pane).to_have_attribute("data-ready", "1")
    expect(page.locator(".board-pane")).to_be_hidden()
    expect(page.locator(".kpis")).to_be_hidden()
    expect(page.locator(".map-pane")).to_be_visible()
    expect(pane.locator('[data-figure="air"] .tile-value')).to_have_text("나쁨")
    expect(pane.locator('[data-figure="sensors"] .tile-value')).to_have_text("1")
    expect(pane.locator('[data-figure="facilities"] .tile-value')).not_to_have_text("–")
    row = pane.locator('.mayor-districts tr[data-district="urn:ngsi-ld:District:views-1"]')
    expect(row).to_contain_text("중앙동")
    expect(row).to_contain_text("나쁨")

    event = raise_event(city["api"], "교량 변위 경보", "critical", 126.99, 37.43, place="중앙교")
    first = pane.locator(".mayor-events li").first
    expect(first).to_have_attribute("data-event", event["id"])
    expect(first).to_contain_text("교량 변위 경보")
    first.get_by_role("button").click()
    expect(page.locator("#event-title")).to_have_text("교량 변위 경보")

    page.get_by_role("button", name="English").click()
    page.get_by_role("link", name="Mayor").click()
    expect(pane.locator("h2")).to_have_text("Mayor's view — the city now")
    expect(pane).to_have_attribute("data-ready", "1")
    # on a 4K video wall the figures grow with the screen and nothing spills sideways
    small = pane.locator('[data-figure="open"] .tile-value').bounding_box()
    page.set_viewport_size({"width": 3840, "height": 2160})
    expect(pane).to_be_visible()
    big = pane.locator('[data-figure="open"] .tile-value').bounding_box()
    assert small and big and big["height"] >= 1.6 * small["height"]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
