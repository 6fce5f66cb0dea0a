"""The dashboard in a real browser (Debian's Chromium, headless, driven by Playwright) against a
real `cityhub serve` with access control on: what an operator sees and does.

Skipped only where no Chromium is installed and not under CI (`make setup-test` installs it);
under CI a missing browser fails.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.web.conftest import expect
from tests.web.support import (
    demo_city,
    login,
    prop,
    raise_event,
    serving,
    upsert,
)

pytestmark = pytest.mark.slow
OPERATOR = ("kim", "kim-operator-pw-1")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A hub with access control on, the demo city in it, its admin and an operator."""
    with serving(str(tmp_path_factory.mktemp("dashboard")), OPERATOR) as hub:
        upsert(hub["api"], demo_city())
        yield hub


def test_map_shows_the_city_and_a_sensor_update_within_2_s(page: Any, hub: dict[str, Any]) -> None:
    login(page, hub["url"], *hub["admin"])
    for layer, count in {"parking": 4, "cctv": 8, "hydrant": 3, "air": 2, "facility": 2}.items():
        expect(page.locator(f'.count[data-layer="{layer}"]')).to_have_text(f"({count})")
    expect(page.locator(".district-label", has_text="중앙동")).to_be_visible()
    lot = "urn:ngsi-ld:OffStreetParking:demo-2"  # 9 of 80 free
    assert page.evaluate("id => cityhub.map.styleOf(id)", lot)["level"] == "few"
    assert (
        page.evaluate("id => cityhub.map.styleOf('urn:ngsi-ld:AirQualityObserved:demo-2').level")
        == 3
    )  # PM2.5 40
    assert page.evaluate("cityhub.map.styleOf('urn:ngsi-ld:FireHydrant:demo-2').level") == "blocked"

    # a person clicks the lot's marker: details with its history
    page.evaluate("id => cityhub.map.focus(id)", lot)
    page.evaluate("cityhub.map.closeDetails()")
    at = page.evaluate("id => cityhub.map.pointOf(id)", lot)
    page.mouse.click(at["x"], at["y"])
    details = page.locator(".details")
    expect(details).to_contain_text("별양동 공영주차장")
    expect(details.locator('dd[data-attr="availableSpotNumber"]')).to_have_text("9")
    expect(details.locator("svg.spark")).to_be_visible()

    started = time.monotonic()
    r = hub["api"].patch(f"/ngsi-ld/v1/entities/{lot}/attrs", json={"availableSpotNumber": prop(1)})
    assert r.status_code == 204
    # polled from here: the page's CSP forbids the eval that wait_for_function's polling uses
    deadline = started + 2.0
    while page.evaluate("id => cityhub.map.styleOf(id).level", lot) != "full":
        assert time.monotonic() < deadline, "the marker did not change within 2 s"
        time.sleep(0.05)
    assert time.monotonic() - started < 2.0
    assert page.evaluate("id => cityhub.map.styleOf(id).fillColor", lot) == "#ff4d4f"
    expect(details.locator('dd[data-attr="availableSpotNumber"]')).to_have_text("1")

    # a new lot appears, a camera goes away, without reloading
    upsert(hub["api"], [{**demo_city()[0], "id": "urn:ngsi-ld:OffStreetParking:demo-new"}])
    assert (
        hub["api"].delete("/ngsi-ld/v1/entities/urn:ngsi-ld:CCTVCamera:demo-8").status_code == 204
    )
    expect(page.locator('.count[data-layer="parking"]')).to_have_text("(5)")
    expect(page.locator('.count[data-layer="cctv"]')).to_have_text("(7)")

    # the layer switcher hides a layer
    page.uncheck("#layer-parking")
    assert page.evaluate("id => cityhub.map.pointOf(id)", lot) is None


def test_an_operator_sees_a_new_critical_event_and_handles_it(
    page: Any, hub: dict[str, Any]
) -> None:
    login(page, hub["url"], *OPERATOR)
    event = raise_event(
        hub["api"],
        "화재 발생 (불꽃 감지)",
        "critical",
        126.9879,
        37.4296,
        eventCode="FIRE0002",
        place="중앙동 2-1",
    )
    item = page.locator(f'.ev[data-id="{event["id"]}"]')
    expect(item).to_be_visible(timeout=5000)
    expect(page.locator(".events .ev").first).to_have_attribute(
        "data-id", event["id"]
    )  # grade 1 on top
    banner = page.locator(".alert-banner")
    expect(banner).to_contain_text("화재 발생 (불꽃 감지)")
    expect(page.locator("body.alerting")).to_have_count(1)
    assert page.evaluate("cityhub.alerts.count") == 1 and page.evaluate("cityhub.alerts.tones") == 1
    assert page.evaluate(f"cityhub.map.styleOf('{event['id']}').fillColor") == "#ff1f3d"

    banner.get_by_role("button", name="보기").click()
    expect(page.locator("#event-title")).to_have_text("화재 발생 (불꽃 감지)")
    expect(page.locator("body.alerting")).to_have_count(0)
    expect(page.locator(".cameras li").first).to_be_visible()  # the nearest cameras
    assert page.locator(".cameras li").count() >= 3

    page.fill("#ev-reason", "CCTV로 현장 확인")
    page.click('button[data-to="acknowledged"]')
    expect(page.locator("#event-status")).to_have_text("확인")
    timeline = page.locator("ol.timeline")
    expect(timeline).to_contain_text("CCTV로 현장 확인")
    expect(timeline).to_contain_text("처리자 kim")

    step = page.locator('[data-step="verify-fire"]')
    page.fill("#sop-comment-verify-fire", "연기 확인")
    step.locator("button.tick").click()
    expect(step).to_have_class(re.compile(r"\bstep-done\b"))
    expect(timeline).to_contain_text("CCTV로 화재 여부·규모 확인")

    page.fill("#ev-reason", "진화 완료")
    page.click('button[data-to="cleared"]')
    expect(page.locator("#event-status")).to_have_text("해제")
    page.get_by_role("link", name="상황판으로").first.click()
    expect(item).to_have_count(0)  # closed events leave the board

    moves = _status_history(hub["api"], event["id"], until="cleared")
    assert moves[-2:] == [
        ("acknowledged", "kim", "CCTV로 현장 확인"),
        ("cleared", "kim", "진화 완료"),
    ]
    sop = hub["api"].get(f"/cityhub/v1/events/{event['id']}").json()["sop"]
    assert next(s for s in sop["steps"] if s["id"] == "verify-fire")["by"] == "kim"


def _status_history(api: httpx.Client, event_id: str, until: str) -> list[tuple[str, str, str]]:
    """(status, changedBy, reason) of each transition, once ``until`` is recorded (history is
    written by a consumer of the change log, a moment after the change)."""
    deadline = time.monotonic() + 10
    while True:
        history = api.get(
            f"/ngsi-ld/v1/temporal/entities/{event_id}", params={"attrs": "status", "lastN": "10"}
        ).json()
        moves = [
            (i["value"], i["changedBy"]["value"], i.get("reason", {}).get("value"))
            for i in history["status"]
        ]
        if moves[-1][0] == until or time.monotonic() > deadline:
            return moves
        time.sleep(0.1)


def test_a_video_share_is_granted_revoked_and_audited(page: Any, hub: dict[str, Any]) -> None:
    event = raise_event(
        hub["api"],
        "납치 의심 신고",
        "high",
        126.9877,
        37.4293,
        eventCode="CRM0001",
        category="crime",
        place="중앙공원",
    )
    login(page, hub["url"], *hub["admin"])
    page.locator(f'.ev[data-id="{event["id"]}"] a').click()
    expect(page.locator("#event-title")).to_have_text("납치 의심 신고")
    page.select_option("#grant-agency", "police112")
    page.fill("#grant-purpose", "납치 신고 현장 확인")
    page.click("#grant-submit")
    rows = page.locator("table.grants tbody tr")
    expect(rows).to_have_count(3)  # the three nearest, ticked by default
    expect(page.locator('table.grants tr[data-state="live"]')).to_have_count(3)
    expect(page.locator("ol.timeline")).to_contain_text("경찰 112")

    revoke = rows.first.locator("button.revoke")
    revoke.click()
    expect(revoke).to_have_text("정말 회수")
    revoke.click()
    expect(page.locator('table.grants tr[data-state="revoked"]')).to_have_count(1)

    page.get_by_role("link", name="감사 기록").click()
    page.select_option("#audit-action", "cctv.grant")
    audit = page.locator("table.audit")
    expect(audit.locator('tr[data-action="cctv.grant"]')).to_have_count(3)
    expect(audit).to_contain_text("납치 신고 현장 확인")
    expect(audit).to_contain_text(event["id"])
    page.select_option("#audit-action", "cctv.revoke")
    expect(audit.locator('tr[data-action="cctv.revoke"]')).to_have_count(1)


def test_language_switch(page: Any, hub: dict[str, Any]) -> None:
    page.goto(hub["url"] + "/")
    expect(page.locator("#login-title")).to_have_text("cityhub 통합운영센터")
    assert page.evaluate("document.documentElement.lang") == "ko"
    page.click('button[data-lang="en"]')
    expect(page.locator("#login-title")).to_have_text("cityhub operations center")
    page.fill("#login-user", "admin")
    page.fill("#login-password", "wrong")
    page.press("#login-password", "Enter")
    expect(page.locator(".login .error")).to_have_text("Wrong user name or password.")
    login(page, hub["url"], *hub["admin"])  # the choice is kept
    expect(page.locator("#board-title")).to_have_text("Event board")
    expect(page.locator(".layer-panel summary")).to_have_text("Layers")
    expect(page.locator(".district-label", has_text="Jungang-dong")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "en"
    page.click('button[data-lang="ko"]')
    expect(page.locator("#board-title")).to_have_text("상황 이벤트")
    expect(page.locator(".district-label", has_text="중앙동")).to_be_visible()
    expect(page.locator(".tile[data-kpi='open'] .tile-label")).to_have_text("미처리 이벤트")


def test_keyboard_only(page: Any, hub: dict[str, Any]) -> None:
    event = raise_event(
        hub["api"],
        "가로등 고장",
        "medium",
        126.991,
        37.431,
        eventCode="FAC0001",
        category="facility",
        place="별양로 12",
    )
    page.goto(hub["url"] + "/")
    expect(page.locator("#login-user")).to_be_focused()
    page.keyboard.type("admin")  # the user field has the focus
    page.keyboard.press("Tab")
    page.keyboard.type(hub["admin"][1])
    page.keyboard.press("Enter")
    page.wait_for_selector("body[data-ready='1']")
    page.reload()  # the dashboard as opened by a logged-in operator
    page.wait_for_selector("body[data-ready='1']")
    page.keyboard.press("Tab")  # the skip link comes first, and shows it has the focus
    assert page.evaluate("document.activeElement.className") == "skip"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.locator(f'.ev[data-id="{event["id"]}"] a').focus()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    expect(page.locator("#event-title")).to_have_text("가로등 고장")
    page.locator("#ev-reason").focus()
    page.keyboard.type("현장 확인")
    page.keyboard.press("Tab")  # the assignee
    page.keyboard.press("Tab")  # the first action: acknowledge
    assert page.evaluate("document.activeElement.dataset.to") == "acknowledged"
    page.keyboard.press("Enter")
    expect(page.locator("#event-status")).to_have_text("확인")
    # nothing the board offers is out of the keyboard's reach
    page.keyboard.press("Escape")
    page.goto(hub["url"] + "/#/")
    page.wait_for_selector("body[data-ready='1']")
    unreachable = page.evaluate(
        """[...document.querySelectorAll('.board-pane button, .board-pane a, .board-pane select, .board-pane input, .layer-panel input')]
           .filter(el => el.tabIndex < 0 || el.disabled).length"""
    )
    assert unreachable == 0


def test_screens_fit_a_wall_and_a_laptop(page: Any, hub: dict[str, Any]) -> None:
    """On a 4K wall the text grows with the screen; on a laptop nothing spills sideways."""
    login(page, hub["url"], *hub["admin"])
    laptop = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size({"width": 3840, "height": 2160})
    wall = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert wall >= 1.6 * laptop
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_static_output_is_what_the_browser_gets(hub: dict[str, Any]) -> None:
    """The page the browser gets names only files this hub serves."""
    page_html = httpx.get(hub["url"] + "/").text
    for ref in re.findall(r'(?:src|href)="(/static/[^"]+)"', page_html):
        assert httpx.get(hub["url"] + ref).status_code == 200, ref
