"""The gate every HTTP request passes: who is calling, and may they do this here.

Credentials, in this order: ``Authorization: Bearer <token or API key>``, ``X-API-Key``, the
session cookie set at login (then a request that changes something must also send the
``X-CSRF-Token`` header equal to the ``cityhub_csrf`` cookie: double-submit, so another site
cannot make a logged-in browser write). The permission a request needs comes from
:mod:`cityhub.auth.policy`, the tenant from ``NGSILD-Tenant`` (or ``fiware-service``).

A principal limited to some entity types (a grant with ``types``), or an anonymous reader of
the public types, gets those types in :data:`TYPE_LIMIT` for the request; the entity service
applies it to every read and write (see :func:`cityhub.auth.limits`).

Looked-up tokens are kept ``_CACHE_S`` seconds per worker: a revoked token or a changed grant
takes effect within that time (at once in the worker that made the change).
"""

from __future__ import annotations

import hmac
import time
from http.cookies import SimpleCookie
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cityhub.auth.limits import TYPE_LIMIT
from cityhub.auth.model import ALL_TENANTS, ANONYMOUS, SYSTEM, Principal
from cityhub.auth.oidc import OidcVerifier
from cityhub.auth.policy import ANY, GLOBAL, SCOPES, TENANT, is_entity_read, required
from cityhub.auth.store import APIKEY, LOGIN, AuthStore, token_hash
from cityhub.errors import BadRequestData, Forbidden, NgsiError, Unauthenticated
from cityhub.ngsild.http import problem_response, tenant_in

SESSION_COOKIE = "cityhub_session"
CSRF_COOKIE = "cityhub_csrf"
_CACHE_S = 5.0
_CACHE_MAX = 10_000
_SAFE = frozenset((b"GET", b"HEAD", b"OPTIONS"))
#: changes recorded in the audit log by the gate (users, roles and keys record their own)
_AUDITED = frozenset(("iot:admin", "models:admin", "contexts:write", "subscriptions:write"))


class AuthGate:
    """Authentication and authorization in front of the app (pure ASGI)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: AuthStore,
        enabled: bool,
        public_types: frozenset[str],
        oidc: OidcVerifier | None = None,
        audit: Any = None,
    ) -> None:
        self.app = app
        self.store = store
        self.enabled = enabled
        self.public_types = public_types
        self.oidc = oidc
        self.audit = audit  # cityhub.audit.AuditLog: administrative changes and denials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if not self.enabled:
            state["principal"] = SYSTEM
            await self.app(scope, receive, send)
            return
        try:
            principal, limit = await self._admit(scope)
        except NgsiError as err:
            response = problem_response(err)
            if isinstance(err, Unauthenticated):
                response.headers["WWW-Authenticate"] = 'Bearer realm="cityhub"'
            elif isinstance(err, Forbidden) and "principal" in state:
                await self._record(scope, state["principal"], "access.denied", err.status)
            await response(scope, receive, send)
            return
        state["principal"] = principal
        needed = required(scope["method"], scope["path"])
        if needed not in _AUDITED or scope["method"].encode() in _SAFE or self.audit is None:
            token = TYPE_LIMIT.set(limit)
            try:
                await self.app(scope, receive, send)
            finally:
                TYPE_LIMIT.reset(token)
            return
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        token = TYPE_LIMIT.set(limit)
        try:
            await self.app(scope, receive, watch)
        finally:
            TYPE_LIMIT.reset(token)
            if status < 400:  # an administrative change was made: who, what, where
                family = needed.split(":")[0] if needed else "admin"
                await self._record(scope, principal, f"admin.{family}", status)

    async def _record(self, scope: Scope, principal: Principal, action: str, status: int) -> None:
        client = scope.get("client")
        if self.audit is None:
            return
        await self.audit.record(
            principal.name,
            action,
            target=scope["path"],
            tenant=_named_tenant(scope),
            outcome="ok" if status < 400 else "denied",
            detail={"method": scope["method"], "status": status},
            ip=client[0] if client else "",
        )

    async def _admit(self, scope: Scope) -> tuple[Principal, frozenset[str] | None]:
        method, path = scope["method"], scope["path"]
        needed = required(method, path)
        if needed is None:  # open to anyone: credentials, good or bad, do not matter
            return ANONYMOUS, None
        headers = _headers(scope)
        principal = await self._principal(scope, headers)
        scope["state"]["principal"] = principal  # known, whatever is decided next
        if principal is ANONYMOUS:
            if self.public_types and is_entity_read(method, path):
                return principal, self.public_types  # open data: the public types only
            raise Unauthenticated(
                "log in (POST /cityhub/v1/auth/login) or send a token or API key "
                "(Authorization: Bearer ...)"
            )
        if needed == "":
            return principal, None
        scope_of = SCOPES.get(needed, TENANT)
        if scope_of == ANY:
            if any(principal.access(g.tenant).allows(needed) for g in principal.grants):
                return principal, None
            raise Forbidden(f"{principal.name} may not {_what(needed)}")
        tenant = ALL_TENANTS if scope_of == GLOBAL else tenant_in(scope["headers"])
        access = principal.access(tenant)
        if not access.allows(needed):
            if scope_of == GLOBAL:
                where = "(it needs a grant for every tenant, *)"
            else:
                where = f"in tenant {tenant!r}" if tenant else "in the default tenant"
            raise Forbidden(f"{principal.name} may not {_what(needed)} {where}")
        return principal, access.types

    async def _principal(self, scope: Scope, headers: dict[str, str]) -> Principal:
        secret = _bearer(headers) or headers.get("x-api-key")
        if not secret:
            cookies = _cookies(headers)
            secret = cookies.get(SESSION_COOKIE)
            if not secret:
                return ANONYMOUS
            if scope["method"].encode() not in _SAFE:
                sent = headers.get("x-csrf-token", "")
                expected = cookies.get(CSRF_COOKIE, "")
                if not expected or not hmac.compare_digest(sent, expected):
                    raise Forbidden(
                        "a change made with a session cookie needs the X-CSRF-Token header "
                        "(the value of the cityhub_csrf cookie)"
                    )
        principal = await self._lookup(secret)
        if principal is None:
            raise Unauthenticated("the token or API key is not valid (unknown, expired or revoked)")
        return principal

    async def _lookup(self, secret: str) -> Principal | None:
        key = token_hash(secret)
        now = time.monotonic()
        cache = self.store.principals
        hit = cache.get(key)
        if hit is not None and now - hit[0] < _CACHE_S:
            return hit[1]
        principal: Principal | None = None
        if self.oidc is not None and secret.count(".") == 2 and not secret.startswith("ch"):
            custom = {n: perms for n, (perms, _d) in (await self.store.roles()).items()}
            principal = await self.oidc.principal(secret, custom)  # a JWT of the city's IdP
        else:
            found = await self.store.by_token(secret)
            if found is not None and found[1].kind in (LOGIN, APIKEY):  # not other kinds
                principal = await self.store.principal(found[0])
        cache[key] = (now, principal)
        cache.move_to_end(key)
        while len(cache) > _CACHE_MAX:
            cache.popitem(last=False)
        return principal


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


def _named_tenant(scope: Scope) -> str:
    """The request's tenant for the audit log (as given, when it is not a valid one)."""
    try:
        return tenant_in(scope["headers"])
    except BadRequestData:
        return "(invalid)"


def _bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _cookies(headers: dict[str, str]) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # noqa: BLE001 - a malformed cookie header is no credential
        return {}
    return {k: m.value for k, m in jar.items()}


def _what(permission: str) -> str:
    family, _, verb = permission.partition(":")
    return {"read": "read", "write": "change", "admin": "administer", "send": "send"}.get(
        verb, verb
    ) + f" {family}"


def principal_of(scope_or_request: Any) -> Principal:
    """The principal of a request (SYSTEM when the gate is off or absent)."""
    state = getattr(scope_or_request, "state", None)
    found = getattr(state, "principal", None) if state is not None else None
    return found if isinstance(found, Principal) else SYSTEM
