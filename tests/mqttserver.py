"""A real MQTT broker (Mosquitto) for the tests, found or started on demand.

:func:`mqtt_broker` finds one, in this order:

1. ``CITYHUB_TEST_MQTT`` (``host:port``) when set: used as is;
2. a broker on 127.0.0.1 (port ``CITYHUB_TEST_MQTT_PORT``, default 1883);
3. a throwaway ``mosquitto`` started from the installed binary (on PATH or in /usr/sbin) with a
   loopback-only, anonymous listener on a free port, stopped when the test process exits.

When none can be had the test is skipped, unless services are required (``CI=true``,
``CITYHUB_TEST_REQUIRE_SERVICES`` or ``CITYHUB_TEST_MQTT`` set): then it fails.
``scripts/ensure-mosquitto.sh`` installs Mosquitto where neither a broker nor the binary is.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

_lock = threading.Lock()
_found: tuple[str, int] | str | None = None  # (host, port), or why there is none


class MqttUnavailable(RuntimeError):
    """No MQTT broker could be found or started."""


def mqtt_broker() -> tuple[str, int]:
    """Host and port of a usable broker (skips the test if MQTT is optional and missing)."""
    global _found
    with _lock:
        if _found is None:
            try:
                _found = _configured() or _local() or _throwaway()
            except MqttUnavailable as err:
                _found = str(err)
    if isinstance(_found, str):
        if _required():
            raise MqttUnavailable(_found)
        pytest.skip(f"MQTT broker unavailable: {_found}")
    return _found


def _required() -> bool:
    return (
        os.environ.get("CI") == "true"
        or os.environ.get("CITYHUB_TEST_REQUIRE_SERVICES", "") not in ("", "0")
        or bool(os.environ.get("CITYHUB_TEST_MQTT"))
    )


def _answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


def _configured() -> tuple[str, int] | None:
    raw = os.environ.get("CITYHUB_TEST_MQTT")
    if not raw:
        return None
    host, _, port = raw.rpartition(":")
    if not host or not port.isdigit():
        raise MqttUnavailable(f"CITYHUB_TEST_MQTT must be host:port, not {raw!r}")
    if not _answers(host, int(port)):
        raise MqttUnavailable(f"nothing answers at CITYHUB_TEST_MQTT={raw}")
    return host, int(port)


def _local() -> tuple[str, int] | None:
    port = int(os.environ.get("CITYHUB_TEST_MQTT_PORT", "1883"))
    return ("127.0.0.1", port) if _answers("127.0.0.1", port) else None


def _binary() -> str:
    found = shutil.which("mosquitto")
    for candidate in (found, "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise MqttUnavailable(
        "no broker on 127.0.0.1:1883 and no mosquitto binary: install mosquitto "
        "(scripts/ensure-mosquitto.sh) or set CITYHUB_TEST_MQTT=host:port"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _throwaway() -> tuple[str, int]:
    broker = Mosquitto(_binary())
    broker.start()
    atexit.register(broker.stop)
    return "127.0.0.1", broker.port


class Mosquitto:
    """A mosquitto process of our own on a loopback port (which survives a restart)."""

    def __init__(
        self, binary: str | None = None, port: int | None = None, *, persistent: bool = False
    ) -> None:
        self.binary = binary or _binary()
        self.port = port or _free_port()
        self.dir = tempfile.mkdtemp(prefix="cityhub-mqtt-")
        self.proc: subprocess.Popen[bytes] | None = None
        config = os.path.join(self.dir, "mosquitto.conf")
        # persistent: sessions and queued messages are saved on stop and come back on start
        keep = f"persistence true\npersistence_location {self.dir}/\n"
        with open(config, "w", encoding="utf-8") as fh:
            fh.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n")
            fh.write(keep if persistent else "persistence false\n")
            fh.write("max_queued_messages 0\n")  # the default (1,000) drops QoS 1 messages
        # mosquitto drops root for its own user: it must still read (and, persistent, write)
        os.chmod(self.dir, 0o777 if persistent else 0o755)
        os.chmod(config, 0o644)
        self.config = config

    def start(self) -> None:
        """Start and wait until it listens (MqttUnavailable if it does not)."""
        log_path = os.path.join(self.dir, "mosquitto.log")
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "-c", self.config], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                with open(log_path, encoding="utf-8", errors="replace") as f:
                    tail = f.read()[-500:]
                raise MqttUnavailable(f"mosquitto exited ({self.proc.returncode}): {tail}")
            if _answers("127.0.0.1", self.port):
                return
            time.sleep(0.05)
        raise MqttUnavailable(f"mosquitto did not listen on port {self.port} within 10 s")

    def stop(self, *, keep_dir: bool = False) -> None:
        """Stop the broker (and delete its directory unless ``keep_dir``)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if not keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
