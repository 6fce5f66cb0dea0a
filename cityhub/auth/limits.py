"""Entity-type limits of the request being served (a grant with ``types``, or anonymous reads
of the public types), applied by the entity and temporal services to every read and write.

The limit travels in a context variable set by the auth gate; background work (change-log
consumers, ingest over MQTT) runs outside any request and is not limited.
"""

from __future__ import annotations

from contextvars import ContextVar

from cityhub.datamodels.model import short_name
from cityhub.errors import Forbidden

#: short entity type names the current request may touch; None: no limit
TYPE_LIMIT: ContextVar[frozenset[str] | None] = ContextVar("cityhub_type_limit", default=None)


def current() -> frozenset[str] | None:
    """The type limit of the request being served."""
    return TYPE_LIMIT.get()


def visible(types: list[str], limit: frozenset[str] | None) -> bool:
    """May an entity of these (expanded) types be read under ``limit``?"""
    return limit is None or any(short_name(t) in limit for t in types)


def check_write(entity_id: str, types: list[str], limit: frozenset[str] | None) -> None:
    """Forbidden unless every type of the entity written is within ``limit``."""
    if limit is None:
        return
    outside = sorted({short_name(t) for t in types} - limit)
    if outside:
        raise Forbidden(
            f"entity {entity_id} is of type {', '.join(outside)}, outside the types this "
            f"account may change ({', '.join(sorted(limit))})"
        )
