"""Browser sign-in through the city's OpenID Connect provider (authorization-code flow, PKCE).

``GET /cityhub/v1/auth/oidc/login?next=/path`` sends the browser to the provider;
``GET /cityhub/v1/auth/oidc/callback`` takes it back: the code is exchanged for an ID token,
which is checked (signature, issuer, audience = ``oidc_client_id``, expiry, nonce). The person
becomes the user ``oidc:<preferred_username>`` with the grants their roles claim gives at this
sign-in, gets a session cookie like a local login, and goes on to ``next``. A sign-in in progress
is kept in the database for ten minutes, so any worker can finish it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import urlencode

import httpx
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cityhub.auth.model import ROLES
from cityhub.auth.oidc import OidcVerifier, user_name
from cityhub.auth.routes import set_session
from cityhub.auth.store import LOGIN, AuthStore
from cityhub.errors import BadRequestData, OperationNotSupported, Unauthenticated
from cityhub.ngsild.http import method_route
from cityhub.ngsild.hub import hub_of

BASE = "/cityhub/v1/auth/oidc"
_PENDING_S = 600


def _verifier(request: Request) -> OidcVerifier:
    found: OidcVerifier | None = hub_of(request).extras.get("oidc")
    if found is None:
        raise OperationNotSupported("no identity provider is configured (setting oidc_issuer)")
    return found


def _callback_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + f"{BASE}/callback"


def _next(raw: str | None) -> str:
    """Where to go after signing in: a path on this hub only (no open redirect)."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return "/"
    return raw


async def sign_in(request: Request) -> Response:
    """GET /cityhub/v1/auth/oidc/login: to the provider's sign-in page."""
    oidc = _verifier(request)
    try:
        meta = await oidc.metadata()
    except httpx.HTTPError as err:
        raise Unauthenticated(f"the identity provider cannot be reached: {err}") from err
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(24)
    store: AuthStore = hub_of(request).extras["auth"]
    state = await store.pending(
        {"verifier": verifier, "nonce": nonce, "next": _next(request.query_params.get("next"))},
        _PENDING_S,
    )
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {
        "response_type": "code",
        "client_id": hub_of(request).settings.oidc_client_id,
        "redirect_uri": _callback_url(request),
        "scope": "openid profile",
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge.decode().rstrip("="),
        "code_challenge_method": "S256",
    }
    return RedirectResponse(f"{meta['authorization_endpoint']}?{urlencode(query)}", 302)


async def callback(request: Request) -> Response:
    """GET /cityhub/v1/auth/oidc/callback?code=&state=: signed in, or why not."""
    oidc = _verifier(request)
    hub = hub_of(request)
    store: AuthStore = hub.extras["auth"]
    if "error" in request.query_params:
        raise Unauthenticated(f"the identity provider refused: {request.query_params['error']}")
    code, state = request.query_params.get("code"), request.query_params.get("state")
    if not code or not state:
        raise BadRequestData("the identity provider's answer lacks code or state")
    pending = await store.take_pending(state)
    if pending is None:
        raise Unauthenticated("this sign-in expired or was already used; sign in again")
    settings = hub.settings
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": _callback_url(request),
        "client_id": settings.oidc_client_id,
        "code_verifier": pending["verifier"],
    }
    if settings.oidc_client_secret:
        form["client_secret"] = settings.oidc_client_secret
    try:
        meta = await oidc.metadata()
        async with httpx.AsyncClient(timeout=oidc.timeout) as client:
            answer = await client.post(meta["token_endpoint"], data=form)
        answer.raise_for_status()
        id_token = answer.json()["id_token"]
    except (httpx.HTTPError, KeyError, ValueError) as err:
        raise Unauthenticated(f"the identity provider did not give an ID token: {err}") from err
    claims = await oidc.claims(id_token, settings.oidc_client_id)
    if claims is None or claims.get("nonce") != pending["nonce"]:
        raise Unauthenticated("the identity provider's ID token is not valid for this sign-in")
    custom = await store.roles()
    grants = oidc.grants(claims, set(ROLES) | set(custom))
    doc = {k: claims[k] for k in ("name", "email") if isinstance(claims.get(k), str)}
    user = await store.sso_user(user_name(claims), grants, doc)
    secret, _info = await store.issue(user.name, LOGIN, "sso", settings.token_ttl_s)
    store.forget()
    audit = hub.extras.get("audit")
    if audit is not None:
        client_ip = request.client.host if request.client else ""
        await audit.record(user.name, "auth.login", ip=client_ip, detail={"via": "oidc"})
    response = RedirectResponse(pending["next"], 302)
    set_session(response, request, secret, settings.token_ttl_s)
    return response


routes = [
    method_route(f"{BASE}/login", GET=sign_in),
    method_route(f"{BASE}/callback", GET=callback),
]
