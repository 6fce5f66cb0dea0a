"""Facility safety (시설물 안전관리): structural sensors on retaining walls, bridges and old
buildings grade their facility A-E (the Guro case: 600 sensors on 139 facilities).

    grading.py   the threshold table (defaults, checks) and the grade of a measure
    service.py   the change-log consumer keeping grades current; grade-drop events
    report.py    a facility's report: grade history, readings, exceedances
    routes.py    /cityhub/v1/facilities...
    catalog.py   the service in the catalog: its default rule and SOP template
"""

from __future__ import annotations

from cityhub.ngsild.hub import Hub
from cityhub.services.facility import catalog as catalog
from cityhub.services.facility.grading import DEFAULTS, check_table
from cityhub.services.facility.routes import routes as routes
from cityhub.services.facility.service import FEED, FacilityService
from cityhub.services.thresholds import ThresholdStore
from cityhub.temporal.service import TemporalService


def install(hub: Hub, temporal: TemporalService) -> FacilityService:
    """Put the facility service in ``hub`` and register its change-log consumer."""
    thresholds = ThresholdStore(hub.storage, "facility", DEFAULTS, check_table)
    service = hub.extras["facility"] = FacilityService(hub, temporal, thresholds)
    hub.feed(FEED, service.handle)
    return service
