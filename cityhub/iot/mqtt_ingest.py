"""Measures over MQTT: cityhub subscribes to the IoT Agent topics on a broker (``mqtt_url``).

Topics (IoT Agent conventions): ``/<apikey>/<device_id>/attrs`` (JSON, or UltraLight when the
payload is not a JSON object or array), ``/json/<apikey>/<device_id>/attrs``,
``/ul/<apikey>/<device_id>/attrs``, and the same with ``/<attr>`` appended for one measure.

Nothing acknowledged is lost: the subscription is QoS 1 on a persistent session (a fixed
client id, clean session off) and a message is acknowledged only once its measures are written
(or kept as a dead letter); a message in flight when cityhub stops is sent again by the broker
after the reconnection. The broker's in-flight window (Mosquitto: 20 messages) bounds what is
held in memory: back-pressure, not an unbounded queue. A device's messages are applied in the
order they arrived; different devices' in parallel, so their writes share group commits.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from urllib.parse import unquote, urlsplit

import aiomqtt
import orjson

from cityhub.errors import NgsiError
from cityhub.iot.ingest import JSON, UL, Ingest, Message

log = logging.getLogger(__name__)

TOPICS = (
    "/+/+/attrs",
    "/+/+/attrs/+",
    "/json/+/+/attrs",
    "/json/+/+/attrs/+",
    "/ul/+/+/attrs",
    "/ul/+/+/attrs/+",
)
_WINDOW = 64  # messages handled at once
_MAX_DELAY_S = 30.0


def parse_topic(topic: str) -> tuple[str | None, str, str, str | None] | None:
    """(format or None for the legacy topic, apikey, device_id, single attribute or None)."""
    parts = topic.split("/")
    if len(parts) < 4 or parts[0] != "":
        return None
    parts = parts[1:]
    fmt = None
    if parts[0] in (JSON, UL) and len(parts) >= 4 and parts[3] == "attrs":
        fmt, parts = parts[0], parts[1:]
    if len(parts) not in (3, 4) or parts[2] != "attrs" or not parts[0] or not parts[1]:
        return None
    return fmt, parts[0], parts[1], parts[3] if len(parts) == 4 else None


def message_of(topic: str, payload: bytes) -> tuple[str, str, str, bytes] | None:
    """(apikey, device_id, format, payload) of a message on an ingest topic; a single-measure
    topic becomes a JSON object of that one measure."""
    parsed = parse_topic(topic)
    if parsed is None:
        return None
    fmt, apikey, device_id, attr = parsed
    if attr is not None:
        value: object
        try:
            value = orjson.loads(payload) if fmt != UL else payload.decode("utf-8")
        except (orjson.JSONDecodeError, UnicodeDecodeError):
            value = payload.decode("utf-8", "replace")
        return apikey, device_id, JSON, orjson.dumps({attr: value})
    if fmt is None:
        fmt = JSON if payload.lstrip()[:1] in (b"{", b"[") else UL
    return apikey, device_id, fmt, payload


class MqttIngest:
    """The MQTT side of ingest, run as a background task of the app."""

    def __init__(self, ingest: Ingest, url: str, client_id: str) -> None:
        self.ingest = ingest
        self.url = url
        self.client_id = client_id
        self.taken = 0  # messages handled (taken or dead-lettered) since start
        self._failed: BaseException | None = None

    async def run(self) -> None:
        """Connect, subscribe and consume; reconnect with a growing pause after a failure."""
        delay = 1.0
        while True:
            try:
                async with self._client() as client:
                    for topic in TOPICS:
                        await client.subscribe(topic, qos=1)
                    log.info("MQTT ingest: subscribed on %s", _safe(self.url))
                    delay = 1.0
                    await self._consume(client)
            except asyncio.CancelledError:
                raise
            except (aiomqtt.MqttError, OSError, _Retry) as err:
                log.warning("MQTT ingest: %s; reconnecting in %.0f s", err, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_DELAY_S)

    def _client(self) -> aiomqtt.Client:
        parts = urlsplit(self.url)
        client = aiomqtt.Client(
            parts.hostname or "127.0.0.1",
            parts.port or (8883 if parts.scheme == "mqtts" else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            identifier=self.client_id,
            clean_session=False,
            tls_context=ssl.create_default_context() if parts.scheme == "mqtts" else None,
        )
        # acknowledge a message only once it is written (aiomqtt exposes no switch of its own)
        client._client.manual_ack_set(True)  # noqa: SLF001
        return client

    async def _consume(self, client: aiomqtt.Client) -> None:
        window = asyncio.Semaphore(_WINDOW)
        last: dict[str, asyncio.Task[None]] = {}  # per device: its latest message's task
        self._failed = None
        async for message in client.messages:
            if self._failed is not None:
                raise _Retry(f"a write failed ({self._failed}); unacknowledged messages come again")
            await window.acquire()
            topic = str(message.topic)
            payload = (
                bytes(message.payload)
                if isinstance(message.payload, bytes | bytearray)
                else str(message.payload).encode()
            )
            key = topic.split("/attrs")[0]
            before = last.get(key)
            task = asyncio.get_running_loop().create_task(
                self._handle(client, message.mid, message.qos, topic, payload, before, window)
            )
            last[key] = task

            def forget(done: asyncio.Task[None], key: str = key) -> None:
                if last.get(key) is done:
                    del last[key]

            task.add_done_callback(forget)

    async def _handle(
        self,
        client: aiomqtt.Client,
        mid: int,
        qos: int,
        topic: str,
        payload: bytes,
        before: asyncio.Task[None] | None,
        window: asyncio.Semaphore,
    ) -> None:
        try:
            if before is not None:
                await asyncio.wait([before])  # the device's earlier message first
            await self._take(topic, payload)
            client._client.ack(mid, qos)  # noqa: SLF001
            self.taken += 1
        except NgsiError:
            client._client.ack(mid, qos)  # noqa: SLF001 - kept as a dead letter
            self.taken += 1
        except Exception as err:  # the database: do not acknowledge; reconnect, get it again
            log.exception("MQTT ingest: a message on %s could not be written", topic)
            self._failed = err
            client._client.disconnect()  # noqa: SLF001 - the broker sends it again
        finally:
            window.release()

    async def _take(self, topic: str, payload: bytes) -> None:
        found = message_of(topic, payload)
        if found is None:
            log.info("MQTT ingest: ignoring a message on %s (not an ingest topic)", topic)
            return
        apikey, device_id, fmt, body = found
        where = await self.ingest.registry.tenant_of_key(apikey)
        tenant, path = where if where is not None else ("", "/")
        await self.ingest.take(Message(tenant, path, "mqtt", topic, apikey, device_id, fmt, body))


class _Retry(Exception):
    """Reconnect: messages were left unacknowledged."""


def _safe(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@")
