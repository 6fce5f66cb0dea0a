"""The change stream: every committed entity change, published to whoever subscribed.

Storage commits first, then the NGSI-LD service publishes one :class:`Change` per entity that
changed, in commit order. Subscriptions, history, rules and the dashboard's live feed all hang
off :meth:`ChangeBus.subscribe`; a handler must be quick (hand work to its own queue) and a
failing handler is logged, never allowed to break the write that caused the change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

CREATE, UPDATE, DELETE = "create", "update", "delete"


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change of one entity (stored form before and after)."""

    tenant: str
    entity_id: str
    op: str  # create | update | delete
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    at: str  # commit time, NGSI-LD DateTime


Handler = Callable[[Sequence[Change]], None]


class ChangeBus:
    """In-process publish/subscribe of committed changes."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        """Call ``handler`` with every batch of changes; returns an unsubscribe function."""
        self._handlers.append(handler)
        return lambda: self._handlers.remove(handler)

    def publish(self, changes: Sequence[Change]) -> None:
        """Deliver changes to every handler, isolating handler failures."""
        if not changes:
            return
        for handler in list(self._handlers):
            try:
                handler(changes)
            except Exception:
                log.exception("change handler %r failed", handler)
