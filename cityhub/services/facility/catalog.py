"""The facility safety service in the service catalog: its default rule (a structural sensor
gone silent) and the SOP template that rule's events start with. Grade drops are raised by the
service itself (service.py) and follow the built-in ``facility-alarm`` SOP."""

from __future__ import annotations

from typing import Any

from cityhub.services.catalog import Service, register

SENSOR_SILENT: dict[str, Any] = {
    "id": "facility-sensor-silent",
    "name": "구조물 계측 센서 6시간 무응답",
    "description": "A structural sensor that sent nothing for 6 hours cannot grade its facility.",
    "kind": "absence",
    "entityType": "StructuralHealthObserved",
    "for": "PT6H",
    "event": {
        "eventCode": "FAC0102",
        "eventName": "구조물 계측 센서 통신 두절",
        "severity": "low",
        "category": "facility",
    },
    "actions": [{"kind": "sop", "template": "facility-sensor-outage"}],
}

SENSOR_OUTAGE_SOP: dict[str, Any] = {
    "id": "facility-sensor-outage",
    "name": "계측 센서 통신 두절 대응",
    "description": "구조물 계측 센서가 응답하지 않을 때 통신·전원을 확인하고 유지보수를 요청한다.",
    "match": {"eventCodes": ["FAC0102"]},
    "steps": [
        {
            "id": "notify-manager",
            "title": "시설 관리 부서에 센서 무응답 통보",
            "role": "system",
            "dueMinutes": 1,
            "auto": {
                "kind": "notify",
                "agency": "facility-manager",
                "text": "[계측 센서 무응답] {eventName} - {place} ({time})",
            },
        },
        {
            "id": "check-gateway",
            "title": "게이트웨이·통신망·전원 상태 확인",
            "role": "operator",
            "dueMinutes": 60,
        },
        {
            "id": "request-repair",
            "title": "유지보수 업체에 점검·교체 요청",
            "role": "operator",
            "dueMinutes": 240,
        },
    ],
}

SERVICE = register(
    Service(
        id="facility",
        name="시설물 안전관리",
        title="Facility safety",
        description=(
            "Structural sensors (tilt, crack width, vibration) on old facilities: a data "
            "safety grade A-E per facility from thresholds and trends, an event with the "
            "facility-alarm SOP when it drops, and a report per facility."
        ),
        rules=(SENSOR_SILENT,),
        sops=(SENSOR_OUTAGE_SOP,),
        models=("Facility", "StructuralHealthObserved"),
        layers=("/cityhub/v1/facilities/layer",),
    )
)
