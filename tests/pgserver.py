"""A real PostgreSQL server for the tests, found or started on demand.

:func:`postgres_url` finds a server, in this order:

1. ``CITYHUB_TEST_PG`` (a URL) when set: used as is;
2. a server on 127.0.0.1 (port ``CITYHUB_TEST_PG_PORT``, default 5432) that lets user
   ``postgres`` in without a password;
3. a throwaway server started from the installed binaries (``initdb``/``pg_ctl`` on PATH or in
   ``/usr/lib/postgresql/*/bin``) in a temporary directory, on a free port, stopped and deleted
   when the test process exits. As root it runs as the ``postgres`` OS user (else ``nobody``).

:func:`fresh_database_url` gives each caller a new empty database on that server; databases
created on a server we did not start are dropped at exit. When no server can be had, both raise
:class:`PostgresUnavailable`, except that :func:`fresh_database_url` skips the test instead when
PostgreSQL is optional (not CI, ``CITYHUB_TEST_REQUIRE_SERVICES`` and ``CITYHUB_TEST_PG`` unset).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlparse

import asyncpg
import pytest

T = TypeVar("T")
_lock = threading.Lock()
_server: str | PostgresUnavailable | None = None  # maintenance URL of the server, or why not
_base_url: str | None = None
_throwaway_url: str | None = None  # maintenance URL of the server we started, if any
_to_drop: list[tuple[str, str]] = []  # (maintenance URL, database) to drop at exit


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be found or started."""


def postgres_url() -> str:
    """URL of a usable database (the same one for the whole test process)."""
    global _base_url
    if url := os.environ.get("CITYHUB_TEST_PG"):
        return url
    with _lock:
        if _base_url is None:
            _base_url = _create_database(_server_url())
        return _base_url


def fresh_database_url() -> str:
    """URL of a new, empty database (skips the test if PostgreSQL is optional and missing)."""
    try:
        with _lock:
            return _create_database(os.environ.get("CITYHUB_TEST_PG") or _server_url())
    except PostgresUnavailable as err:
        if _required():
            raise
        pytest.skip(f"PostgreSQL unavailable: {err}")


def _required() -> bool:
    return (
        os.environ.get("CI") == "true"
        or os.environ.get("CITYHUB_TEST_REQUIRE_SERVICES", "") not in ("", "0")
        or bool(os.environ.get("CITYHUB_TEST_PG"))
    )


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on its own loop (callers may be inside a running loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop here (also the case at exit, when no thread can start)
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _server_url() -> str:
    """Maintenance URL of the local or throwaway server (cached, failure included)."""
    global _server
    if _server is None:
        try:
            _server = _local_server() or _throwaway_server()
        except PostgresUnavailable as err:
            _server = err
    if isinstance(_server, PostgresUnavailable):
        raise _server
    return _server


def _local_server() -> str | None:
    port = int(os.environ.get("CITYHUB_TEST_PG_PORT", "5432"))
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return None
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        await conn.close()

    try:
        _run(probe())
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return None  # e.g. a password is required: start our own server instead
    return url


def _create_database(admin_url: str) -> str:
    name = f"cityhub_test_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        conn = await asyncpg.connect(admin_url, timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        finally:
            await conn.close()

    try:
        _run(create())
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
        raise PostgresUnavailable(f"cannot create a database via {admin_url}: {err}") from err
    if admin_url != _throwaway_url:  # a throwaway server is deleted whole
        if not _to_drop:
            atexit.register(_drop_databases)
        _to_drop.append((admin_url, name))
    return urlparse(admin_url)._replace(path=f"/{name}").geturl()


def _drop_databases() -> None:
    async def drop() -> None:
        for admin_url, name in _to_drop:
            with contextlib.suppress(Exception):
                conn = await asyncpg.connect(admin_url, timeout=10)
                try:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                finally:
                    await conn.close()

    with contextlib.suppress(Exception):
        _run(drop())


# --- throwaway server -------------------------------------------------------------------


def _find_bindir() -> str:
    candidates = []
    if found := shutil.which("initdb"):
        candidates.append(os.path.dirname(os.path.realpath(found)))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    versions.sort(key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0)
    candidates += reversed(versions)
    candidates += ["/usr/local/pgsql/bin", *glob.glob("/opt/homebrew/opt/postgresql*/bin")]
    for bindir in candidates:
        if all(os.access(os.path.join(bindir, b), os.X_OK) for b in ("initdb", "pg_ctl")):
            return bindir
    raise PostgresUnavailable(
        "no server on 127.0.0.1 and no PostgreSQL binaries (initdb, pg_ctl) on PATH or in "
        "/usr/lib/postgresql/*/bin: install PostgreSQL or set CITYHUB_TEST_PG to a server URL"
    )


def _os_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as (initdb refuses to run as root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresUnavailable("running as root and no 'postgres' or 'nobody' user to run as")


def _as_user(user: pwd.struct_passwd | None, cmd: list[str], cwd: str) -> None:
    if user is not None:
        if shutil.which("runuser"):
            cmd = ["runuser", "-u", user.pw_name, "--", *cmd]
        else:
            cmd = ["su", "-s", "/bin/sh", user.pw_name, "-c", shlex.join(cmd)]
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise PostgresUnavailable(f"{shlex.join(cmd)} failed: {err}") from err
    if done.returncode != 0:
        raise PostgresUnavailable(
            f"{shlex.join(cmd)} failed ({done.returncode}): {(done.stderr or done.stdout)[-2000:]}"
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _throwaway_server() -> str:
    global _throwaway_url
    bindir = _find_bindir()
    user = _os_user()
    tmp = tempfile.mkdtemp(prefix="cityhub-pg-")
    data, log = os.path.join(tmp, "data"), os.path.join(tmp, "server.log")
    if user is not None:
        os.chown(tmp, user.pw_uid, user.pw_gid)
    pg_ctl = os.path.join(bindir, "pg_ctl")
    try:
        _as_user(
            user,
            [
                os.path.join(bindir, "initdb"),
                "-D",
                data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            tmp,
        )
        port = _free_port()
        options = (
            f"-p {port} -k {shlex.quote(tmp)} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        _as_user(
            user, [pg_ctl, "-D", data, "-l", log, "-w", "-t", "60", "-o", options, "start"], tmp
        )
    except PostgresUnavailable as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise PostgresUnavailable(f"cannot start a throwaway server: {err}") from err

    def stop() -> None:
        with contextlib.suppress(PostgresUnavailable):
            _as_user(user, [pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"], tmp)
        shutil.rmtree(tmp, ignore_errors=True)

    atexit.register(stop)
    _throwaway_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    return _throwaway_url
