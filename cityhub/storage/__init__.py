"""Storage backends behind one Protocol (base.py): SQLite (default) and PostgreSQL."""

from __future__ import annotations

from urllib.parse import urlparse

from cityhub.errors import ConfigError
from cityhub.settings import Settings
from cityhub.storage.base import Storage


def storage_for(url: str, settings: Settings) -> Storage:
    """The backend for a database URL (ConfigError with a clear message if unusable)."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        from cityhub.storage.sqlite import SQLiteStorage

        path = url[len("sqlite://") :]
        if path.startswith("/") and not path.startswith("//"):
            path = path[1:] or ":memory:"
        elif path.startswith("//"):
            path = path[1:]
        if path in ("", ":memory:"):
            raise ConfigError(
                f"bad database URL {url!r}: give a file, e.g. sqlite:///data/hub.db "
                "(relative) or sqlite:////srv/hub.db (absolute)"
            )
        return SQLiteStorage(
            path, synchronous=settings.sqlite_synchronous, readers=settings.sqlite_readers
        )
    if parsed.scheme in ("postgresql", "postgres"):
        from cityhub.storage.postgres import PostgresStorage

        return PostgresStorage(url, pool_size=settings.pg_pool_size)
    raise ConfigError(
        f"bad database URL {url!r}: use sqlite:///path/to.db or postgresql://user@host/db"
    )
