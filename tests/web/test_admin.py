"""The dashboard's admin pages in a real browser (Debian's Chromium, headless, driven by
Playwright) against a real `cityhub serve` with access control on: devices and dead letters,
rules, data models and users, as an administrator; an operator kept out.

Skipped only where no Chromium is installed and not under CI (`make setup-test` installs it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.web.conftest import expect
from tests.web.support import login, prop, serving, token, upsert

pytestmark = pytest.mark.slow
OPERATOR = ("lee", "lee-operator-pw-1")
#: the browser's notes of the refused API calls these tests provoke
EXPECTED_CONSOLE = re.compile(r"status of (401|400|404) \(")
RULE = {
    "id": "pm10-high",
    "name": "미세먼지 높음",
    "kind": "threshold",
    "entityType": "AirQualityObserved",
    "q": "pm10>=100",
    "clear": "pm10<50",
    "event": {"eventCode": "ENV0010", "eventName": "미세먼지 높음", "severity": "medium"},
}
STATION = "urn:ngsi-ld:AirQualityObserved:admin-1"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A hub with access control on, an operator, a rule with some history to replay and a
    notification that failed for good (one attempt only)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CITYHUB_NOTIFY_MAX_ATTEMPTS", "1")  # read by the server as it starts
        with serving(str(tmp_path_factory.mktemp("admin")), OPERATOR) as hub:
            api = hub["api"]
            assert api.post("/cityhub/v1/rules", json=RULE).status_code == 201
            subscription = {
                "id": "urn:ngsi-ld:Subscription:admin-dead",
                "type": "Subscription",
                "entities": [{"type": "AirQualityObserved"}],
                "notification": {"endpoint": {"uri": "http://receiver.invalid/notify"}},
            }
            assert api.post("/ngsi-ld/v1/subscriptions", json=subscription).status_code == 201
            station = {"id": STATION, "type": "AirQualityObserved", "pm10": prop(30)}
            upsert(api, [station])
            for value in (130, 140, 20):  # raised at 130, cleared at 20
                r = api.patch(f"/ngsi-ld/v1/entities/{STATION}/attrs", json={"pm10": prop(value)})
                assert r.status_code == 204
            yield hub


def _admin(page: Any, hub: dict[str, Any], link: str) -> None:
    """Log in as the administrator and open an admin page from the menu and the index."""
    login(page, hub["url"], *hub["admin"])
    page.get_by_role("link", name="관리", exact=True).click()
    expect(page.locator("#admin-title")).to_have_text("관리")
    page.locator(".admin-index a", has_text=link).click()
    expect(page.locator("#admin-title")).to_have_text(link)


def _until(check: Any, what: str, seconds: float = 10) -> Any:
    """Poll ``check`` until it returns something true (work done by a consumer of the hub)."""
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.1)
    return found


def test_an_admin_adds_shows_and_removes_a_device(page: Any, hub: dict[str, Any]) -> None:
    api = hub["api"]
    group = {"apikey": "air-admin", "entity_type": "AirQualityObserved"}
    assert api.post("/iot/services", json={"services": [group]}).status_code == 201
    _admin(page, hub, "장치")
    expect(page.locator('table.groups tr[data-apikey="air-admin"]')).to_be_visible()

    page.fill("#dev-id", "aq-201")
    page.fill("#dev-apikey", "air-admin")
    page.fill("#dev-entity", "urn:ngsi-ld:AirQualityObserved:aq-201")
    page.fill("#dev-attrs", "p10=pm10:Number")
    page.click("#dev-add-submit")
    row = page.locator('table.devices tr[data-device="aq-201"]')
    expect(row).to_be_visible()
    expect(page.locator(".admin-msg")).to_contain_text("aq-201")
    stored = api.get("/iot/devices/aq-201").json()
    assert stored["entity_name"] == "urn:ngsi-ld:AirQualityObserved:aq-201"
    assert stored["attributes"] == [{"object_id": "p10", "name": "pm10", "type": "Number"}]

    row.get_by_role("button", name="aq-201", exact=True).click()
    details = page.locator(".device-details")
    expect(details).to_contain_text("urn:ngsi-ld:AirQualityObserved:aq-201")
    expect(details.locator("table.device-attrs")).to_contain_text("pm10")

    # pasted JSON; a refusal is shown next to the form, as the hub gave it
    page.click("#dev-mode-json")
    page.fill("#dev-json", '{"devices": [{"device_id": "aq-202", "bogus": 1}]}')
    page.click("#dev-add-submit")
    expect(page.locator("#dev-add-error .problem-detail")).to_have_text(
        "device: unknown member(s) bogus"
    )
    expect(page.locator("#dev-json")).to_have_value(
        '{"devices": [{"device_id": "aq-202", "bogus": 1}]}'
    )
    page.fill("#dev-json", '[{"device_id": "aq-202", "apikey": "air-admin"}]')
    page.click("#dev-add-submit")
    expect(page.locator('table.devices tr[data-device="aq-202"]')).to_be_visible()
    assert api.get("/iot/devices").json()["count"] == 2

    remove = page.locator('table.devices tr[data-device="aq-202"] button.remove')
    remove.click()
    expect(remove).to_have_text("정말 제거")
    assert api.get("/iot/devices/aq-202").status_code == 200  # nothing yet
    remove.click()
    expect(page.locator('table.devices tr[data-device="aq-202"]')).to_have_count(0)
    assert api.get("/iot/devices/aq-202").status_code == 404


def test_dead_letters_are_counted_shown_replayed_and_discarded(
    page: Any, hub: dict[str, Any]
) -> None:
    api = hub["api"]
    group = {
        "apikey": "air-dl",
        "entity_type": "AirQualityObserved",
        "attributes": [{"object_id": "p10", "name": "pm10", "type": "Number"}],
    }
    assert api.post("/iot/services", json={"services": [group]}).status_code == 201
    bad = httpx.post(f"{hub['url']}/iot/json?k=air-dl&i=aq-301", json={"p10": "abc"})
    assert bad.status_code == 400  # a measure with a bad value
    early = httpx.post(f"{hub['url']}/iot/json?k=air-late&i=aq-302", json={"p10": 12})
    assert early.status_code == 404  # its service group is not provisioned yet
    _until(lambda: api.get("/cityhub/v1/dead-letters").json(), "no failed notification")

    _admin(page, hub, "수집 오류 (데드레터)")
    counts = page.locator("table.dl-counts")
    expect(counts.locator('tr[data-device="aq-301"]')).to_contain_text("BadRequestData")
    expect(counts.locator('tr[data-device="aq-302"]')).to_contain_text("ResourceNotFound")
    letters = page.locator("table.dead-letters")
    bad_row = letters.locator('tr[data-device="aq-301"]')
    expect(bad_row).to_contain_text("measure 'p10': Number expected, got 'abc'")

    bad_row.locator("button.show").click()
    shown = page.locator(".dl-shown")
    expect(shown.locator(".payload")).to_have_text('{"p10":"abc"}')  # as it came
    expect(shown.locator(".reason-full")).to_have_text("measure 'p10': Number expected, got 'abc'")

    # the device's group is provisioned now: the other one is taken on replay
    late = {**group, "apikey": "air-late"}
    assert api.post("/iot/services", json={"services": [late]}).status_code == 201
    letters.locator('tr[data-device="aq-302"] button.replay').click()
    expect(page.locator(".admin-msg")).to_contain_text("반영")
    expect(letters.locator('tr[data-device="aq-302"]')).to_have_count(0)
    entity = api.get("/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:aq-302").json()
    assert entity["pm10"]["value"] == 12

    # the bad value is refused again on replay (and kept, with the reason), then discarded
    bad_row.locator("button.replay").click()
    expect(page.locator(".admin-msg.error")).to_contain_text("Number expected")
    expect(bad_row).to_have_count(1)
    discard = bad_row.locator("button.discard")
    discard.click()
    expect(discard).to_have_text("정말 폐기")
    discard.click()
    expect(bad_row).to_have_count(0)
    assert api.get("/iot/dead-letters", params={"device_id": "aq-301"}).json()["count"] == 0

    # a notification that used up its attempts: shown, then deleted
    notes = page.locator("table.notes tbody tr")
    expect(notes.first).to_contain_text("http://receiver.invalid/notify")
    before = len(api.get("/cityhub/v1/dead-letters").json())
    delete = notes.first.locator("button.delete")
    delete.click()
    delete.click()
    expect(page.locator(".admin-msg")).to_contain_text("삭제")
    assert len(api.get("/cityhub/v1/dead-letters").json()) == before - 1


def test_rules_switched_off_and_on_edited_and_dry_run(page: Any, hub: dict[str, Any]) -> None:
    api = hub["api"]
    _admin(page, hub, "상황 규칙")
    row = page.locator('table.rules tr[data-rule="pm10-high"]')
    expect(row).to_have_attribute("data-enabled", "true")
    row.locator("button.toggle").click()
    expect(row).to_have_attribute("data-enabled", "false")
    assert api.get("/cityhub/v1/rules/pm10-high").json()["enabled"] is False
    row.locator("button.toggle").click()
    expect(row).to_have_attribute("data-enabled", "true")
    assert api.get("/cityhub/v1/rules/pm10-high").json()["enabled"] is True

    before = api.get("/cityhub/v1/rules/pm10-high").json()
    row.locator("button.edit").click()
    editor = page.locator("#rule-json")
    expect(editor).to_have_value(re.compile(r'"q": "pm10>=100"'))
    editor.fill(editor.input_value().replace('"pm10>=100"', '"pm10>="'))
    page.click("#rule-save")
    error = page.locator("#rule-error .problem")
    expect(error.locator(".problem-detail")).to_have_text(
        '"q": Invalid q: expected a value at character 7 (at end of q)'
    )
    expect(error.locator(".problem-status")).to_have_text("400")
    expect(editor).to_have_value(re.compile(r'"q": "pm10>="'))  # what was typed stays
    editor.fill(editor.input_value().replace('"kind"', '"kind'))  # broken JSON: not sent
    page.click("#rule-save")
    expect(error).to_contain_text("JSON 형식 오류")
    after = api.get("/cityhub/v1/rules/pm10-high").json()
    assert after == before  # nothing changed

    row.locator("button.dry").click()
    page.click("#dry-run")
    result = page.locator(".dry-result")
    expect(result.locator(".dry-summary")).to_contain_text("발생 1건, 해제 1건")
    raised = result.locator('tr[data-action="raise"]')
    expect(raised).to_contain_text(STATION)
    expect(raised).to_contain_text("ENV0010")
    cleared = result.locator('tr[data-action="clear"]')
    expect(cleared).to_contain_text("pm10<50")
    expect(cleared).to_contain_text(STATION)


def test_a_model_check_shows_each_error(page: Any, hub: dict[str, Any]) -> None:
    _admin(page, hub, "데이터 모델")
    page.fill("#models-filter", "AirQuality")
    page.locator('table.models tr[data-type="AirQualityObserved"] a').click()
    model = page.locator('.model[data-type="AirQualityObserved"]')
    expect(model.locator('table.schema tr[data-attr="pm10"]')).to_contain_text("GQ")
    expect(page.locator('table.models tr[data-type="AirQualityObserved"]')).to_contain_text(
        "기본 제공"
    )
    entity = (
        '{"id": "urn:ngsi-ld:AirQualityObserved:x", "type": "AirQualityObserved",'
        ' "pm10": {"type": "Property", "value": -3},'
        ' "relativeHumidity": {"type": "Property", "value": 54}}'
    )
    page.fill("#model-entity", entity)
    page.click("#model-validate")
    errors = page.locator(".check-errors li")
    expect(errors).to_have_text(
        [
            "pm10: -3 is less than the minimum of 0",
            "relativeHumidity: 54 is greater than the maximum of 1",
        ]
    )
    enforce = page.locator("#model-enforce-AirQualityObserved")
    enforce.click()
    expect(enforce).to_have_attribute("aria-checked", "true")
    assert hub["api"].get("/cityhub/v1/models/AirQualityObserved").json()["enforce"] is True
    enforce.click()
    expect(enforce).to_have_attribute("aria-checked", "false")
    assert hub["api"].get("/cityhub/v1/models/AirQualityObserved").json()["enforce"] is False
    expect(page.locator("#model-entity")).to_have_value(entity)  # kept across the changes
    page.fill("#model-entity", entity.replace("-3", "3").replace("54", "0.54"))
    page.click("#model-validate")
    expect(page.locator(".check .valid")).to_be_visible()

    # the same page in English, and nothing on it out of the keyboard's reach
    page.click('button[data-lang="en"]')
    expect(page.locator("#admin-title")).to_have_text("Data models")
    expect(page.locator('table.models tr[data-type="AirQualityObserved"]')).to_contain_text(
        "built-in"
    )
    unreachable = page.evaluate(
        """[...document.querySelectorAll('#page button, #page a, #page input, #page textarea')]
           .filter(el => el.tabIndex < 0).length"""
    )
    assert unreachable == 0


def test_an_admin_manages_a_user_who_can_then_log_in(page: Any, hub: dict[str, Any]) -> None:
    _admin(page, hub, "사용자")
    page.fill("#user-name", "park")
    page.fill("#user-password", "park-operator-pw-1")
    page.check("#user-role-operator")
    page.click("#user-add-submit")
    row = page.locator('table.users tr[data-user="park"]')
    expect(row).to_contain_text("operator@(default)")
    login_ok = token(hub["url"], "park", "park-operator-pw-1")
    assert login_ok.startswith("cht_")

    row.locator("button.roles").click()
    page.select_option("#grant-role", "supervisor")
    page.click("#grant-add")
    page.click("#grants-save")
    expect(row).to_contain_text("supervisor@(default)")
    grants = hub["api"].get("/cityhub/v1/users/park").json()["grants"]
    assert {g["role"] for g in grants} == {"operator", "supervisor"}

    disable = row.locator("button.disable")
    disable.click()
    disable.click()
    expect(row).to_have_attribute("data-disabled", "true")
    refused = httpx.post(
        f"{hub['url']}/cityhub/v1/auth/login",
        json={"username": "park", "password": "park-operator-pw-1"},
    )
    assert refused.status_code == 401

    delete = row.locator("button.delete")
    delete.click()
    delete.click()
    expect(row).to_have_count(0)
    assert hub["api"].get("/cityhub/v1/users/park").status_code == 404


def test_an_operator_gets_no_admin_pages(page: Any, hub: dict[str, Any]) -> None:
    login(page, hub["url"], *OPERATOR)
    nav = page.get_by_role("navigation", name="주 메뉴")
    expect(nav.get_by_role("link", name="상황판")).to_be_visible()
    expect(nav.get_by_role("link", name="관리")).to_have_count(0)
    for where in ("#/admin", "#/admin/users", "#/admin/rules"):
        page.goto(f"{hub['url']}/{where}")
        expect(page.locator(".admin-forbidden")).to_have_text(
            "이 관리 화면을 사용할 권한이 없습니다."
        )
    expect(page.locator("#page table")).to_have_count(0)
