"""Situation rules (상황 규칙): declarative rules evaluated on the change stream that raise and
clear operations-center events (the integrated platform's situation control).

    model.py    rule documents: kinds, validation, the compiled form
    engine.py   pure evaluation: (changes | clock tick, state rows) -> new state, actions
    store.py    rules, state and pending actions (migration 0011), one transaction per step
    service.py  the rules cache (hot reload), the ``rules`` consumer, the periodic check
    dryrun.py   replaying a rule over recorded history
    routes.py   /cityhub/v1/rules

:func:`install` wires it into a hub (after :func:`cityhub.ops.install`, whose event service
it uses); ``routes.routes`` are its HTTP routes.
"""

from __future__ import annotations

from cityhub.ngsild.hub import Hub
from cityhub.ops.events import EventService
from cityhub.ops.rules.service import CONSUMER, RulesService


def install(hub: Hub) -> RulesService:
    """Add situation rules to ``hub``: the change-log consumer, reload and periodic check
    (again: the service already installed)."""
    found = hub.extras.get("rules")
    if isinstance(found, RulesService):
        return found
    events = hub.extras.get("events")
    if not isinstance(events, EventService):
        events = hub.extras["events"] = EventService(hub)
    service = hub.extras["rules"] = RulesService(hub, events)
    service.feed = hub.feed(CONSUMER, service.handle)
    hub.starters.append(service.reload)
    hub.tasks.append(service.watch)
    hub.tasks.append(service.run)
    return service
