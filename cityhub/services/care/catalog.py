"""The care service in the service catalog: what ``POST /cityhub/v1/services/care/setup``
installs in a tenant.

The household emergencies, missing persons and safe walks need no rule: the service watches
them itself (households.py says why). What a tenant gets are the welfare checks of heat and
cold waves: a weather station over 33 °C for two hours (the 폭염주의보 level of the daily
maximum; a proxy, change it to the city's own criterion) or at or below −12 °C for two hours
(the 한파주의보 level of the morning minimum) raises an event whose SOP has the operators call
the enrolled households and send someone to those who do not answer.
"""

from __future__ import annotations

from typing import Any

from cityhub.services.catalog import Service, register

WELFARE_SOP = "care-welfare-check"

HEAT_WAVE: dict[str, Any] = {
    "id": "care-heatwave",
    "name": "폭염: 독거노인 안부 확인",
    "description": "관측소 기온 33°C 이상 2시간 지속 시 돌봄 가구 안부 확인 (31°C 미만이면 해제)",
    "kind": "threshold",
    "entityType": "WeatherObserved",
    "q": "temperature>=33",
    "for": "PT2H",
    "clear": "temperature<31",
    "event": {
        "eventCode": "CARE0401",
        "eventName": "폭염 독거노인 안부 확인",
        "severity": "medium",
        "category": "environment",
    },
    "actions": [{"kind": "sop", "template": WELFARE_SOP}],
}

COLD_WAVE: dict[str, Any] = {
    "id": "care-coldwave",
    "name": "한파: 독거노인 안부 확인",
    "description": "관측소 기온 -12°C 이하 2시간 지속 시 돌봄 가구 안부 확인 (-10°C 초과면 해제)",
    "kind": "threshold",
    "entityType": "WeatherObserved",
    "q": "temperature<=-12",
    "for": "PT2H",
    "clear": "temperature>-10",
    "event": {
        "eventCode": "CARE0402",
        "eventName": "한파 독거노인 안부 확인",
        "severity": "medium",
        "category": "environment",
    },
    "actions": [{"kind": "sop", "template": WELFARE_SOP}],
}

WELFARE_CHECK: dict[str, Any] = {
    "id": WELFARE_SOP,
    "name": "폭염·한파 독거노인 안부 확인",
    "description": (
        "폭염·한파 시 돌봄 가구의 최근 활동을 보고 안부를 확인하며, 응답 없는 가구는 방문한다."
    ),
    "match": {"eventCodes": ["CARE0401", "CARE0402"]},
    "steps": [
        {
            "id": "review-households",
            "title": "돌봄 가구 최근 활동·실내 온도 확인 (/cityhub/v1/care/households)",
            "role": "operator",
            "dueMinutes": 30,
        },
        {
            "id": "call-households",
            "title": "생활지원사 통해 돌봄 가구 안부 전화",
            "role": "operator",
            "dueMinutes": 120,
        },
        {
            "id": "visit-unanswered",
            "title": "응답 없는 가구 방문 요청",
            "role": "operator",
            "dueMinutes": 180,
        },
        {
            "id": "close-report",
            "title": "확인 결과 기록 및 종료",
            "role": "supervisor",
            "dueMinutes": 720,
        },
    ],
}

SERVICE = register(
    Service(
        id="care",
        name="독거노인 응급안전 · 사회적 약자 지원",
        title="Care alerts: elderly living alone, missing children and dementia patients, "
        "safe way home",
        description=(
            "Elderly-alone households watched through motion, door, temperature and "
            "emergency-button sensors: no activity for N hours, a cold or hot home, a button "
            "press file a 119 linked-service request; a missing child or dementia patient's "
            "location shares the nearest cameras with police (vulnerable-people service); a "
            "citizen's walk home raises an alert when overdue or off route."
        ),
        rules=(HEAT_WAVE, COLD_WAVE),
        sops=(WELFARE_CHECK,),
        models=("CareHousehold", "Device", "CityEvent", "CCTVCamera"),
        layers=("/cityhub/v1/care/layer",),
    )
)
