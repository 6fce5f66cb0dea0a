"""The city services' layers on the dashboard's map in a real browser (Debian's Chromium through
Playwright) against a real `cityhub serve`: distribution panels coloured by the electrical
service's grade, smart crosswalks by their stop-line violations, the parking violations whose
car still stands; each following its entities live."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.web.conftest import expect
from tests.web.support import crosswalk, login, panel, prop, upsert, violation
from tests.web.test_dashboard import OPERATOR, hub  # noqa: F401

pytestmark = pytest.mark.slow
PANEL = "urn:ngsi-ld:ElectricalPanel:demo-1"
CROSSWALK = "urn:ngsi-ld:CrosswalkObserved:demo-1"
DANGER = "#ff4d4f"  # web/src/map/styles.js, PANEL_COLORS.danger and CROSSWALK_COLORS.many


def _until(page: Any, entity: str, key: str, want: Any, within: float = 5.0) -> dict[str, Any]:
    """The drawn style of ``entity`` once its ``key`` is ``want`` (polled: the page's CSP
    forbids the eval that wait_for_function's polling uses)."""
    deadline = time.monotonic() + within
    while True:
        style: dict[str, Any] | None = page.evaluate("id => cityhub.map.styleOf(id)", entity)
        if style is not None and style[key] == want:
            return style
        assert time.monotonic() < deadline, f"{entity}: {key} is not {want!r} but {style}"
        time.sleep(0.05)


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def test_a_panel_in_danger_is_drawn_as_such_with_its_reason(
    page: Any,
    hub: dict[str, Any],  # noqa: F811
) -> None:
    api = hub["api"]
    now = datetime.now(UTC)
    upsert(
        api,
        [panel(1, 126.9905, 37.4318, 3.2, _iso(now - timedelta(minutes=5)), "중앙시장 A동 3호")],
    )
    login(page, hub["url"], *OPERATOR)
    expect(page.locator('.count[data-layer="electrical"]')).to_have_text("(1)")
    expect(page.locator(".layer-item", has_text="전기화재 감지 분전반")).to_contain_text("위험")
    normal = _until(page, PANEL, "level", "normal")  # graded by the electrical service
    page.evaluate("id => cityhub.map.focus(id)", PANEL)
    details = page.locator(".details")
    expect(details).to_contain_text("중앙시장 A동 3호")
    expect(details.locator('dd[data-attr="anomalyGrade"]')).to_have_text("정상")
    expect(details.locator('dd[data-attr="leakageCurrent"]')).to_have_text("3.2")

    # the sensor reports 150 mA: the service grades it danger, the map follows without a reload
    reading = {"leakageCurrent": prop(150.0, unitCode="4K", observedAt=_iso(now))}
    r = api.patch(f"/ngsi-ld/v1/entities/{PANEL}/attrs", json=reading)
    assert r.status_code == 204, r.text
    danger = _until(page, PANEL, "level", "danger")
    assert danger["fillColor"] == DANGER and danger["layer"] == "electrical"
    assert danger["radius"] > normal["radius"]  # drawn larger than a normal panel
    expect(details.locator('dd[data-attr="anomalyGrade"]')).to_have_text("위험")
    expect(details.locator('dd[data-attr="leakageCurrent"]')).to_have_text("150")
    expect(details.locator('dd[data-attr="anomalyReason"]')).to_contain_text("leakageCurrent")
    expect(details.locator('dd[data-attr="anomalyReason"]')).to_contain_text("(danger)")
    expect(details.locator("svg.spark")).to_be_visible()
    chart = re.compile(
        r"^#/charts\?series=urn%3Angsi-ld%3AElectricalPanel%3Ademo-1%7CleakageCurrent&"
    )
    expect(details.locator("a.chart-link")).to_have_attribute("href", chart)


def test_a_crosswalk_appears_and_follows_its_counts(
    page: Any,
    hub: dict[str, Any],  # noqa: F811
) -> None:
    login(page, hub["url"], *OPERATOR)
    expect(page.locator(".layer-item", has_text="스마트 횡단보도")).to_contain_text(
        "정지선 위반 10건 이상"
    )
    upsert(hub["api"], [crosswalk(1, 126.9889, 37.4281, 0, "과천초교 앞 횡단보도")])
    expect(page.locator('.count[data-layer="crosswalk"]')).to_have_text("(1)")
    assert _until(page, CROSSWALK, "level", "none")["layer"] == "crosswalk"
    page.evaluate("id => cityhub.map.focus(id)", CROSSWALK)
    details = page.locator(".details")
    expect(details).to_contain_text("과천초교 앞 횡단보도")
    expect(details.locator('dd[data-attr="schoolZone"]')).to_have_text("예")

    r = hub["api"].patch(
        f"/ngsi-ld/v1/entities/{CROSSWALK}/attrs", json={"stopLineViolations": prop(12)}
    )
    assert r.status_code == 204, r.text
    assert _until(page, CROSSWALK, "level", "many")["fillColor"] == DANGER
    expect(details.locator('dd[data-attr="stopLineViolations"]')).to_have_text("12")


def test_a_parking_violation_shows_while_the_car_stands(
    page: Any,
    hub: dict[str, Any],  # noqa: F811
) -> None:
    api = hub["api"]
    gone = violation(1, 126.9930, 37.4309, "cleared", "hydrant", "소화전 앞")
    standing = violation(2, 126.9936, 37.4311, "confirmed", "hydrant", "별양로 소화전 앞")
    upsert(api, [gone, standing])
    login(page, hub["url"], *OPERATOR)
    expect(page.locator('.count[data-layer="violation"]')).to_have_text("(1)")  # not the cleared
    assert _until(page, standing["id"], "level", "fire")["layer"] == "violation"
    page.evaluate("id => cityhub.map.focus(id)", standing["id"])
    details = page.locator(".details")
    expect(details.locator('dd[data-attr="status"]')).to_have_text("단속 확정")
    expect(details).not_to_contain_text("12가")  # the plate stays off the map, even masked

    # the car leaves: its violation is cleared and leaves the map
    r = api.patch(f"/ngsi-ld/v1/entities/{standing['id']}/attrs", json={"status": prop("cleared")})
    assert r.status_code == 204, r.text
    expect(page.locator('.count[data-layer="violation"]')).to_have_text("(0)")
    expect(details).to_be_hidden()
    upsert(api, [violation(3, 126.9801, 37.4262, "confirmed", "busStop", "정류장 앞")])
    expect(page.locator('.count[data-layer="violation"]')).to_have_text("(1)")
    assert _until(page, "urn:ngsi-ld:ParkingViolation:demo-3", "level", "other")
