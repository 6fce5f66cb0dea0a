"""Wiring of the subscription feature into a hub: store, matcher, routes, background jobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cityhub.ngsild.filters import EntityQuery
from cityhub.ngsild.hub import Hub
from cityhub.subscriptions.delivery import Deliverer
from cityhub.subscriptions.matcher import CONSUMER, Matcher
from cityhub.subscriptions.outbox import OutboxStore, outbox_store
from cityhub.subscriptions.store import SubscriptionStore, subscription_store


@dataclass(slots=True)
class Subscriptions:
    """The subscription feature of one hub (``hub.extras["subscriptions"]``)."""

    store: SubscriptionStore
    matcher: Matcher
    outbox: OutboxStore


def install(hub: Hub) -> Subscriptions:
    """Add subscriptions to ``hub``: its change-log consumer, reload and periodic jobs."""
    store = subscription_store(hub.storage)
    matcher = Matcher(store, hub.contexts.core)
    outbox = outbox_store(hub.storage)
    feature = Subscriptions(store, matcher, outbox)
    hub.extras["subscriptions"] = feature

    async def periodic_query(tenant: str, query: EntityQuery) -> list[Any]:
        return (await hub.entities.query(tenant, query)).entities

    matcher.periodic_query = periodic_query
    deliverer = Deliverer(outbox, hub.settings)
    hub.extras["deliverer"] = deliverer
    matcher.outlet = deliverer
    hub.tasks.append(deliverer.run)
    hub.closers.append(deliverer.close)
    hub.feed(CONSUMER, matcher.handle)
    hub.starters.append(matcher.reload)
    hub.tasks.append(matcher.watch)
    hub.tasks.append(matcher.periodic)
    return feature
