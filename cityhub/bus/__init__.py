"""The change stream: every committed entity change, in commit order, durable.

Every write to an entity appends one :class:`Change` to the storage's change log *in the same
transaction* (``changes`` table), so a committed change can never be missed by a feature that
reads the log: subscriptions, history, rules and the dashboard's live feed all consume it.

Two ways to listen:

* :class:`ChangeBus` (this module): in-process, right after the commit — a wake-up and a fast
  path. Handlers must be quick (hand work to their own queue); a failing handler is logged and
  never breaks the write that caused the change.
* :class:`cityhub.bus.feed.ChangeFeed`: a named, durable consumer. It keeps a cursor in the
  database, reads what it missed (a restart, another worker's writes) from the log, and takes
  changes straight from the bus when they follow its cursor with no gap.
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
    """One committed change of one entity.

    ``entity`` is the stored form after the change (before it, for a delete). ``prev`` holds,
    for every attribute the change touched, its instances before the change (``[]`` when the
    attribute is new): what changed is ``prev``'s keys, what it was is their values.
    """

    seq: int  # position in the change log; increases in commit order
    tenant: str
    entity_id: str
    op: str  # create | update | delete
    at: str  # NGSI-LD DateTime of the write
    entity: dict[str, Any]
    prev: dict[str, list[dict[str, Any]]]

    def current(self, name: str) -> list[dict[str, Any]]:
        """The instances of attribute ``name`` after the change ([] if gone)."""
        if self.op == DELETE:
            return []
        found: list[dict[str, Any]] = self.entity["attrs"].get(name, [])
        return found


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
