"""What enforcement ships for a city to set up: its situation-event codes, default rules and
SOP templates (registered with the parking service in the catalog, services/catalog.py, and
installed per tenant by ``POST /cityhub/v1/services/parking/setup``)."""

from __future__ import annotations

from typing import Any

#: (eventCode, eventName) of the events violations raise
EVENT_FIRE = ("TRF0105", "소화전·소방시설 주변 불법 주정차")
EVENT_OTHER = ("TRF0106", "즉시 단속 구역 불법 주정차")
EVENT_BURST = ("TRF0107", "불법 주정차 다발")

#: default situation rules (docs/rules.md)
ENFORCEMENT_RULES: tuple[dict[str, Any], ...] = (
    {
        "id": "parking-violation-burst",
        "name": "불법 주정차 1시간 10건 이상",
        "description": "단속 카메라가 1시간에 10건 이상 위반을 확정하면 단속 인력 배치를 검토한다.",
        "kind": "count",
        "entityType": "ParkingViolation",
        "q": 'status=="confirmed"',
        "count": 10,
        "window": "PT1H",
        "event": {
            "eventCode": EVENT_BURST[0],
            "eventName": EVENT_BURST[1],
            "severity": "low",
            "category": "traffic",
        },
    },
)

#: default SOP templates (docs/operations-center.md)
ENFORCEMENT_SOPS: tuple[dict[str, Any], ...] = (
    {
        "id": "parking-hydrant",
        "name": "소화전 주변 불법 주정차 대응",
        "description": "소화전·소방시설 5 m 이내 주정차를 관할 119안전센터에 알리고 견인한다.",
        "match": {"eventCodes": [EVENT_FIRE[0]]},
        "steps": [
            {
                "id": "find-cctv",
                "title": "현장 주변 CCTV 검색",
                "role": "system",
                "dueMinutes": 1,
                "auto": {"kind": "nearestCctv", "count": 3, "maxDistance": 200},
            },
            {
                "id": "notify-fire",
                "title": "관할 119안전센터에 소화전 앞 주정차 통보",
                "role": "system",
                "dueMinutes": 1,
                "auto": {
                    "kind": "notify",
                    "agency": "fire119",
                    "text": "[소화전 불법 주정차] {eventName} - {place} ({time})",
                },
            },
            {
                "id": "dispatch-tow",
                "title": "견인차 출동 요청",
                "role": "operator",
                "dueMinutes": 10,
            },
            {
                "id": "confirm-cleared",
                "title": "차량 이동·견인 확인 (위반 상태 towed 또는 cleared)",
                "role": "operator",
                "dueMinutes": 60,
            },
            {
                "id": "close-report",
                "title": "결과 기록 및 종료",
                "role": "supervisor",
                "dueMinutes": 120,
            },
        ],
    },
    {
        "id": "parking-burst",
        "name": "불법 주정차 다발 대응",
        "description": "위반이 몰리는 시간·구역에 단속 인력을 배치하고 결과를 기록한다.",
        "match": {"eventCodes": [EVENT_BURST[0]]},
        "steps": [
            {
                "id": "review-stats",
                "title": "구역·시간대별 단속 통계 확인",
                "role": "operator",
                "dueMinutes": 15,
            },
            {
                "id": "assign-officers",
                "title": "단속 요원·이동식 단속 차량 배치",
                "role": "supervisor",
                "dueMinutes": 30,
            },
            {
                "id": "close-report",
                "title": "결과 기록 및 종료",
                "role": "supervisor",
                "dueMinutes": 240,
            },
        ],
    },
)
