"""An MQTT broker for ``cityhub demo``: the one reachable (Mosquitto on 127.0.0.1:1883, or the
``--mqtt`` URL given), else one started for the demo, else none.

:func:`demo_broker` picks, in this order:

1. the broker at the URL (``mqtt://127.0.0.1:1883`` by default) when it answers;
2. an **embedded** broker (amqtt, in the demo's own process) listening on that address — for
   the demo only: it keeps nothing for a hub that is away (Mosquitto does, see docs/iot.md);
3. a ``mosquitto`` of the demo's own (the installed binary, a throwaway configuration);
4. none: ingest over HTTP only (``/iot/json``), with a message saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)
DEFAULT_URL = "mqtt://127.0.0.1:1883"
_MOSQUITTO = ("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
_START_S = 10.0


def address(url: str) -> tuple[str, int]:
    """(host, port) of an ``mqtt://`` URL (ValueError when it is not one)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"an MQTT broker URL is mqtt://host:port, not {url!r}")
    return parts.hostname, parts.port or (8883 if parts.scheme == "mqtts" else 1883)


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something listens at host:port."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


@dataclass
class Broker:
    """The broker the demo uses: its URL ("" for none), what it is, and how to stop it."""

    url: str
    kind: str  # "external", "embedded", "mosquitto" or "none"
    handle: Any = None

    def describe(self) -> str:
        """One line for the console."""
        return {
            "external": f"MQTT ingest from the broker at {self.url}",
            "embedded": f"MQTT ingest from an embedded broker at {self.url} (started for the demo)",
            "mosquitto": f"MQTT ingest from a mosquitto started for the demo at {self.url}",
            "none": "no MQTT broker reachable and none could be started (install mosquitto, "
            "or amqtt); device measures over HTTP only (/iot/json)",
        }[self.kind]

    async def stop(self) -> None:
        """Stop a broker the demo started (one it found keeps running)."""
        if self.kind == "embedded":
            with contextlib.suppress(Exception):  # the demo is ending either way
                await asyncio.wait_for(self.handle.shutdown(), _START_S)
        elif self.kind == "mosquitto":
            proc, workdir = self.handle
            proc.terminate()
            try:
                await asyncio.to_thread(proc.wait, _START_S)
            except subprocess.TimeoutExpired:
                proc.kill()
            shutil.rmtree(workdir, ignore_errors=True)


async def demo_broker(url: str | None) -> Broker:
    """The broker for the demo (see the module header); ValueError for a malformed URL."""
    url = url or DEFAULT_URL
    host, port = address(url)
    if await asyncio.to_thread(answers, host, port):
        return Broker(url, "external")
    if urlsplit(url).scheme == "mqtt":
        embedded = await _embedded(host, port)
        if embedded is not None:
            return Broker(f"mqtt://{_url_host(host)}:{port}", "embedded", embedded)
        started = await _mosquitto(host, port)
        if started is not None:
            return Broker(f"mqtt://{_url_host(host)}:{port}", "mosquitto", started)
    return Broker("", "none")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def _embedded(host: str, port: int) -> Any:
    """An amqtt broker listening on host:port, or None (amqtt missing, or it cannot listen)."""
    try:
        from amqtt.broker import Broker as AmqttBroker
        from amqtt.contexts import BrokerConfig
    except ImportError:
        log.info("amqtt is not installed: no embedded MQTT broker")
        return None
    for name in ("amqtt", "transitions"):  # their connection chatter is not the demo's news
        logging.getLogger(name).setLevel(logging.WARNING)
    config = BrokerConfig.from_dict(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"{_url_host(host)}:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
    )
    broker = AmqttBroker(config)
    try:
        await asyncio.wait_for(broker.start(), _START_S)
    except Exception as err:  # noqa: BLE001 - any failure: try the next kind of broker
        log.warning("the embedded MQTT broker could not start on %s:%d: %s", host, port, err)
        with contextlib.suppress(Exception):
            await broker.shutdown()
        return None
    return broker


async def _mosquitto(host: str, port: int) -> tuple[subprocess.Popen[bytes], str] | None:
    """A mosquitto process listening on host:port (no persistence, anonymous), or None."""
    binary = next(
        (b for b in (shutil.which(c) or c for c in _MOSQUITTO) if os.access(b, os.X_OK)), None
    )
    if binary is None:
        return None
    workdir = tempfile.mkdtemp(prefix="cityhub-demo-mqtt-")
    config = os.path.join(workdir, "mosquitto.conf")
    Path(config).write_text(  # noqa: ASYNC240 - a few bytes in a fresh temporary directory
        f"listener {port} {host}\nallow_anonymous true\nmax_queued_messages 0\n", "utf-8"
    )
    os.chmod(workdir, 0o755)  # mosquitto may drop root for its own user: it must read this
    os.chmod(config, 0o644)
    proc = subprocess.Popen(  # noqa: ASYNC220 - starting it is quick; waiting is below
        [binary, "-c", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(int(_START_S * 10)):
        if proc.poll() is not None:
            break
        if await asyncio.to_thread(answers, host, port, 0.2):
            return proc, workdir
        await asyncio.sleep(0.1)
    proc.kill()
    shutil.rmtree(workdir, ignore_errors=True)
    log.warning("mosquitto (%s) did not start on %s:%d", binary, host, port)
    return None
