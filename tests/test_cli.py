"""The cityhub command as a user runs it: real processes, real sockets, kill -9."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow
CITYHUB = [sys.executable, "-m", "cityhub"]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run cityhub to completion."""
    return subprocess.run(
        [*CITYHUB, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


class Server:
    """A `cityhub serve` process on a free port."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # its output goes to a file: a pipe nobody reads fills up and stalls the server
        self._out = tempfile.NamedTemporaryFile(prefix="cityhub-serve-", suffix=".log")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*CITYHUB, "serve", "--port", str(self.port), *args],
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/version", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
            if self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError("cityhub serve did not start")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the process (SIGKILL to simulate a crash)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self._out.close()

    def output(self) -> str:
        """What the server printed so far (its log)."""
        with open(self._out.name, encoding="utf-8", errors="replace") as fh:
            return fh.read()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A running hub on SQLite in a temporary data dir."""
    srv = Server("--data-dir", str(tmp_path / "data"))
    yield srv
    srv.stop()


def test_version_and_help() -> None:
    out = run("--version")
    assert out.returncode == 0 and "cityhub, version" in out.stdout
    helptext = run("serve", "--help").stdout
    for flag in ("--host", "--port", "--database", "--workers", "--data-dir", "--config"):
        assert flag in helptext


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--database", "mysql://root@localhost/db"], "bad database URL 'mysql://"),
        (["--database", "sqlite://"], "bad database URL"),
        (["--data-dir", "/proc/version/sub"], "cannot create data directory"),
        (["--database", "postgresql://postgres@127.0.0.1:1/none"], "cannot connect to PostgreSQL"),
        (["--port", "http"], "Invalid value for '--port'"),
    ],
)
def test_bad_settings_give_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    out = (
        run("serve", "--data-dir", str(tmp_path), *args)
        if "--data-dir" not in args
        else run("serve", *args)
    )
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith(("cityhub: error:", "Error:"))]
    assert len(errors) == 1


def test_busy_port_is_one_line(server: Server, tmp_path: Path) -> None:
    out = run("serve", "--port", str(server.port), "--data-dir", str(tmp_path))
    assert out.returncode == 2
    assert f"port {server.port} on 127.0.0.1 is already in use" in out.stderr
    assert "Traceback" not in out.stderr


def test_settings_from_env_and_toml(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "hub.toml"
    config.write_text(f'port = {port}\ndata_dir = "{tmp_path / "d"}"\n', encoding="utf-8")
    out = run("settings", "--config", str(config), env={"CITYHUB_WORKERS": "3"})
    assert f"port = {port}" in out.stdout and "workers = 3" in out.stdout


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    srv = Server("--data-dir", str(tmp_path / "data"))
    ids = [f"urn:ngsi-ld:Sensor:{i}" for i in range(200)]
    try:
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            for i, eid in enumerate(ids):
                r = c.post(
                    "/ngsi-ld/v1/entities",
                    json={"id": eid, "type": "Sensor", "v": {"type": "Property", "value": i}},
                )
                assert r.status_code == 201
            r = c.patch(f"/ngsi-ld/v1/entities/{ids[0]}/attrs/v", json={"value": -1})
            assert r.status_code == 204
    finally:
        srv.stop(signal.SIGKILL)
    again = Server("--data-dir", str(tmp_path / "data"))
    try:
        r = httpx.get(
            again.url + "/ngsi-ld/v1/entities",
            params={"type": "Sensor", "count": "true", "limit": "0"},
        )
        assert r.headers["NGSILD-Results-Count"] == "200"
        r = httpx.get(again.url + f"/ngsi-ld/v1/entities/{ids[0]}", params={"options": "keyValues"})
        assert r.json()["v"] == -1
    finally:
        again.stop()


def test_two_workers_share_one_database(tmp_path: Path) -> None:
    srv = Server("--data-dir", str(tmp_path / "data"), "--workers", "2")
    try:
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            for i in range(50):
                r = c.post(
                    "/ngsi-ld/v1/entities", json={"id": f"urn:ngsi-ld:W:{i}", "type": "W", "n": i}
                )
                assert r.status_code == 201
            for i in range(50):
                assert c.get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:W:{i}").status_code == 200
    finally:
        srv.stop()


def test_ctrl_c_stops_the_hub_cleanly(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT) shuts the hub down gracefully and exits 0, saying so, without click's
    "Aborted!"."""
    srv = Server("--data-dir", str(tmp_path / "data"))
    srv.proc.send_signal(signal.SIGINT)
    assert srv.proc.wait(timeout=30) == 0
    out = srv.output()
    srv.stop()
    assert "cityhub stopped" in out and "Aborted" not in out, out
