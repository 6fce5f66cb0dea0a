"""The operations dashboard: the page at ``/``, its static files, and the live entity-change
feed its map listens to (docs/dashboard.md).

The page is built from ``web/`` (``make web``) into ``cityhub/web/static/``, which is shipped
with the package, so a hub serves it without Node.js or network access. :func:`install` puts
the change feed and the served site in the hub; :mod:`cityhub.web.routes` has the routes.
"""

from __future__ import annotations

from cityhub.ngsild.hub import Hub
from cityhub.web.changes import ChangeStreams
from cityhub.web.site import Site


def install(hub: Hub) -> None:
    """Put the live change feed and the dashboard's files in ``hub``."""
    changes = hub.extras["web_changes"] = ChangeStreams(hub.storage, hub.bus)
    hub.extras["web_site"] = Site.from_settings(hub.settings)
    hub.tasks.append(changes.run)

    async def close() -> None:
        changes.close()

    hub.closers.append(close)
