"""Electrical-fire sensing (IoT 전기화재 예방): sensors on distribution panels of markets and old
houses grade each reading normal, caution or danger (the Daejeon case).

    grading.py   the threshold table (defaults, checks) and the grade of a reading
    service.py   the change-log consumer keeping panel states and events; the clearing sweep
    routes.py    /cityhub/v1/electrical...
    catalog.py   the service in the catalog: its default rule and SOP template
"""

from __future__ import annotations

from cityhub.ngsild.hub import Hub
from cityhub.services.electrical import catalog as catalog
from cityhub.services.electrical.grading import DEFAULTS, check_table
from cityhub.services.electrical.routes import routes as routes
from cityhub.services.electrical.service import FEED, ElectricalService
from cityhub.services.thresholds import ThresholdStore


def install(hub: Hub) -> ElectricalService:
    """Put the electrical service in ``hub``: its change-log consumer and clearing sweep."""
    thresholds = ThresholdStore(hub.storage, "electrical", DEFAULTS, check_table)
    service = hub.extras["electrical"] = ElectricalService(hub, thresholds)
    hub.feed(FEED, service.handle)
    hub.tasks.append(service.sweep_loop)
    return service
