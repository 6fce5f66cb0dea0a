"""Smart crosswalks (스마트 횡단보도): stop-line violations and pedestrian counts per crosswalk
and hour, the violation rate and its change before and after a date (the Seongdong case).

    stats.py     the statistics from the recorded history (hourly rollup)
    routes.py    /cityhub/v1/crosswalks...
    catalog.py   the service in the catalog: its default rules
"""

from __future__ import annotations

from cityhub.services.crosswalk import catalog as catalog
from cityhub.services.crosswalk.routes import routes as routes

__all__ = ["catalog", "routes"]
