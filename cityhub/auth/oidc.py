"""Tokens from the city's OpenID Connect provider (Keycloak or another).

With ``oidc_issuer`` set, a bearer token that is a JWT is checked against the issuer: its
signing keys come from the issuer's discovery document (``/.well-known/openid-configuration``
→ ``jwks_uri``), and the signature, ``iss``, ``aud`` (``oidc_audience``) and ``exp`` must hold.
The user's roles come from the claim ``oidc_roles_claim`` (Keycloak: ``realm_access.roles``):
``operator@gwacheon`` is the role operator in tenant gwacheon, ``auditor@*`` in every tenant,
a bare ``operator`` in the default tenant; names that are no cityhub role are ignored (the
provider's own roles such as ``offline_access``). Browsers sign in through the provider with
the authorization-code flow (cityhub.auth.sso).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import jwt

from cityhub.auth.model import ROLES, Grant, Principal

log = logging.getLogger(__name__)
_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


class OidcVerifier:
    """Checks JWTs of one issuer; keys are fetched once and again for an unknown key id."""

    def __init__(self, issuer: str, audience: str, roles_claim: str, timeout: float = 5.0):
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.roles_claim = roles_claim
        self.timeout = timeout
        self._jwks: jwt.PyJWKClient | None = None
        self._metadata: dict[str, Any] | None = None

    async def metadata(self) -> dict[str, Any]:
        """The issuer's discovery document (read once)."""
        if self._metadata is None:
            url = f"{self.issuer}/.well-known/openid-configuration"
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                self._metadata = (await client.get(url)).raise_for_status().json()
        return self._metadata

    async def _keys(self) -> jwt.PyJWKClient:
        if self._jwks is None:
            found = await self.metadata()
            self._jwks = jwt.PyJWKClient(found["jwks_uri"], timeout=int(self.timeout))
        return self._jwks

    async def claims(self, token: str, audience: str) -> dict[str, Any] | None:
        """The claims of a valid token for ``audience``; None if it is not valid (or the
        issuer cannot be reached)."""
        try:
            keys = await self._keys()
            key = await asyncio.to_thread(keys.get_signing_key_from_jwt, token)
            found: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=_ALGORITHMS,
                audience=audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "sub"]},
            )
        except (jwt.PyJWTError, httpx.HTTPError, KeyError, ValueError) as err:
            log.info("OIDC token refused: %s", err)
            return None
        return found

    async def principal(self, token: str, custom: dict[str, frozenset[str]]) -> Principal | None:
        """The principal a valid bearer token stands for (``custom``: the operator's own
        roles); None if the token is not valid."""
        claims = await self.claims(token, self.audience)
        if claims is None:
            return None
        grants = self.grants(claims, set(ROLES) | set(custom))
        return Principal(user_name(claims), "oidc", tuple(grants), custom)

    def grants(self, claims: dict[str, Any], roles: set[str]) -> list[Grant]:
        """The grants a token's role claim gives."""
        value: Any = claims
        for part in self.roles_claim.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        found: list[Grant] = []
        for item in value if isinstance(value, list) else []:
            if not isinstance(item, str):
                continue
            role, _, tenant = item.partition("@")
            if role in roles:
                found.append(Grant(role, tenant))
        return found


def user_name(claims: dict[str, Any]) -> str:
    """The name a token's user goes by."""
    return str(claims.get("preferred_username") or claims["sub"])
