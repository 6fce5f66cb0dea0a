"""The hub: the NGSI-LD service objects one app instance holds (reached from a request)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from cityhub.bus import ChangeBus
from cityhub.ngsild.context import ContextLoader
from cityhub.ngsild.service import EntityService
from cityhub.settings import Settings
from cityhub.storage.base import Storage


@dataclass(slots=True)
class Hub:
    """Settings, storage, change stream, @context loader and entity service of one app."""

    settings: Settings
    storage: Storage
    bus: ChangeBus
    contexts: ContextLoader
    entities: EntityService


def hub_of(request: Request) -> Hub:
    """The Hub of the app serving ``request``."""
    hub: Hub = request.app.state.hub
    return hub
