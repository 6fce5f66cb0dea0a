"""Shared fixtures: the app on each storage backend, and an HTTP client for it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cityhub.app import create_app
from cityhub.settings import Settings

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

# the API tests exercise the API, not access control (tests/auth does that): hubs started by
# tests, in this process or as `cityhub serve`, run with auth off unless a test says otherwise
os.environ["CITYHUB_AUTH"] = "off"
os.environ["CITYHUB_RATE_LIMIT_PER_S"] = "0"  # tests send bursts; tests/guard tests the limits


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio (the server's event loop)."""
    return "asyncio"


def database_url(backend: str, tmp_path: Path) -> str:
    """A fresh, empty database of the given backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    from tests.pgserver import fresh_database_url

    return fresh_database_url()


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for an app on a fresh database of each backend."""
    return Settings(
        database=database_url(request.param, tmp_path),
        data_dir=str(tmp_path),
        sqlite_synchronous="NORMAL",
        auth="off",
        rate_limit_per_s=0.0,
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to a running app (lifespan started) over ASGI."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
            yield c


def load(name: str) -> Any:
    """A JSON payload fixture from tests/fixtures."""
    import orjson

    return orjson.loads((Path(__file__).parent / "fixtures" / name).read_bytes())


if os.environ.get("CI") == "true":
    os.environ.setdefault("CITYHUB_TEST_REQUIRE_SERVICES", "1")
