"""Air quality (미세먼지 모니터링): the Korean CAI per station and district, 24-h PM averages
from recorded history, and district fine-dust alerts (주의보/경보) as operations-center events
(docs/services/air.md).

    cai.py        the CAI: sub-indices by the AirKorea breakpoints, grade, dominant pollutant
    alerts.py     the alert levels and thresholds; the decision for one hour
    places.py     stations (AirQualityObserved), districts (District) and who belongs where
    history.py    hourly and 24-h averages from the temporal store
    alerting.py   district hourly values; raising, updating, lowering and lifting the events
    service.py    the ``air`` change-log consumer writing each station's CAI
    views.py      the API's representations; routes.py the routes (/cityhub/v1/air)

Importing the package registers it in the service catalog; :func:`install` wires it into a hub
(after the operations center, with the temporal service whose history it reads).
"""

from __future__ import annotations

from cityhub.services.air.service import AirService, install
from cityhub.services.catalog import Service, register

#: a station that stops sending cannot show its CAI nor move an alert: tell the operators
STATION_SILENT = {
    "id": "air-station-silent",
    "name": "대기측정소 3시간 자료 없음",
    "description": "An air-quality station sent nothing for 3 hours: its CAI is stale and "
    "its district's alerts are evaluated without it.",
    "kind": "absence",
    "entityType": "AirQualityObserved",
    "for": "PT3H",
    "event": {
        "eventCode": "ENV0090",
        "eventName": "대기측정소 자료 수신 중단",
        "severity": "low",
        "category": "environment",
    },
}

SERVICE = register(
    Service(
        id="air",
        name="미세먼지 모니터링",
        title="Air quality monitoring",
        description=(
            "Korean CAI (통합대기환경지수) and grade per station and district from 24-hour PM "
            "and 1-hour gas averages; 미세먼지·초미세먼지 주의보/경보 per district raised and "
            "lifted by the service as environment events that start the fine-dust SOP; a map "
            "layer coloured by grade."
        ),
        rules=(STATION_SILENT,),
        models=("AirQualityObserved", "District"),
        layers=("/cityhub/v1/air/layer",),
        extra={"sopTemplate": "fine-dust", "alerts": "evaluated by the service, per district"},
    )
)

__all__ = ["SERVICE", "AirService", "install"]
