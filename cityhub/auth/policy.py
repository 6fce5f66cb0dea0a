"""Which permission a request needs, from its method and path (None: anyone may), and in
which scope it is looked for.

Most permissions hold in a tenant: the grants for the request's tenant (``NGSILD-Tenant`` or
``fiware-service``) count. Users, roles, the audit log, the hub's status and changes to data
models concern every tenant at once, so only grants for every tenant (``*``) count for them:
an administrator of one district cannot make themselves administrator of the city. Reading the
data models needs the permission in any tenant.
"""

from __future__ import annotations

_SAFE = frozenset(("GET", "HEAD", "OPTIONS"))

TENANT, GLOBAL, ANY = "tenant", "global", "any"
#: permissions looked for in grants for every tenant only, or in any grant
SCOPES = {
    "users:admin": GLOBAL,
    "audit:read": GLOBAL,
    "status:read": GLOBAL,
    "models:admin": GLOBAL,
    "models:read": ANY,
}

#: (path prefix, permission for reads, permission for writes), most specific first
_RULES: tuple[tuple[str, str, str], ...] = (
    ("/ngsi-ld/v1/temporal/", "history:read", "history:write"),
    ("/ngsi-ld/v1/subscriptions", "subscriptions:read", "subscriptions:write"),
    ("/ngsi-ld/v1/jsonldContexts", "", "contexts:write"),  # serving contexts is public
    ("/ngsi-ld/v1/", "entities:read", "entities:write"),
    ("/iot/entities", "iot:send", "iot:send"),
    ("/iot/", "iot:admin", "iot:admin"),
    ("/cityhub/v1/dead-letters", "subscriptions:read", "subscriptions:write"),
    ("/cityhub/v1/models", "models:read", "models:admin"),
    ("/cityhub/v1/status", "status:read", "status:read"),
    ("/cityhub/v1/audit", "audit:read", "audit:read"),
    ("/cityhub/v1/events", "events:read", "events:write"),
    ("/cityhub/v1/rules", "events:read", "events:write"),
    ("/cityhub/v1/cctv", "events:read", "events:write"),
    ("/cityhub/v1/sops", "events:read", "events:write"),
    ("/cityhub/v1/inbox", "events:read", "events:read"),
    ("/cityhub/v1/linked", "events:read", "linked:request"),
    ("/cityhub/v1/kpis", "events:read", "events:read"),
    ("/cityhub/v1/devices", "events:read", "events:read"),  # silent sensors (a KPI)
    ("/cityhub/v1/changes", "entities:read", "entities:read"),  # the map's live feed
    ("/cityhub/v1/services", "events:read", "events:write"),
    # care: a citizen's own walks home; missing persons are reported like linked requests;
    # households, their alerts and the care map are sensitive: the center's staff only
    ("/cityhub/v1/care/walks", "care:walk", "care:walk"),
    ("/cityhub/v1/care/missing", "events:read", "linked:request"),
    ("/cityhub/v1/care", "events:write", "events:write"),
    # facility reports and crosswalk stats are history; thresholds decide events
    ("/cityhub/v1/facilities/thresholds", "entities:read", "events:write"),
    ("/cityhub/v1/facilities/layer", "entities:read", "entities:read"),
    ("/cityhub/v1/facilities/", "history:read", "history:read"),
    ("/cityhub/v1/facilities", "entities:read", "entities:read"),
    ("/cityhub/v1/electrical/thresholds", "entities:read", "events:write"),
    ("/cityhub/v1/electrical", "entities:read", "entities:read"),
    ("/cityhub/v1/crosswalks/stats", "history:read", "history:read"),
    ("/cityhub/v1/crosswalks", "entities:read", "entities:read"),
    ("/cityhub/v1/air", "entities:read", "entities:write"),  # air quality is public data
    # drivers opt their phones in and out themselves (the route keeps each to their own)
    ("/cityhub/v1/parking/enforcement/phones", "entities:read", "entities:read"),
    ("/cityhub/v1/parking/enforcement", "events:read", "events:write"),
    ("/cityhub/v1/parking", "entities:read", "entities:write"),  # drivers and owners too
    ("/cityhub/v1/users", "users:admin", "users:admin"),
    ("/cityhub/v1/roles", "users:admin", "users:admin"),
)

#: open to anyone: the version, logging in, and device measures (their API key is the
#: credential, checked by ingest, as in the FIWARE IoT Agents)
PUBLIC = frozenset(
    (
        "/version",
        "/cityhub/v1/auth/login",
        "/cityhub/v1/auth/oidc/login",
        "/cityhub/v1/auth/oidc/callback",
        "/cityhub/v1/openapi.json",
        # the integrated platform's interworking: its own apiKey and session-key handshake
        "/api/getAuth.json",
        "/linkHttp/recvEvent.json",
        "/linkHttp/recvRequest.json",
        "/iot/json",
        "/iot/d",
        "/",  # the dashboard page: it holds no data, its data calls need a login
    )
)
#: path prefixes open to anyone: the dashboard's scripts, styles and base map
PUBLIC_PREFIXES = ("/static/",)
#: for any logged-in principal (what they do there is checked by the route)
SIGNED_IN = ("/cityhub/v1/auth/", "/cityhub/v1/apikeys")

#: reads that are queries although they are POSTs
_QUERY_POSTS = ("/ngsi-ld/v1/entityOperations/query", "/ngsi-ld/v1/temporal/entityOperations/query")


def required(method: str, path: str) -> str | None:
    """The permission ``method path`` needs; None when anyone may call it, ``""`` when any
    logged-in principal may."""
    if path in PUBLIC or path.startswith(PUBLIC_PREFIXES):
        return None
    if path.startswith(SIGNED_IN):
        return ""
    read = method in _SAFE or path.rstrip("/") in _QUERY_POSTS
    for prefix, for_read, for_write in _RULES:
        if path.startswith(prefix):
            needed = for_read if read else for_write
            return None if needed == "" else needed
    return "users:admin"  # anything not listed: administrators only


def is_entity_read(method: str, path: str) -> bool:
    """A read of entities or their history (where public types and type limits apply)."""
    if not path.startswith("/ngsi-ld/v1/"):
        return False
    if method not in _SAFE and path.rstrip("/") not in _QUERY_POSTS:
        return False
    return path.startswith(("/ngsi-ld/v1/entities", "/ngsi-ld/v1/temporal/entities")) or (
        path.rstrip("/") in _QUERY_POSTS
    )
