"""The admin pages' pictures in docs/dashboard.md: a hub with a few devices, dead letters, a
rule with some history, opened in Debian's Chromium (as bench/dashboard.py does).

    python bench/admin_screenshots.py docs/screenshots/

Korean text needs a CJK font (Debian's fonts-noto-cjk).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dashboard import start_hub  # noqa: E402
from tests.web.support import chromium_path, launch, login, prop, upsert  # noqa: E402

STATION = "urn:ngsi-ld:AirQualityObserved:gwacheon-031"
RULE = {
    "id": "pm10-high",
    "name": "미세먼지 나쁨 (PM10 ≥ 81)",
    "kind": "threshold",
    "entityType": "AirQualityObserved",
    "q": "pm10>=81",
    "clear": "pm10<50",
    "event": {
        "eventCode": "ENV0010",
        "eventName": "미세먼지 나쁨",
        "severity": "medium",
        "category": "environment",
    },
}


def seed(url: str, api: httpx.Client) -> None:
    """Service groups, devices, refused measures and a rule that would have fired."""
    groups = [
        {
            "apikey": "air-2026",
            "entity_type": "AirQualityObserved",
            "timestamp": True,
            "attributes": [{"object_id": "p10", "name": "pm10", "type": "Number"}],
        },
        {"apikey": "hydrant-2026", "entity_type": "FireHydrant"},
    ]
    assert api.post("/iot/services", json={"services": groups}).status_code == 201
    devices = [
        {
            "device_id": f"aq-0{n}",
            "apikey": "air-2026",
            "entity_name": f"urn:ngsi-ld:AirQualityObserved:gwacheon-0{n}",
        }
        for n in range(31, 37)
    ] + [{"device_id": f"hyd-00{n}", "apikey": "hydrant-2026"} for n in range(1, 5)]
    assert api.post("/iot/devices", json={"devices": devices}).status_code == 201
    for body in ({"p10": "ERR"}, {"p10": 99999}, {"p10": 65535}):
        httpx.post(f"{url}/iot/json?k=air-2026&i=aq-033", json=body)
    httpx.post(f"{url}/iot/json?k=air-old&i=aq-099", json={"p10": 12})
    assert api.post("/cityhub/v1/rules", json=RULE).status_code == 201
    second: dict[str, Any] = {**RULE, "id": "pm25-alert", "name": "초미세먼지 주의보"}
    second.update(q="pm25>=75", clear="pm25<35", enabled=False)
    assert api.post("/cityhub/v1/rules", json=second).status_code == 201
    upsert(api, [{"id": STATION, "type": "AirQualityObserved", "pm10": prop(40)}])
    for value in (95, 120, 44):
        api.patch(f"/ngsi-ld/v1/entities/{STATION}/attrs", json={"pm10": prop(value)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    out = parser.parse_args().out
    chromium = chromium_path()
    if chromium is None:
        raise SystemExit("needs Chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        srv, password, api = start_hub(tmp)
        try:
            seed(srv.url, api)
            with sync_playwright() as playwright:
                browser = launch(playwright, chromium)
                context = browser.new_context(
                    viewport={"width": 1600, "height": 900}, device_scale_factor=1
                )
                page = context.new_page()
                login(page, srv.url, "admin", password)
                page.goto(srv.url + "/#/admin/dead-letters")
                page.click('table.dead-letters tr[data-device="aq-033"] button.show >> nth=0')
                page.wait_for_selector(".dl-shown")
                page.screenshot(path=str(out / "admin-dead-letters.png"), full_page=True)
                page.goto(srv.url + "/#/admin/rules")
                page.click('tr[data-rule="pm10-high"] button.edit')
                page.fill("#rule-json", page.input_value("#rule-json").replace(">=81", ">="))
                page.click("#rule-save")
                page.wait_for_selector("#rule-error .problem")
                page.click('tr[data-rule="pm10-high"] button.dry')
                page.click("#dry-run")
                page.wait_for_selector(".dry-result")
                page.screenshot(path=str(out / "admin-rules.png"), full_page=True)
                browser.close()
            print(f"screenshots in {out}: admin-dead-letters.png, admin-rules.png")
        finally:
            api.close()
            srv.stop()


if __name__ == "__main__":
    main()
