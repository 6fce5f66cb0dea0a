"""Care alerts (독거노인 응급안전 · 사회적 약자 지원): elderly people living alone, missing
children and dementia patients, and citizens walking home (REFERENCE §1 and §6).

    clock.py          stored times, observedAt, Seoul night hours
    readings.py       households and how a sensor reading changes them (pure)
    store.py          the households and alerts tables (migration 0019)
    alerts.py         a household's emergency filed as a 119 linked-service request; cleared
    households.py     the change-log consumer ``care`` and the periodic check of households
    missing.py        missing persons: vulnerable-people requests, moving locations, found
    walks.py          safe way home: walks, positions, overdue and off-route alerts
    offroute.py       metres from a walker to the route (shapely, metric projection)
    layer.py          the GeoJSON map layer (households coarse)
    service.py        CareService (``hub.extras["care"]``) and its periodic check
    common.py         input checks, event patches, audit details
    catalog.py        the catalog entry: heat- and cold-wave welfare checks
    routes.py         /cityhub/v1/care (missing_routes.py, walk_routes.py)

:func:`install` wires it into a hub, after :func:`cityhub.ops.install` (events, cameras, linked
services) and :func:`cityhub.ops.sop.install_sops` (the SOPs its events start).
"""

from __future__ import annotations

from cityhub.errors import BadRequestData, ConfigError
from cityhub.ngsild.hub import Hub
from cityhub.ops.cctv import CctvService
from cityhub.ops.events import EventService
from cityhub.ops.linked import LinkedService
from cityhub.services.care import catalog as catalog
from cityhub.services.care.clock import parse_night
from cityhub.services.care.households import CONSUMER
from cityhub.services.care.service import CareService


def install(hub: Hub) -> CareService:
    """Add the care service to ``hub``: its consumer and periodic check (again: the service
    already installed). A malformed ``care_night_hours`` stops the start here."""
    found = hub.extras.get("care")
    if isinstance(found, CareService):
        return found
    try:
        parse_night(hub.settings.care_night_hours, "care_night_hours")
    except BadRequestData as err:
        raise ConfigError(err.detail) from err
    events, cctv, linked = hub.extras["events"], hub.extras["cctv"], hub.extras["linked"]
    assert isinstance(events, EventService) and isinstance(cctv, CctvService)
    assert isinstance(linked, LinkedService)
    service = hub.extras["care"] = CareService(hub, events, cctv, linked)
    service.households.feed = hub.feed(CONSUMER, service.households.handle)
    hub.tasks.append(service.run)
    return service
