"""MQTT notifications (NGSI-LD's MQTT binding): one kept-open connection per broker.

An endpoint ``mqtt://user:password@host:port/some/topic`` (``mqtts://`` for TLS) names the
broker and the topic. The message is a JSON object ``{"metadata": {...}, "body": notification}``
where ``metadata`` carries what HTTP would send as headers (Content-Type, Link, the
``receiverInfo`` entries). ``notifierInfo`` picks the MQTT version (``MQTT-Version``:
``mqtt3.1.1`` or ``mqtt5.0``, the default) and QoS (``MQTT-QoS``: 0, the default, 1 or 2); a
publish with QoS 1 or 2 returns once the broker acknowledged it.

:class:`MqttPublisher` keeps one connection per (broker, user, version) and reconnects when a
publish on a connection that has gone stale fails. With a ``guard`` it connects only to brokers
on addresses the guard allows (``cityhub/guard/outbound.py``): over plain MQTT to the very
address it vetted, over TLS to the name (whose certificate an internal server cannot present).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import orjson

from cityhub.guard.outbound import OutboundGuard

VERSIONS = {"mqtt3.1.1": aiomqtt.ProtocolVersion.V311, "mqtt5.0": aiomqtt.ProtocolVersion.V5}
_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


class MqttDeliveryError(Exception):
    """An MQTT notification could not be published (the message says why)."""


@dataclass(frozen=True, slots=True)
class Broker:
    """Where and as whom to connect."""

    tls: bool
    host: str
    port: int
    username: str | None
    password: str | None
    version: str


def parse_endpoint(uri: str, notifier_info: list[dict[str, Any]] | None) -> tuple[Broker, str, int]:
    """Broker, topic and QoS of an MQTT endpoint (MqttDeliveryError if unusable)."""
    parts = urlsplit(uri)
    info = {str(i.get("key")): str(i.get("value")) for i in notifier_info or []}
    version = info.get("MQTT-Version", "mqtt5.0")
    if version not in VERSIONS:
        raise MqttDeliveryError(f"unknown MQTT-Version {version!r}")
    try:
        qos = int(info.get("MQTT-QoS", "0"))
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except (ValueError, KeyError) as err:
        raise MqttDeliveryError(f"bad MQTT endpoint: {err}") from err
    if qos not in (0, 1, 2):
        raise MqttDeliveryError(f"MQTT-QoS must be 0, 1 or 2, not {qos}")
    topic = unquote(parts.path.lstrip("/"))
    if not parts.hostname or not topic:
        raise MqttDeliveryError("an MQTT endpoint needs a host and a topic")
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    broker = Broker(parts.scheme == "mqtts", parts.hostname, port, user, password, version)
    return broker, topic, qos


def message(metadata: dict[str, str], body: bytes) -> bytes:
    """The MQTT payload: metadata and the (already serialized) notification."""
    return b'{"metadata":' + orjson.dumps(metadata) + b',"body":' + body + b"}"


class _Connection:
    def __init__(self, client: aiomqtt.Client, stack: contextlib.AsyncExitStack) -> None:
        self.client = client
        self.stack = stack


class MqttPublisher:
    """Publishes over one connection per broker, opened on first use and kept."""

    def __init__(self, timeout_s: float, *, guard: OutboundGuard | None = None) -> None:
        self.timeout_s = timeout_s
        self.guard = guard
        self._connections: dict[Broker, _Connection] = {}
        self._locks: dict[Broker, asyncio.Lock] = {}

    async def publish(self, broker: Broker, topic: str, payload: bytes, qos: int) -> None:
        """Publish ``payload``; returns once sent (QoS 0) or acknowledged (QoS 1, 2)."""
        conn = self._connections.get(broker)
        fresh = conn is None
        if conn is None:
            conn = await self._connect(broker)
        try:
            await conn.client.publish(topic, payload, qos=qos, timeout=self.timeout_s)
            return
        except aiomqtt.MqttError as err:
            await self._drop(broker, conn)
            if fresh:
                raise MqttDeliveryError(f"MQTT publish failed: {err}") from err
        # the kept connection had gone (broker restarted, idle timeout): one more try, anew
        conn = await self._connect(broker)
        try:
            await conn.client.publish(topic, payload, qos=qos, timeout=self.timeout_s)
        except aiomqtt.MqttError as err:
            await self._drop(broker, conn)
            raise MqttDeliveryError(f"MQTT publish failed: {err}") from err

    async def _connect(self, broker: Broker) -> _Connection:
        lock = self._locks.setdefault(broker, asyncio.Lock())
        async with lock:  # concurrent publishes to a new broker share one connection attempt
            conn = self._connections.get(broker)
            if conn is not None:
                return conn
            where = f"{broker.host}:{broker.port}"
            targets = [broker.host]
            if self.guard is not None:
                try:  # OutboundRefused (an internal address) goes on to the deliverer
                    addresses = await self.guard.vet(broker.host, broker.port)
                except OSError as err:
                    raise MqttDeliveryError(f"cannot resolve MQTT broker {where}: {err}") from err
                if not broker.tls:  # connect to what was vetted, not to a fresh lookup
                    targets = addresses
            error: aiomqtt.MqttError | None = None
            for target in targets:
                try:
                    conn = await self._open(broker, target)
                except aiomqtt.MqttError as err:
                    error = err
                    continue
                self._connections[broker] = conn
                return conn
            raise MqttDeliveryError(f"cannot connect to MQTT broker {where}: {error}") from error

    async def _open(self, broker: Broker, host: str) -> _Connection:
        version = VERSIONS[broker.version]
        client = aiomqtt.Client(
            host,
            broker.port,
            username=broker.username,
            password=broker.password,
            identifier=f"cityhub-{uuid.uuid4().hex[:16]}",
            protocol=version,
            clean_session=True if version is aiomqtt.ProtocolVersion.V311 else None,
            timeout=self.timeout_s,
            tls_context=ssl.create_default_context() if broker.tls else None,
        )
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(client)
        return _Connection(client, stack)

    async def _drop(self, broker: Broker, conn: _Connection) -> None:
        if self._connections.get(broker) is conn:
            del self._connections[broker]
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.timeout_s):
                await conn.stack.aclose()

    async def close(self) -> None:
        """Disconnect from every broker."""
        for broker, conn in list(self._connections.items()):
            await self._drop(broker, conn)
