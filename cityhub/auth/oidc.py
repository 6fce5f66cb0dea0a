"""Bearer tokens from the city's OpenID Connect provider (Keycloak or another).

With ``oidc_issuer`` set, a bearer token that is a JWT is checked against the issuer: its
signing keys come from the issuer's discovery document (``/.well-known/openid-configuration``
→ ``jwks_uri``), and the signature, ``iss``, ``aud`` (``oidc_audience``) and ``exp`` must hold.
The user's roles come from the claim ``oidc_roles_claim`` (Keycloak: ``realm_access.roles``):
``operator@gwacheon`` is the role operator in tenant gwacheon, ``auditor@*`` in every tenant,
a bare ``operator`` in the default tenant; names that are no cityhub role are ignored (the
provider's own roles such as ``offline_access``).
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

    async def _keys(self) -> jwt.PyJWKClient:
        if self._jwks is None:
            url = f"{self.issuer}/.well-known/openid-configuration"
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                found = (await client.get(url)).raise_for_status().json()
            self._jwks = jwt.PyJWKClient(found["jwks_uri"], timeout=int(self.timeout))
        return self._jwks

    async def principal(self, token: str, custom: dict[str, frozenset[str]]) -> Principal | None:
        """The principal a valid token stands for (``custom``: the operator's own roles);
        None if the token is not valid (or the issuer cannot be reached)."""
        try:
            keys = await self._keys()
            key = await asyncio.to_thread(keys.get_signing_key_from_jwt, token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=_ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "sub"]},
            )
        except (jwt.PyJWTError, httpx.HTTPError, KeyError, ValueError) as err:
            log.info("OIDC token refused: %s", err)
            return None
        name = str(claims.get("preferred_username") or claims["sub"])
        grants = self.grants(claims, set(ROLES) | set(custom))
        return Principal(name, "oidc", tuple(grants), custom)

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
