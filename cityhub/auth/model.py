"""Who may do what: permissions, roles, grants and the principal of a request.

A *permission* names one kind of action on one API family (``entities:read``). A *role* is a
set of permissions; cityhub ships the roles a city operations center needs (:data:`ROLES`) and
operators add their own. A *grant* gives a user a role in one tenant (``*``: every tenant),
optionally only for some entity types (a parking data provider writes ``ParkingSpot`` and
nothing else). A request's :class:`Principal` is the user (or API key) with its grants.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: every permission, with what it allows
PERMISSIONS: dict[str, str] = {
    "entities:read": "read entities, types and attributes (NGSI-LD), subscribe-free queries",
    "entities:write": "create, update and delete entities (NGSI-LD, batch operations)",
    "history:read": "read attribute history (NGSI-LD temporal API)",
    "history:write": "write and delete attribute history",
    "subscriptions:read": "list subscriptions and notification dead letters",
    "subscriptions:write": "create, change and delete subscriptions; retry dead letters",
    "contexts:write": "add and delete @contexts served by the hub",
    "iot:send": "send measures and entities through the ingest gateway (/iot/entities)",
    "iot:admin": "provision service groups and devices; inspect and replay dead letters",
    "models:read": "read the data models",
    "models:admin": "add, change and delete data models",
    "status:read": "read the hub's status (change-log consumers, MQTT ingest)",
    "events:read": "see situation events and their live feed",
    "events:write": "raise situation events and move them through their lifecycle",
    "linked:request": "file linked-service requests (112 / 119 / disaster / welfare agencies)",
    "care:walk": "start and follow one's own safe walks home (the center's staff: every walk)",
    "users:admin": "manage users, roles, grants and API keys",
    "audit:read": "read, verify and export the audit log",
}

_READ = ("entities:read", "history:read", "models:read")

#: the built-in roles (operators may add their own from PERMISSIONS)
ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset(PERMISSIONS),
    "supervisor": frozenset(
        (*_READ, "entities:write", "subscriptions:read", "subscriptions:write", "iot:admin")
        + ("status:read", "audit:read", "events:read", "events:write", "linked:request")
        + ("care:walk",)
    ),
    "operator": frozenset(
        (*_READ, "entities:write", "subscriptions:read", "subscriptions:write", "status:read")
        + ("events:read", "events:write", "linked:request", "care:walk")
    ),
    "agency": frozenset(
        (*_READ, "subscriptions:read", "subscriptions:write", "events:read", "linked:request")
    ),
    "provider": frozenset((*_READ, "entities:write", "history:write", "iot:send")),
    "consumer": frozenset((*_READ, "subscriptions:read", "subscriptions:write")),
    "citizen": frozenset(("entities:read", "models:read", "care:walk")),
    "auditor": frozenset(("audit:read", "status:read", "models:read")),
}

ALL_TENANTS = "*"


@dataclass(frozen=True, slots=True)
class Grant:
    """A role in a tenant (``*``: every tenant), optionally for some entity types only."""

    role: str
    tenant: str = ""
    types: frozenset[str] | None = None  # short type names; None: every type

    def json(self) -> dict[str, object]:
        """The API form."""
        body: dict[str, object] = {"role": self.role, "tenant": self.tenant}
        if self.types is not None:
            body["types"] = sorted(self.types)
        return body


@dataclass(frozen=True, slots=True)
class Access:
    """What a principal may do in one tenant."""

    permissions: frozenset[str] = frozenset()
    types: frozenset[str] | None = None  # entity types the permissions are limited to

    def allows(self, permission: str) -> bool:
        """True when the permission is granted (for some types at least)."""
        return permission in self.permissions


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user (logged in, or through one of their API keys), or nobody."""

    name: str
    kind: str  # user | apikey | anonymous | system
    grants: tuple[Grant, ...] = ()
    roles: dict[str, frozenset[str]] = field(default_factory=dict)  # role -> permissions

    def access(self, tenant: str) -> Access:
        """The permissions (and type limits) this principal has in ``tenant``."""
        if self.kind == "system":
            return Access(frozenset(PERMISSIONS))
        perms: set[str] = set()
        limited: set[str] = set()
        unlimited = False
        for grant in self.grants:
            if grant.tenant not in (tenant, ALL_TENANTS):
                continue
            perms |= self.roles.get(grant.role, ROLES.get(grant.role, frozenset()))
            if grant.types is None:
                unlimited = True
            else:
                limited |= grant.types
        return Access(frozenset(perms), None if unlimited or not perms else frozenset(limited))


SYSTEM = Principal("system", "system")
ANONYMOUS = Principal("anonymous", "anonymous")
