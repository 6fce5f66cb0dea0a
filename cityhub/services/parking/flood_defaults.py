"""Riverside lots in floods (하천변 주차장 침수 대피): the rules and SOP template the parking
service ships so a city clears its riverside lots when the river rises.

Riverside lots are ``OffStreetParking`` entities with ``riverside`` true; river gauges are
``FloodMonitoring`` entities (the SDM model: ``currentLevel`` and the gauge's own
``alertLevel``). Three rules (docs/rules.md), installed with the parking service's set-up:

- ``river-alert``: a gauge at or above its alert level raises ``DIS0100`` 하천 수위 경계
  (category ``flood``, so the built-in ``flood`` SOP starts: cameras by the river, the disaster
  center told), cleared when the level falls below it again;
- ``riverside-lot-occupied``: a riverside lot with cars in it (``PRK0110``, informational);
- ``riverside-flood``: both at once raise ``DIS0101`` 하천변 주차장 침수 대피 (critical) with
  the ``riverside-evacuation`` SOP; it clears when the lot is empty or the river is below the
  alert level.
"""

from __future__ import annotations

from typing import Any

EVENT_RIVER = ("DIS0100", "하천 수위 경계")
EVENT_LOT = ("PRK0110", "하천변 주차장 주차 차량 있음")
EVENT_EVACUATE = ("DIS0101", "하천변 주차장 침수 대피")
EVACUATION_SOP = "riverside-evacuation"

FLOOD_RULES: tuple[dict[str, Any], ...] = (
    {
        "id": "river-alert",
        "name": "하천 수위 경계 수위 도달",
        "description": "수위계의 현재 수위가 그 수위계의 경계 수위(alertLevel) 이상이다.",
        "kind": "threshold",
        "entityType": "FloodMonitoring",
        "compare": {"attribute": "currentLevel", "op": ">=", "than": "alertLevel"},
        "event": {
            "eventCode": EVENT_RIVER[0],
            "eventName": EVENT_RIVER[1],
            "severity": "high",
            "category": "flood",
        },
    },
    {
        "id": "riverside-lot-occupied",
        "name": "하천변 주차장 주차 차량 있음",
        "description": "하천변(riverside) 공영주차장에 주차된 차량이 있다.",
        "kind": "threshold",
        "entityType": "OffStreetParking",
        "q": "riverside==true;occupiedSpotNumber>0",
        "event": {
            "eventCode": EVENT_LOT[0],
            "eventName": EVENT_LOT[1],
            "severity": "informational",
            "category": "parking",
        },
    },
    {
        "id": "riverside-flood",
        "name": "하천 경계 수위 + 하천변 주차장 사용 중",
        "description": "강이 경계 수위를 넘었는데 하천변 주차장에 차가 있다: 차량 대피 안내.",
        "kind": "composite",
        "all": ["river-alert", "riverside-lot-occupied"],
        "event": {
            "eventCode": EVENT_EVACUATE[0],
            "eventName": EVENT_EVACUATE[1],
            "severity": "critical",
            "category": "flood",
        },
        "actions": [{"kind": "sop", "template": EVACUATION_SOP}],
    },
)

FLOOD_SOPS: tuple[dict[str, Any], ...] = (
    {
        "id": EVACUATION_SOP,
        "name": "하천변 주차장 차량 대피",
        "description": "하천이 경계 수위를 넘으면 하천변 주차장 차량을 대피시키고 진입을 막는다.",
        "match": {"eventCodes": [EVENT_EVACUATE[0]]},
        "steps": [
            {
                "id": "notify-traffic",
                "title": "교통·주차 부서에 차량 대피 요청",
                "role": "system",
                "dueMinutes": 1,
                "auto": {
                    "kind": "notify",
                    "agency": "traffic",
                    "text": "[침수 대피] {eventName} ({time}): 하천변 주차장 차량 이동 안내",
                },
            },
            {
                "id": "notify-disaster",
                "title": "재난안전상황실에 전파",
                "role": "system",
                "dueMinutes": 1,
                "auto": {"kind": "notify", "agency": "disaster-center"},
            },
            {
                "id": "announce",
                "title": "주차장 전광판·안내방송으로 차량 이동 안내",
                "role": "operator",
                "dueMinutes": 10,
            },
            {
                "id": "close-entrance",
                "title": "주차장 진입 차단",
                "role": "operator",
                "dueMinutes": 15,
            },
            {
                "id": "confirm-empty",
                "title": "CCTV로 차량 이동 완료 확인",
                "role": "operator",
                "dueMinutes": 30,
            },
            {
                "id": "close-report",
                "title": "상황 해제 및 결과 기록",
                "role": "supervisor",
                "dueMinutes": 240,
            },
        ],
    },
)
