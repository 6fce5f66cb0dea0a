"""Measures over MQTT: cityhub subscribes to the IoT Agent topics on a broker (``mqtt_url``).

Topics (IoT Agent conventions): ``/<apikey>/<device_id>/attrs`` (JSON, or UltraLight when the
payload is not a JSON object or array), ``/json/<apikey>/<device_id>/attrs``,
``/ul/<apikey>/<device_id>/attrs``, and the same with ``/<attr>`` appended for one measure.

Nothing acknowledged is lost: the subscription is QoS 1 on a persistent session (a fixed
client id, clean session off) and a message is acknowledged only once its measures are written
(or kept as a dead letter); a message in flight when cityhub stops is sent again by the broker
after the reconnection. The broker's in-flight window (Mosquitto: 20 messages) bounds what is
held in memory: back-pressure, not an unbounded queue. A device's messages are applied in the
order they arrived, in batches of whatever arrived meanwhile, each batch one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from urllib.parse import unquote, urlsplit

import aiomqtt
import orjson

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
_WINDOW = 256  # messages received and not yet handled, at most
_BATCH = 256  # messages written in one transaction, at most
_MAX_DELAY_S = 30.0
_WATCH_S = 1.0  # how often an idle consumer checks that its connection is alive


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
        self.subscribed = asyncio.Event()  # set while connected and subscribed
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
                    self.subscribed.set()
                    delay = 1.0
                    try:
                        await self._consume(client)
                    finally:
                        self.subscribed.clear()
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
        """Take messages in arrival order, in batches of whatever arrived meanwhile (one
        transaction each), acknowledging each batch once it is written."""
        self._failed = None
        queue: asyncio.Queue[aiomqtt.Message] = asyncio.Queue(maxsize=_WINDOW)
        worker = asyncio.get_running_loop().create_task(self._work(client, queue))
        messages = client.messages.__aiter__()
        try:
            while not worker.done():
                try:
                    message = await asyncio.wait_for(anext(messages), _WATCH_S)
                except TimeoutError:
                    # a connection that died inside a socket callback does not always end
                    # the message stream: look, and reconnect rather than wait forever
                    if not client._client.is_connected():  # noqa: SLF001
                        raise _Retry("the connection to the broker is gone") from None
                    continue
                await queue.put(message)  # full: wait (the broker holds the rest)
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, _Retry):
                await worker
        if self._failed is not None:
            raise _Retry(f"a write failed ({self._failed}); unacknowledged messages come again")

    async def _work(self, client: aiomqtt.Client, queue: asyncio.Queue[aiomqtt.Message]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < _BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                msgs = [m for m in [await self._message(m) for m in batch] if m is not None]
                await self.ingest.take_many(msgs)
            except Exception as err:  # the database: leave them unacknowledged, reconnect
                log.exception("MQTT ingest: %d messages could not be written", len(batch))
                self._failed = err
                client._client.disconnect()  # noqa: SLF001 - the broker sends them again
                return
            for m in batch:
                client._client.ack(m.mid, m.qos)  # noqa: SLF001
            self.taken += len(batch)

    async def _message(self, message: aiomqtt.Message) -> Message | None:
        topic = str(message.topic)
        raw = message.payload
        payload = bytes(raw) if isinstance(raw, bytes | bytearray) else str(raw).encode()
        found = message_of(topic, payload)
        if found is None:
            log.info("MQTT ingest: ignoring a message on %s (not an ingest topic)", topic)
            return None
        apikey, device_id, fmt, body = found
        where = await self.ingest.tenant_of_key(apikey)
        tenant, path = where if where is not None else ("", "/")
        return Message(tenant, path, "mqtt", topic, apikey, device_id, fmt, body)


class _Retry(Exception):
    """Reconnect: messages were left unacknowledged."""


def _safe(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@")
