"""The hub: the NGSI-LD service objects one app instance holds (reached from a request)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from cityhub.bus import ChangeBus
from cityhub.bus.feed import ChangeFeed, FeedHandler
from cityhub.ngsild.context import ContextLoader
from cityhub.ngsild.service import EntityService
from cityhub.settings import Settings
from cityhub.storage.base import Storage

Job = Callable[[], Coroutine[Any, Any, None]]


@dataclass(slots=True)
class Hub:
    """Settings, storage, change stream, @context loader and entity service of one app."""

    settings: Settings
    storage: Storage
    bus: ChangeBus
    contexts: ContextLoader
    entities: EntityService
    feeds: dict[str, ChangeFeed] = field(default_factory=dict)
    starters: list[Job] = field(default_factory=list)  # run once storage is open
    tasks: list[Job] = field(default_factory=list)  # background jobs run while serving
    closers: list[Job] = field(default_factory=list)  # run at shutdown
    extras: dict[str, Any] = field(default_factory=dict)  # feature services, by feature name

    def feed(self, name: str, handler: FeedHandler, *, batch: int = 500) -> ChangeFeed:
        """Register a durable change-log consumer; it runs while the app serves."""
        feed = ChangeFeed(self.storage, self.bus, name, handler, batch=batch)
        self.feeds[name] = feed
        return feed


def hub_of(request: Request) -> Hub:
    """The Hub of the app serving ``request``."""
    hub: Hub = request.app.state.hub
    return hub
