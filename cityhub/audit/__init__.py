"""The audit log: an append-only, hash-chained record of security-relevant actions.

    chain.py    how an entry is hashed (sha256 over its canonical JSON, prev included)
    store.py    AuditLog: record (serialised appends), verify, query, export ranges
    routes.py   GET /cityhub/v1/audit, /audit/verify, /audit/export (read-only)

:func:`install` wires it into a hub: the log in ``hub.extras["audit"]`` (where the routes and
:func:`cityhub.audit.routes.record_request` find it) and a starter that makes sure the
append-only triggers exist. docs/audit.md describes what is recorded and how to check it.
"""

from __future__ import annotations

from cityhub.audit.store import AuditEntry, AuditLog, VerifyResult
from cityhub.ngsild.hub import Hub

__all__ = ["AuditEntry", "AuditLog", "VerifyResult", "install"]


def install(hub: Hub) -> AuditLog:
    """Create the audit log of a hub (``hub.extras["audit"]``)."""
    audit = AuditLog(hub.storage)
    hub.extras["audit"] = audit
    hub.starters.append(audit.open)
    return audit
