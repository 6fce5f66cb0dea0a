"""Fixtures of the audit-log tests: the app with the audit log installed (by create_app once it
is wired in, else here), the log itself, an HTTP client, and raw SQL beside the hub."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from cityhub.app import create_app
from cityhub.audit import AuditLog, install
from cityhub.audit import routes as audit_routes
from cityhub.settings import Settings


def audited_app(settings: Settings) -> Starlette:
    """create_app(settings) with the audit log and its routes (added unless already there)."""
    app = create_app(settings)
    hub = app.state.hub
    if "audit" not in hub.extras:
        install(hub)
    paths = {getattr(r, "path", None) for r in app.router.routes}
    if audit_routes.BASE not in paths:
        app.router.routes.extend(audit_routes.routes)
    return app


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    """A running app (lifespan started) with the audit log."""
    app = audited_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def audit(app: Starlette) -> AuditLog:
    """The app's audit log."""
    log: AuditLog = app.state.hub.extras["audit"]
    return log


@pytest.fixture
async def api(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app over ASGI."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
        yield c


class RawSql:
    """Statements run on a connection of our own, beside the hub (as an intruder would)."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url
        self.sqlite = self.url.startswith("sqlite:")

    async def execute(self, sql: str) -> None:
        if self.sqlite:
            conn = sqlite3.connect(self.url[len("sqlite:///") :], isolation_level=None)
            try:
                conn.execute(sql)
            finally:
                conn.close()
            return
        pg = await asyncpg.connect(self.url)
        try:
            await pg.execute(sql)
        finally:
            await pg.close()

    async def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        if self.sqlite:
            conn = sqlite3.connect(self.url[len("sqlite:///") :])
            try:
                return conn.execute(sql).fetchall()
            finally:
                conn.close()
        pg = await asyncpg.connect(self.url)
        try:
            return [tuple(r) for r in await pg.fetch(sql)]
        finally:
            await pg.close()

    async def drop_guards(self) -> None:
        """Remove the append-only triggers (to tamper with the log in a test)."""
        if self.sqlite:
            await self.execute("DROP TRIGGER audit_log_no_update")
            await self.execute("DROP TRIGGER audit_log_no_delete")
        else:
            await self.execute("DROP TRIGGER audit_log_no_change ON audit_log")


@pytest.fixture
def raw(settings: Settings) -> RawSql:
    """Raw SQL on the test database."""
    return RawSql(settings)
