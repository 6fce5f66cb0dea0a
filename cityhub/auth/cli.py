"""``cityhub user``: manage users straight in the hub's database (also when no one can log in).

Runs against the database the settings name (``--data-dir``, ``--database``, ``--config``, or
``CITYHUB_*``), like ``cityhub serve``; a running hub sees the changes within seconds.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from cityhub.auth.model import ALL_TENANTS, Grant
from cityhub.auth.store import APIKEY, AuthStore, new_password
from cityhub.errors import CityhubError
from cityhub.settings import load_settings
from cityhub.storage import storage_for

T = TypeVar("T")


def _run(ctx: click.Context, work: Callable[[AuthStore], Awaitable[T]]) -> T:
    opts = ctx.obj
    try:
        settings = load_settings(
            {"data_dir": opts["data_dir"], "database": opts["database"]},
            config_file=opts["config"],
        )

        async def go() -> T:
            storage = storage_for(settings.database_url, settings)
            await storage.open()
            try:
                return await work(AuthStore(storage))
            finally:
                await storage.close()

        return asyncio.run(go())
    except CityhubError as err:
        click.echo(f"error: {getattr(err, 'detail', err)}", err=True)
        sys.exit(1)


def _password(prompt: bool) -> tuple[str, bool]:
    """A password typed twice (``prompt``), or a generated one; (password, generated)."""
    if prompt:
        typed: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        return typed, False
    return new_password(), True


@click.group("user")
@click.option("--data-dir", help="The hub's data directory [./cityhub-data].")
@click.option("--database", help="The hub's database URL (instead of --data-dir).")
@click.option("--config", type=click.Path(), help="TOML settings file.")
@click.pass_context
def user(
    ctx: click.Context, data_dir: str | None, database: str | None, config: str | None
) -> None:
    """Users, roles and API keys, in the hub's database."""
    ctx.obj = {"data_dir": data_dir, "database": database, "config": config}


@user.command("list")
@click.pass_context
def list_users(ctx: click.Context) -> None:
    """List users and their grants."""
    users = _run(ctx, lambda s: s.users())
    for u in users:
        grants = ", ".join(_grant_text(g) for g in u.grants) or "(no grants)"
        state = " [disabled]" if u.disabled else ""
        click.echo(f"{u.name}{state}: {grants}")


def _grant_text(g: Grant) -> str:
    where = "every tenant" if g.tenant == ALL_TENANTS else (g.tenant or "default tenant")
    types = f" ({', '.join(sorted(g.types))})" if g.types is not None else ""
    return f"{g.role} in {where}{types}"


def _grant(role: str, tenant: str, types: str | None) -> Grant:
    limited = frozenset(t.strip() for t in types.split(",") if t.strip()) if types else None
    return Grant(role, tenant, limited)


_GRANT_OPTIONS = [
    click.option(
        "--tenant", default="", help="Tenant of the grant (* for every tenant) [default]."
    ),
    click.option("--types", help="Entity types the grant is limited to (comma-separated)."),
]


def _grant_options(fn: Any) -> Any:
    for option in reversed(_GRANT_OPTIONS):
        fn = option(fn)
    return fn


@user.command("add")
@click.argument("name")
@click.option("--role", default=None, help="Role to grant (see `cityhub user roles`).")
@_grant_options
@click.option("--prompt", is_flag=True, help="Type the password instead of generating one.")
@click.pass_context
def add(
    ctx: click.Context, name: str, role: str | None, tenant: str, types: str | None, prompt: bool
) -> None:
    """Add a user (a generated password is shown once)."""
    password, generated = _password(prompt)
    grants = [_grant(role, tenant, types)] if role else []
    _run(ctx, lambda s: s.create_user(name, password, grants))
    click.echo(f"added {name}" + (f"; password: {password}" if generated else ""))


@user.command("passwd")
@click.argument("name")
@click.option("--prompt", is_flag=True, help="Type the password instead of generating one.")
@click.pass_context
def passwd(ctx: click.Context, name: str, prompt: bool) -> None:
    """Set a user's password (their logins end; API keys stay)."""
    password, generated = _password(prompt)
    _run(ctx, lambda s: s.set_password(name, password))
    click.echo(f"password of {name} changed" + (f"; new password: {password}" if generated else ""))


@user.command("grant")
@click.argument("name")
@click.argument("role")
@_grant_options
@click.pass_context
def grant(ctx: click.Context, name: str, role: str, tenant: str, types: str | None) -> None:
    """Give a user a role in a tenant."""

    async def work(s: AuthStore) -> None:
        current = list((await s.user(name)).grants)
        await s.set_grants(name, [*current, _grant(role, tenant, types)])

    _run(ctx, work)
    click.echo(f"{name}: {_grant_text(_grant(role, tenant, types))}")


@user.command("revoke")
@click.argument("name")
@click.argument("role")
@click.option("--tenant", default="", help="Tenant of the grant (* for every tenant).")
@click.pass_context
def revoke(ctx: click.Context, name: str, role: str, tenant: str) -> None:
    """Take a role in a tenant away from a user."""

    async def work(s: AuthStore) -> int:
        current = list((await s.user(name)).grants)
        kept = [g for g in current if not (g.role == role and g.tenant == tenant)]
        await s.set_grants(name, kept)
        return len(current) - len(kept)

    if not _run(ctx, work):
        click.echo(f"error: {name} has no role {role} in that tenant", err=True)
        sys.exit(1)
    click.echo(f"{name}: {role} revoked")


@user.command("disable")
@click.argument("name")
@click.option("--enable", is_flag=True, help="Enable the user again.")
@click.pass_context
def disable(ctx: click.Context, name: str, enable: bool) -> None:
    """Disable a user (their logins and API keys stop working), or enable them again."""
    _run(ctx, lambda s: s.set_disabled(name, not enable))
    click.echo(f"{name} {'enabled' if enable else 'disabled'}")


@user.command("remove")
@click.argument("name")
@click.pass_context
def remove(ctx: click.Context, name: str) -> None:
    """Remove a user with their grants and API keys."""
    _run(ctx, lambda s: s.delete_user(name))
    click.echo(f"removed {name}")


@user.command("apikey")
@click.argument("name")
@click.argument("label")
@click.pass_context
def apikey(ctx: click.Context, name: str, label: str) -> None:
    """Create an API key acting as a user (shown once)."""

    async def work(s: AuthStore) -> str:
        await s.user(name)
        secret, _info = await s.issue(name, APIKEY, label, None)
        return secret

    click.echo(_run(ctx, work))
