"""The smart crosswalk service in the service catalog: its default rules (many stop-line
violations in one interval; a crosswalk device gone silent)."""

from __future__ import annotations

from typing import Any

from cityhub.services.catalog import Service, register

VIOLATIONS: dict[str, Any] = {
    "id": "crosswalk-violations",
    "name": "정지선 위반 다발 (집계 구간당 10건 이상)",
    "description": "Ten or more stop-line violations in one counting interval of a crosswalk.",
    "kind": "threshold",
    "entityType": "CrosswalkObserved",
    "q": "stopLineViolations>=10",
    "event": {
        "eventCode": "TRF0201",
        "eventName": "횡단보도 정지선 위반 다발",
        "severity": "low",
        "category": "traffic",
    },
}

DEVICE_SILENT: dict[str, Any] = {
    "id": "crosswalk-silent",
    "name": "스마트 횡단보도 2시간 무응답",
    "description": "A smart crosswalk that sent no counts for 2 hours.",
    "kind": "absence",
    "entityType": "CrosswalkObserved",
    "for": "PT2H",
    "event": {
        "eventCode": "TRF0202",
        "eventName": "스마트 횡단보도 통신 두절",
        "severity": "low",
        "category": "facility",
    },
}

SERVICE = register(
    Service(
        id="crosswalk",
        name="스마트 횡단보도",
        title="Smart crosswalk",
        description=(
            "Stop-line violations, vehicle and pedestrian counts per crosswalk and hour of "
            "the day, the violation rate, and the rate before and after a change."
        ),
        rules=(VIOLATIONS, DEVICE_SILENT),
        models=("CrosswalkObserved",),
        layers=("/cityhub/v1/crosswalks/layer",),
    )
)
