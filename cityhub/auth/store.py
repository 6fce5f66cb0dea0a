"""Users, grants, custom roles and tokens in the hub's database (migration 0009_auth.sql).

Passwords are kept as argon2id hashes (hashed off the event loop: argon2 is slow on
purpose); tokens and API keys as SHA-256 of the secret, which is shown once when issued.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cityhub.auth.model import ALL_TENANTS, PERMISSIONS, ROLES, Grant, Principal
from cityhub.errors import BadRequestData, ResourceNotFound
from cityhub.ngsild.models import now_iso
from cityhub.storage.base import Storage
from cityhub.storage.plain import PlainSql

_HASHER = PasswordHasher()
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 10
LOGIN, APIKEY, PENDING = "login", "apikey", "pending"
_PREFIX = {LOGIN: "cht_", APIKEY: "chk_", PENDING: "chp_", "interwork": "chs_"}
SSO_PREFIX = "oidc:"  # users signed in through the city's identity provider


def new_password() -> str:
    """A random password for a new user (shown once)."""
    return secrets.token_urlsafe(15)


def token_hash(secret: str) -> str:
    """How a token is kept and looked up."""
    return hashlib.sha256(secret.encode()).hexdigest()


def check_password_strength(password: str) -> None:
    """BadRequestData for a password too weak to accept."""
    if len(password) < MIN_PASSWORD:
        raise BadRequestData(f"a password needs at least {MIN_PASSWORD} characters")
    if len(set(password)) < 5:
        raise BadRequestData("a password needs more different characters")


@dataclass(frozen=True, slots=True)
class User:
    """A user as stored (without the password hash when shown)."""

    name: str
    password_hash: str
    disabled: bool
    created_at: str
    doc: dict[str, Any] = field(default_factory=dict)
    grants: tuple[Grant, ...] = ()

    def json(self) -> dict[str, Any]:
        """The API form."""
        return {
            "name": self.name,
            "disabled": self.disabled,
            "createdAt": self.created_at,
            **self.doc,
            "grants": [g.json() for g in self.grants],
        }


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token or API key, without its secret."""

    id: str
    user: str
    kind: str
    label: str
    created_at: str
    expires_at: str | None

    def json(self) -> dict[str, Any]:
        """The API form."""
        body = {"id": self.id, "user": self.user, "kind": self.kind, "label": self.label}
        return body | {"createdAt": self.created_at, "expiresAt": self.expires_at}


class AuthStore:
    """The auth tables, on either backend."""

    def __init__(self, storage: Storage) -> None:
        self.db = PlainSql(storage)
        #: principals by token hash, kept briefly by the gate (see cityhub.auth.middleware)
        self.principals: OrderedDict[str, tuple[float, Principal | None]] = OrderedDict()

    def forget(self) -> None:
        """Users, grants or tokens changed in this worker: look them up again."""
        self.principals.clear()

    # --- users ----------------------------------------------------------------------------

    async def user_count(self) -> int:
        """How many users there are."""
        rows = await self.db.rows("SELECT count(*) FROM auth_users")
        return int(rows[0][0])

    async def create_user(
        self, name: str, password: str, grants: list[Grant], doc: dict[str, Any] | None = None
    ) -> User:
        """Add a user (AlreadyExists if the name is taken)."""
        if not _NAME.match(name):
            raise BadRequestData(
                "a user name is 1-64 letters, digits and . _ @ - (starting with a letter or digit)"
            )
        check_password_strength(password)
        await self.check_grants(grants)
        hashed = await asyncio.to_thread(_HASHER.hash, password)
        statements = [
            (
                "INSERT INTO auth_users (name, password_hash, disabled, created_at, doc) "
                "SELECT ?, ?, 0, ?, ? WHERE NOT EXISTS (SELECT 1 FROM auth_users WHERE name = ?)",
                (name, hashed, now_iso(), orjson.dumps(doc or {}).decode(), name),
            ),
            *_grant_rows(name, grants),
        ]
        await self.db.run(statements[:1], conflict=f"user {name} exists")
        await self.db.run(statements[1:])
        return await self.user(name)

    async def user(self, name: str) -> User:
        """One user with their grants (ResourceNotFound if there is none)."""
        rows = await self.db.rows(
            "SELECT name, password_hash, disabled, created_at, doc FROM auth_users WHERE name = ?",
            name,
        )
        if not rows:
            raise ResourceNotFound(f"no user {name}")
        return _user(rows[0], await self.grants(name))

    async def users(self) -> list[User]:
        """Every user, by name."""
        rows = await self.db.rows(
            "SELECT name, password_hash, disabled, created_at, doc FROM auth_users ORDER BY name"
        )
        grants = await self._all_grants()
        return [_user(r, tuple(grants.get(r[0], ()))) for r in rows]

    async def check_password(self, name: str, password: str) -> User | None:
        """The user if the password is theirs and they may log in, else None (the same time
        is spent for an unknown name, so names cannot be probed by timing)."""
        rows = await self.db.rows(
            "SELECT name, password_hash, disabled, created_at, doc FROM auth_users WHERE name = ?",
            name,
        )
        hashed = rows[0][1] if rows else _DUMMY_HASH
        ok = await asyncio.to_thread(_verify, hashed, password)
        if not rows or not ok or rows[0][2]:
            return None
        return _user(rows[0], await self.grants(name))

    async def set_password(self, name: str, password: str) -> None:
        """Change a user's password; their login tokens end (API keys stay)."""
        check_password_strength(password)
        hashed = await asyncio.to_thread(_HASHER.hash, password)
        counts = await self.db.run(
            [
                ("UPDATE auth_users SET password_hash = ? WHERE name = ?", (hashed, name)),
                ("DELETE FROM auth_tokens WHERE user_name = ? AND kind = ?", (name, LOGIN)),
            ]
        )
        if not counts[0]:
            raise ResourceNotFound(f"no user {name}")

    async def set_disabled(self, name: str, disabled: bool) -> None:
        """Disable (or enable again) a user: a disabled user's tokens are refused."""
        (count,) = await self.db.run(
            [("UPDATE auth_users SET disabled = ? WHERE name = ?", (int(disabled), name))]
        )
        if not count:
            raise ResourceNotFound(f"no user {name}")

    async def delete_user(self, name: str) -> None:
        """Remove a user, their grants and tokens."""
        counts = await self.db.run(
            [
                ("DELETE FROM auth_users WHERE name = ?", (name,)),
                ("DELETE FROM auth_grants WHERE user_name = ?", (name,)),
                ("DELETE FROM auth_tokens WHERE user_name = ?", (name,)),
            ]
        )
        if not counts[0]:
            raise ResourceNotFound(f"no user {name}")

    # --- grants and roles -----------------------------------------------------------------

    async def grants(self, name: str) -> tuple[Grant, ...]:
        """A user's grants."""
        rows = await self.db.rows(
            "SELECT tenant, role, types FROM auth_grants WHERE user_name = ? ORDER BY tenant, role",
            name,
        )
        return tuple(_grant(r) for r in rows)

    async def _all_grants(self) -> dict[str, list[Grant]]:
        found: dict[str, list[Grant]] = {}
        rows = await self.db.rows(
            "SELECT tenant, role, types, user_name FROM auth_grants ORDER BY tenant, role"
        )
        for row in rows:
            found.setdefault(row[3], []).append(_grant(row))
        return found

    async def set_grants(self, name: str, grants: list[Grant]) -> None:
        """Replace a user's grants."""
        await self.user(name)
        await self.check_grants(grants)
        await self.db.run(
            [("DELETE FROM auth_grants WHERE user_name = ?", (name,)), *_grant_rows(name, grants)]
        )

    async def check_grants(self, grants: list[Grant]) -> None:
        """BadRequestData naming a role that does not exist."""
        known = set(ROLES) | set(await self.roles())
        for grant in grants:
            if grant.role not in known:
                raise BadRequestData(
                    f"no role {grant.role!r}; roles are {', '.join(sorted(known))}"
                )

    async def roles(self) -> dict[str, tuple[frozenset[str], str]]:
        """The operator's own roles: name -> (permissions, description)."""
        rows = await self.db.rows("SELECT name, permissions, description FROM auth_roles")
        return {r[0]: (frozenset(orjson.loads(r[1])), r[2]) for r in rows}

    async def put_role(self, name: str, permissions: list[str], description: str) -> bool:
        """Add or replace a custom role; True when it is new."""
        if name in ROLES:
            raise BadRequestData(f"{name} is a built-in role and cannot be changed")
        if not _NAME.match(name):
            raise BadRequestData("a role name is 1-64 letters, digits and . _ @ -")
        unknown = sorted(set(permissions) - set(PERMISSIONS))
        if unknown:
            raise BadRequestData(
                f"unknown permissions {', '.join(unknown)}; see GET /cityhub/v1/roles"
            )
        is_new = name not in await self.roles()
        await self.db.run(
            [
                ("DELETE FROM auth_roles WHERE name = ?", (name,)),
                (
                    "INSERT INTO auth_roles (name, permissions, description) VALUES (?, ?, ?)",
                    (name, orjson.dumps(sorted(set(permissions))).decode(), description),
                ),
            ]
        )
        return is_new

    async def delete_role(self, name: str) -> None:
        """Remove a custom role (BadRequestData while a user holds it)."""
        if name in ROLES:
            raise BadRequestData(f"{name} is a built-in role and cannot be deleted")
        held = await self.db.rows("SELECT user_name FROM auth_grants WHERE role = ?", name)
        if held:
            users = ", ".join(sorted({r[0] for r in held}))
            raise BadRequestData(f"role {name} is granted to {users}; revoke it first")
        (count,) = await self.db.run([("DELETE FROM auth_roles WHERE name = ?", (name,))])
        if not count:
            raise ResourceNotFound(f"no role {name}")

    async def principal(self, user: User) -> Principal:
        """The principal a user acts as."""
        custom = {n: perms for n, (perms, _d) in (await self.roles()).items()}
        return Principal(user.name, "user", user.grants, custom)

    async def sso_user(self, name: str, grants: list[Grant], doc: dict[str, Any]) -> User:
        """The user standing for someone signed in through the identity provider
        (``oidc:<name>``, no password), with the grants their token gives now."""
        user = SSO_PREFIX + name
        await self.db.run(
            [
                (
                    "INSERT INTO auth_users (name, password_hash, disabled, created_at, doc) "
                    "SELECT ?, '', 0, ?, ? WHERE NOT EXISTS "
                    "(SELECT 1 FROM auth_users WHERE name = ?)",
                    (user, now_iso(), orjson.dumps(doc).decode(), user),
                ),
                ("DELETE FROM auth_grants WHERE user_name = ?", (user,)),
                *_grant_rows(user, grants),
            ]
        )
        return await self.user(user)

    async def pending(self, data: dict[str, Any], ttl_s: int) -> str:
        """Keep a sign-in in progress (state, PKCE verifier, nonce) for ``ttl_s``; its key."""
        secret, _info = await self.issue("", PENDING, orjson.dumps(data).decode(), ttl_s)
        return secret

    async def take_pending(self, secret: str) -> dict[str, Any] | None:
        """The sign-in in progress a key names, once (None if unknown or expired)."""
        rows = await self.db.rows(
            "SELECT label, expires_at FROM auth_tokens WHERE hash = ? AND kind = ?",
            token_hash(secret),
            PENDING,
        )
        await self.revoke_secret(secret)
        if not rows or (rows[0][1] is not None and rows[0][1] <= _iso(datetime.now(UTC))):
            return None
        found: dict[str, Any] = orjson.loads(rows[0][0])
        return found

    # --- tokens ---------------------------------------------------------------------------

    async def issue(
        self, user: str, kind: str, label: str, ttl_s: int | None
    ) -> tuple[str, TokenInfo]:
        """A new token or API key: (secret, shown once; what is kept)."""
        secret = _PREFIX[kind] + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        expires = None if ttl_s is None else _iso(now + timedelta(seconds=ttl_s))
        info = TokenInfo(secrets.token_hex(8), user, kind, label, _iso(now), expires)
        await self.db.run(
            [
                (
                    "INSERT INTO auth_tokens (hash, id, user_name, kind, label, created_at, "
                    "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (token_hash(secret), info.id, user, kind, label, info.created_at, expires),
                )
            ]
        )
        return secret, info

    async def by_token(self, secret: str) -> tuple[User, TokenInfo] | None:
        """The user and token a secret stands for, if it is valid now."""
        rows = await self.db.rows(
            "SELECT t.id, t.user_name, t.kind, t.label, t.created_at, t.expires_at, "
            "u.name, u.password_hash, u.disabled, u.created_at, u.doc "
            "FROM auth_tokens t JOIN auth_users u ON u.name = t.user_name WHERE t.hash = ?",
            token_hash(secret),
        )
        if not rows:
            return None
        row = rows[0]
        info = TokenInfo(*row[:6])
        if info.expires_at is not None and info.expires_at <= _iso(datetime.now(UTC)):
            return None
        if row[8]:  # disabled user
            return None
        return _user(row[6:], await self.grants(info.user)), info

    async def tokens(self, user: str | None = None) -> list[TokenInfo]:
        """API keys and login tokens (of one user, or everyone's), newest first."""
        sql = "SELECT id, user_name, kind, label, created_at, expires_at FROM auth_tokens"
        args: tuple[Any, ...] = ()
        if user is not None:
            sql, args = sql + " WHERE user_name = ?", (user,)
        rows = await self.db.rows(sql + " ORDER BY created_at DESC", *args)
        return [TokenInfo(*r) for r in rows]

    async def revoke(self, ident: str, *, user: str | None = None) -> TokenInfo:
        """End a token or API key by its public id (only ``user``'s when given)."""
        found = [t for t in await self.tokens(user) if t.id == ident]
        if not found:
            raise ResourceNotFound(f"no token or API key {ident}")
        await self.db.run([("DELETE FROM auth_tokens WHERE id = ?", (ident,))])
        return found[0]

    async def revoke_secret(self, secret: str) -> None:
        """End the token a secret stands for (logout)."""
        await self.db.run([("DELETE FROM auth_tokens WHERE hash = ?", (token_hash(secret),))])

    async def prune_tokens(self) -> None:
        """Drop expired tokens."""
        now = _iso(datetime.now(UTC))
        await self.db.run(
            [("DELETE FROM auth_tokens WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))]
        )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _verify(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


_DUMMY_HASH = _HASHER.hash("not a password of anyone")


def _grant(row: tuple[Any, ...]) -> Grant:
    types = frozenset(orjson.loads(row[2])) if row[2] is not None else None
    return Grant(row[1], row[0], types)


def _grant_rows(name: str, grants: list[Grant]) -> list[tuple[str, tuple[Any, ...]]]:
    return [
        (
            "INSERT INTO auth_grants (user_name, tenant, role, types) VALUES (?, ?, ?, ?)",
            (
                name,
                g.tenant,
                g.role,
                None if g.types is None else orjson.dumps(sorted(g.types)).decode(),
            ),
        )
        for g in dict.fromkeys(grants)
    ]


def _user(row: tuple[Any, ...] | list[Any], grants: tuple[Grant, ...]) -> User:
    name, hashed, disabled, created, doc = row
    return User(name, hashed, bool(disabled), created, orjson.loads(doc), grants)


def parse_grant(body: Any) -> Grant:
    """A grant from its API form ({"role", "tenant", "types"})."""
    if not isinstance(body, dict) or not isinstance(body.get("role"), str):
        raise BadRequestData('a grant is an object with a "role" (and "tenant", "types")')
    tenant = body.get("tenant", "")
    if not isinstance(tenant, str):
        raise BadRequestData("a grant's tenant must be a string (* for every tenant)")
    types = body.get("types")
    if types is not None and (
        not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types)
    ):
        raise BadRequestData("a grant's types must be a non-empty list of entity type names")
    return Grant(body["role"], tenant, frozenset(types) if types is not None else None)


__all__ = ["ALL_TENANTS", "APIKEY", "LOGIN", "AuthStore", "TokenInfo", "User", "parse_grant"]
