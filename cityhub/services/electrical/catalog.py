"""The electrical-fire sensing service in the service catalog: its default rule (a panel sensor
gone silent) and the SOP of caution events. Anomaly events are raised by the service itself
(service.py); danger events follow the built-in ``fire`` SOP."""

from __future__ import annotations

from typing import Any

from cityhub.services.catalog import Service, register

PANEL_SILENT: dict[str, Any] = {
    "id": "electrical-panel-silent",
    "name": "분전반 센서 1시간 무응답",
    "description": "A panel sensor that sent nothing for an hour watches nothing.",
    "kind": "absence",
    "entityType": "ElectricalPanel",
    "for": "PT1H",
    "event": {
        "eventCode": "ELC0003",
        "eventName": "분전반 센서 통신 두절",
        "severity": "low",
        "category": "facility",
    },
}

CAUTION_SOP: dict[str, Any] = {
    "id": "electrical-caution",
    "name": "분전반 이상 징후 대응",
    "description": "누설전류·온도 주의 단계: 관리자와 전기안전 점검기관에 알리고 점검한다.",
    "match": {"eventCodes": ["ELC0001"]},
    "steps": [
        {
            "id": "notify-inspector",
            "title": "전기안전 점검기관에 점검 요청",
            "role": "system",
            "dueMinutes": 1,
            "auto": {
                "kind": "notify",
                "agency": "electrical-safety",
                "text": "[분전반 주의] {eventName} - {place} ({time})",
            },
        },
        {
            "id": "call-owner",
            "title": "건물 관리자(소유자)에게 연락해 부하·차단기 확인 요청",
            "role": "operator",
            "dueMinutes": 30,
        },
        {
            "id": "inspection-result",
            "title": "점검 결과 기록 및 종료",
            "role": "operator",
            "dueMinutes": 1440,
        },
    ],
}

SERVICE = register(
    Service(
        id="electrical-fire",
        name="IoT 전기화재 예방",
        title="Electrical-fire sensing",
        description=(
            "Sensors on distribution panels (leakage current, temperature, arc events): "
            "caution and danger grades, an event per panel (the fire SOP for danger), "
            "cleared when the readings stay normal."
        ),
        rules=(PANEL_SILENT,),
        sops=(CAUTION_SOP,),
        models=("ElectricalPanel",),
        layers=("/cityhub/v1/electrical/layer",),
    )
)
