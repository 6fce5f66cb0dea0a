"""Login, users, roles and API keys.

- ``POST /cityhub/v1/auth/login`` ``{"username", "password"}`` → ``{"access_token",
  "token_type": "Bearer", "expires_in"}``, and a session cookie with its CSRF cookie for
  browsers; ``POST /cityhub/v1/auth/logout``; ``GET /cityhub/v1/auth/me``.
- ``/cityhub/v1/users`` (``users:admin``): list, create (a generated password is returned
  once when none is given), show, change (password, disabled, grants), delete.
- ``/cityhub/v1/roles`` (``users:admin``): the built-in and custom roles; PUT/DELETE custom.
- ``/cityhub/v1/apikeys``: a user's own API keys (every key for ``users:admin``); the key is
  shown once, when created.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityhub.audit.routes import record_request
from cityhub.auth.middleware import CSRF_COOKIE, SESSION_COOKIE, principal_of
from cityhub.auth.model import ALL_TENANTS, PERMISSIONS, ROLES, Principal
from cityhub.auth.store import APIKEY, LOGIN, AuthStore, new_password, parse_grant
from cityhub.errors import BadRequestData, Unauthenticated
from cityhub.ngsild.http import json_response, method_route, read_json
from cityhub.ngsild.hub import hub_of

BASE = "/cityhub/v1"


def _store(request: Request) -> AuthStore:
    store: AuthStore = hub_of(request).extras["auth"]
    return store


def _changed(request: Request) -> None:
    """Users, grants or tokens changed: this worker looks them up again."""
    _store(request).forget()


async def _body(request: Request) -> dict[str, Any]:
    body = await read_json(request, 64 * 1024)
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a JSON object")
    return body


# --- login ----------------------------------------------------------------------------------


async def login(request: Request) -> Response:
    """POST /cityhub/v1/auth/login."""
    body = await _body(request)
    name, password = body.get("username"), body.get("password")
    if not isinstance(name, str) or not isinstance(password, str):
        raise BadRequestData('give "username" and "password"')
    store = _store(request)
    user = await store.check_password(name, password)
    client = request.client.host if request.client else ""
    audit = hub_of(request).extras.get("audit")
    if user is None:
        if audit is not None:
            await audit.record(name, "auth.login_failed", outcome="denied", ip=client)
        raise Unauthenticated("wrong user name or password, or the user is disabled")
    ttl = hub_of(request).settings.token_ttl_s
    secret, _info = await store.issue(user.name, LOGIN, "login", ttl)
    if audit is not None:
        await audit.record(user.name, "auth.login", ip=client)
    response = json_response({"access_token": secret, "token_type": "Bearer", "expires_in": ttl})
    set_session(response, request, secret, ttl)
    return response


def set_session(response: Response, request: Request, secret: str, ttl: int) -> None:
    """The session cookie (HttpOnly; Secure over https) and its CSRF cookie, for browsers.
    SameSite=Lax: the cookie must come along when the identity provider sends the browser back
    (a top-level GET); changes need the CSRF header anyway."""
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    response.set_cookie(
        SESSION_COOKIE, secret, max_age=ttl, httponly=True, secure=secure, samesite="lax"
    )
    response.set_cookie(
        CSRF_COOKIE, secrets.token_urlsafe(24), max_age=ttl, secure=secure, samesite="lax"
    )


async def logout(request: Request) -> Response:
    """POST /cityhub/v1/auth/logout: the token (or session) used ends."""
    header = request.headers.get("authorization", "")
    secret = header[7:].strip() if header.lower().startswith("bearer ") else None
    secret = secret or request.cookies.get(SESSION_COOKIE)
    if secret and secret.startswith("cht_"):  # a login token; API keys are revoked by id
        await _store(request).revoke_secret(secret)
        _changed(request)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return response


async def me(request: Request) -> Response:
    """GET /cityhub/v1/auth/me: who the caller is and what they may do, per tenant."""
    principal = principal_of(request)
    return json_response(_principal_json(principal))


def _principal_json(p: Principal) -> dict[str, Any]:
    tenants = sorted({g.tenant for g in p.grants})
    access = {}
    for tenant in tenants:
        a = p.access(tenant)
        entry: dict[str, Any] = {"permissions": sorted(a.permissions)}
        if a.types is not None:
            entry["types"] = sorted(a.types)
        access[tenant or "(default)"] = entry
    return {
        "name": p.name,
        "kind": p.kind,
        "grants": [g.json() for g in p.grants],
        "access": access,
    }


# --- users ----------------------------------------------------------------------------------


async def list_users(request: Request) -> Response:
    """GET /cityhub/v1/users."""
    return json_response([u.json() for u in await _store(request).users()])


async def create_user(request: Request) -> Response:
    """POST /cityhub/v1/users {"name", "password"?, "grants": [...], "fullName", ...}."""
    body = await _body(request)
    name = body.get("name")
    if not isinstance(name, str):
        raise BadRequestData('a user needs a "name"')
    generated = "password" not in body
    password = new_password() if generated else body["password"]
    if not isinstance(password, str):
        raise BadRequestData("password must be a string")
    grants = [parse_grant(g) for g in _list(body.get("grants", []), "grants")]
    doc = {k: v for k, v in body.items() if k in ("fullName", "email", "organization")}
    user = await _store(request).create_user(name, password, grants, doc)
    await record_request(
        request, "user.create", target=name, detail={"grants": [g.json() for g in grants]}
    )
    shown = user.json() | ({"password": password} if generated else {})
    return json_response(shown, status=201)


async def get_user(request: Request) -> Response:
    """GET /cityhub/v1/users/{name}."""
    return json_response((await _store(request).user(request.path_params["name"])).json())


async def patch_user(request: Request) -> Response:
    """PATCH /cityhub/v1/users/{name} {"password", "disabled", "grants"}."""
    name = request.path_params["name"]
    body = await _body(request)
    unknown = set(body) - {"password", "disabled", "grants"}
    if unknown:
        raise BadRequestData(f"PATCH changes password, disabled, grants; not {sorted(unknown)}")
    store = _store(request)
    await store.user(name)
    if "grants" in body:
        grants = [parse_grant(g) for g in _list(body["grants"], "grants")]
        await store.set_grants(name, grants)
        await record_request(
            request, "role.grant", target=name, detail={"grants": [g.json() for g in grants]}
        )
    if "password" in body:
        if not isinstance(body["password"], str):
            raise BadRequestData("password must be a string")
        await store.set_password(name, body["password"])
        await record_request(request, "user.password", target=name)
    if "disabled" in body:
        if not isinstance(body["disabled"], bool):
            raise BadRequestData("disabled must be true or false")
        await store.set_disabled(name, body["disabled"])
        await record_request(
            request, "user.disable", target=name, detail={"disabled": body["disabled"]}
        )
    _changed(request)
    return Response(status_code=204)


async def delete_user(request: Request) -> Response:
    """DELETE /cityhub/v1/users/{name}."""
    name = request.path_params["name"]
    if name == principal_of(request).name:
        raise BadRequestData("you cannot delete yourself")
    await _store(request).delete_user(name)
    await record_request(request, "user.delete", target=name)
    _changed(request)
    return Response(status_code=204)


# --- roles ----------------------------------------------------------------------------------


async def list_roles(request: Request) -> Response:
    """GET /cityhub/v1/roles: built-in and custom roles, and every permission."""
    custom = await _store(request).roles()
    roles = [{"name": n, "builtin": True, "permissions": sorted(p)} for n, p in ROLES.items()]
    roles += [
        {"name": n, "builtin": False, "permissions": sorted(p), "description": d}
        for n, (p, d) in sorted(custom.items())
    ]
    return json_response({"roles": roles, "permissions": PERMISSIONS})


async def put_role(request: Request) -> Response:
    """PUT /cityhub/v1/roles/{name} {"permissions": [...], "description"}."""
    name = request.path_params["name"]
    body = await _body(request)
    perms = _list(body.get("permissions"), "permissions")
    if not all(isinstance(p, str) for p in perms):
        raise BadRequestData("permissions must be a list of permission names")
    description = body.get("description", "")
    if not isinstance(description, str):
        raise BadRequestData("description must be a string")
    is_new = await _store(request).put_role(name, perms, description)
    await record_request(request, "role.define", target=name, detail={"permissions": sorted(perms)})
    _changed(request)
    return Response(status_code=201 if is_new else 204)


async def delete_role(request: Request) -> Response:
    """DELETE /cityhub/v1/roles/{name}."""
    name = request.path_params["name"]
    await _store(request).delete_role(name)
    await record_request(request, "role.delete", target=name)
    return Response(status_code=204)


# --- API keys -------------------------------------------------------------------------------


def _is_admin(request: Request) -> bool:
    return principal_of(request).access(ALL_TENANTS).allows("users:admin")


async def list_keys(request: Request) -> Response:
    """GET /cityhub/v1/apikeys: the caller's keys (everyone's for users:admin)."""
    user = None if _is_admin(request) else principal_of(request).name
    found = await _store(request).tokens(user)
    return json_response([t.json() for t in found if t.kind == APIKEY])


async def create_key(request: Request) -> Response:
    """POST /cityhub/v1/apikeys {"label", "user"?}: a key acting as the caller (or, for
    users:admin, as another user, e.g. a machine account); the key is shown once."""
    body = await _body(request)
    label = body.get("label")
    if not isinstance(label, str) or not label:
        raise BadRequestData('an API key needs a "label" saying what uses it')
    user = body.get("user", principal_of(request).name)
    if not isinstance(user, str):
        raise BadRequestData("user must be a user name")
    if user != principal_of(request).name and not _is_admin(request):
        raise BadRequestData("only an administrator creates keys for another user")
    store = _store(request)
    await store.user(user)
    secret, info = await store.issue(user, APIKEY, label, None)
    await record_request(
        request, "apikey.create", target=user, detail={"id": info.id, "label": label}
    )
    return json_response(info.json() | {"key": secret}, status=201)


async def delete_key(request: Request) -> Response:
    """DELETE /cityhub/v1/apikeys/{id}."""
    user = None if _is_admin(request) else principal_of(request).name
    info = await _store(request).revoke(request.path_params["id"], user=user)
    await record_request(request, "apikey.revoke", target=info.user, detail={"id": info.id})
    _changed(request)
    return Response(status_code=204)


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise BadRequestData(f"{what} must be a list")
    return value


routes = [
    method_route(f"{BASE}/auth/login", POST=login),
    method_route(f"{BASE}/auth/logout", POST=logout),
    method_route(f"{BASE}/auth/me", GET=me),
    method_route(f"{BASE}/users", GET=list_users, POST=create_user),
    method_route(f"{BASE}/users/{{name}}", GET=get_user, PATCH=patch_user, DELETE=delete_user),
    method_route(f"{BASE}/roles", GET=list_roles),
    method_route(f"{BASE}/roles/{{name}}", PUT=put_role, DELETE=delete_role),
    method_route(f"{BASE}/apikeys", GET=list_keys, POST=create_key),
    method_route(f"{BASE}/apikeys/{{id}}", DELETE=delete_key),
]
