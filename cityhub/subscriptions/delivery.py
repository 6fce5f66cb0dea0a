"""The deliverer: sends the notifications of the outbox over HTTP(S) and MQTT, with retries.

One :class:`Deliverer` runs per worker process (``run`` as a background task). It claims due
rows from the :class:`~cityhub.subscriptions.outbox.OutboxStore` when woken (``wake``, called
by the matcher after queueing) or every ``poll_s`` seconds, and hands each to the *lane* of its
endpoint (HTTP: scheme, host and port; MQTT: broker and topic). A lane sends at most
``per_endpoint`` notifications at once, all lanes together at most ``notify_concurrency``, and
every send is cut off after ``notify_timeout`` seconds, so a slow or dead receiver only ever
holds its own lane. The outbox hands out one row per subscription at a time, oldest first, so
a subscription's notifications arrive in order even across retries and workers.

Outcomes: a 2xx answer (or an acknowledged MQTT publish) deletes the row and counts
``timesSent``; anything else counts ``timesFailed`` and schedules a retry after an exponential
backoff with jitter (``backoff_base_s``, doubling, at most ``notify_backoff_max``), until
``notify_max_attempts`` attempts make the row a dead letter (``deadletters.py``).

Endpoints on internal addresses are refused (``cityhub/guard/outbound.py``): address literals
before the request, names when connecting (the HTTP connector's resolver and the MQTT
publisher vet the addresses they connect to, so a name rebound to an internal address after the
subscription was made is refused too). A refused notification becomes a dead letter at once,
with the reason: trying again would not help until ``outbound_allow`` changes, and then the
dead letter can be retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp

from cityhub.guard.outbound import GuardedResolver, OutboundGuard, OutboundRefused, Resolve
from cityhub.ngsild.models import now_iso
from cityhub.settings import Settings
from cityhub.subscriptions.mqtt import MqttDeliveryError, MqttPublisher, message, parse_endpoint
from cityhub.subscriptions.outbox import OutboxRow, OutboxStore, backoff_delay, safe_uri

log = logging.getLogger(__name__)

_ERROR_TEXT = 200  # characters of a receiver's error answer kept as lastError
_CLOSE_GRACE_S = 5.0  # how long close() lets sends in flight finish


def with_notified_at(body: bytes, at: str) -> bytes:
    """The stored notification (a JSON object) with ``notifiedAt`` spliced in first."""
    head = b'{"notifiedAt":"' + at.encode() + b'"'
    return head + (b"," + body[1:] if body[1:].lstrip() != b"}" else b"}")


def _headers(row: OutboxRow) -> dict[str, str]:
    """receiverInfo, then the matcher's headers (Link), Content-Type and the tenant."""
    endpoint = row.endpoint
    headers = {str(i["key"]): str(i["value"]) for i in endpoint.get("receiverInfo") or []}
    headers.update(endpoint.get("headers") or {})
    headers["Content-Type"] = str(endpoint.get("accept") or "application/json")
    if row.tenant:
        headers["NGSILD-Tenant"] = row.tenant
    return headers


def _lane_key(uri: str) -> str:
    parts = urlsplit(uri)
    try:
        where = f"{parts.scheme}://{parts.hostname}:{parts.port}"
    except ValueError:  # a bad port: sending will say so; the URI itself is the lane
        return uri
    return where + parts.path if parts.scheme.startswith("mqtt") else where


@dataclass(slots=True)
class _Lane:
    rows: deque[OutboxRow] = field(default_factory=deque)
    running: int = 0


class Deliverer:
    """Sends queued notifications; one per worker process."""

    def __init__(
        self,
        store: OutboxStore,
        settings: Settings,
        *,
        poll_s: float = 0.5,
        per_endpoint: int = 8,
        backoff_base_s: float = 1.0,
        resolve: Resolve | None = None,
    ) -> None:
        self.store = store
        self.timeout_s = settings.notify_timeout
        self.max_attempts = max(1, settings.notify_max_attempts)
        self.backoff_max_s = settings.notify_backoff_max
        self.concurrency = max(1, settings.notify_concurrency)
        self.poll_s = poll_s
        self.per_endpoint = max(1, per_endpoint)
        self.backoff_base_s = backoff_base_s
        # a claim outlives any wait in a lane plus a send; rows about to outlive it are given
        # back unsent (_handle), so no two workers ever send the same row at once
        self.lease_s = max(60.0, 6 * self.timeout_s)
        self._limit = asyncio.Semaphore(self.concurrency)
        self._wake = asyncio.Event()
        self._owned: dict[int, OutboxRow] = {}  # claimed and not yet settled, by nid
        self._lanes: dict[str, _Lane] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._full = False
        self._closed = False
        self._timers: set[asyncio.TimerHandle] = set()  # wake-ups for this worker's retries
        self._acks: list[OutboxRow] = []  # delivered, not yet recorded
        self._acking: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._guard = OutboundGuard(settings, resolve)  # resolve: tests give a fake DNS
        self._mqtt = MqttPublisher(self.timeout_s, guard=self._guard)

    def wake(self) -> None:
        """Look for due notifications now (the matcher queued some)."""
        self._wake.set()

    def lease(self) -> tuple[int, float] | None:
        """How many rows the matcher may lease to this deliverer as it queues them."""
        room = 2 * self.concurrency - len(self._owned)
        return None if room <= 0 or self._closed else (room, time.time() + self.lease_s)

    def take(self, rows: list[OutboxRow], complete: bool) -> None:
        """Send rows leased to this deliverer when they were queued."""
        if self._closed:
            return  # their lease runs out; another worker, or the next start, sends them
        for row in rows:
            self._dispatch(row)
        if not complete:
            self.wake()

    async def run(self) -> None:
        """Claim and dispatch due notifications until cancelled or closed."""
        while not self._closed:
            self._wake.clear()
            room = 2 * self.concurrency - len(self._owned)
            try:
                rows = await self.store.claim(time.time(), room, self.lease_s)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("claiming notifications failed; retrying in %.1f s", self.poll_s)
                rows = []
            self._full = len(rows) >= room  # more may be due: look again once a row settles
            for row in rows:
                self._dispatch(row)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)

    async def close(self) -> None:
        """Stop claiming, let sends in flight finish briefly, give back the rest, disconnect."""
        self._closed = True
        self._wake.set()
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=min(self.timeout_s, _CLOSE_GRACE_S))
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._acking is not None:  # record what was delivered before giving back the rest
            await asyncio.gather(self._acking, return_exceptions=True)
        for row in list(self._owned.values()):  # unsent, or cut off: claimable again at once
            with contextlib.suppress(Exception):
                await self.store.release(row)
        self._lanes.clear()
        if self._http is not None:
            await self._http.close()
            self._http = None
        await self._mqtt.close()

    def _wake_at(self, delay_s: float) -> None:
        """Claim again when a retry falls due, rather than at the next poll."""

        def fire() -> None:
            self._timers.discard(handle)
            self.wake()

        handle = asyncio.get_running_loop().call_later(delay_s + 0.005, fire)
        self._timers.add(handle)

    # --- lanes --------------------------------------------------------------------------

    def _dispatch(self, row: OutboxRow) -> None:
        key = _lane_key(str(row.endpoint.get("uri", "")))
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane()
        lane.rows.append(row)
        self._owned[row.nid] = row
        if lane.running < self.per_endpoint:
            lane.running += 1
            task = asyncio.get_running_loop().create_task(self._drain(key, lane))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _drain(self, key: str, lane: _Lane) -> None:
        try:
            while lane.rows:
                row = lane.rows.popleft()
                nxt = await self._handle(row)
                if nxt is not None:
                    self._dispatch(nxt)
        finally:
            lane.running -= 1
            if lane.running == 0 and not lane.rows and self._lanes.get(key) is lane:
                del self._lanes[key]

    async def _handle(self, row: OutboxRow) -> OutboxRow | None:
        """Send one row and record the outcome; the subscription's next row if it is due."""
        delivered = False
        try:
            async with self._limit:
                if time.time() + self.timeout_s + 1.0 > row.claimed_until or self._closed:
                    await self.store.release(row)  # its lease would end mid-send
                    return None
                try:
                    error, final = await self._send(row), False
                except OutboundRefused as err:
                    error, final = f"refused: {err.detail}", True
            now = time.time()
            chain_s = None if self._closed else self.lease_s
            if error is None:
                delivered = True
                self._acked(row)
                return None
            attempts = row.attempts + 1
            retry_at = None
            if attempts < self.max_attempts and not final:
                retry_at = now + backoff_delay(attempts, self.backoff_base_s, self.backoff_max_s)
            log.log(
                logging.INFO if retry_at is not None else logging.WARNING,
                "notification %s to %s failed (attempt %d%s): %s",
                row.notification_id,
                safe_uri(str(row.endpoint.get("uri", ""))),
                attempts,
                "" if retry_at is not None else ", now a dead letter",
                error,
            )
            nxt = await self.store.failed(row, error, now, retry_at, chain_s=chain_s)
            if retry_at is not None:
                self._wake_at(retry_at - now)
            return nxt
        except asyncio.CancelledError:
            raise
        except Exception:  # the database: the lease runs out and the row is claimed again
            log.exception("recording the outcome of notification %s failed", row.notification_id)
            return None
        finally:
            # once closed, close() gives back what is left; a delivered row stays owned until
            # its delivery is recorded
            if not self._closed and not delivered:
                self._owned.pop(row.nid, None)
            self._freed()

    def _freed(self) -> None:
        """A claimed row settled: if the last claim filled every slot, claim again now."""
        if self._full:
            self._full = False
            self._wake.set()

    def _acked(self, row: OutboxRow) -> None:
        """Record a delivery: rows delivered meanwhile are recorded together, in one write."""
        self._acks.append(row)
        if self._acking is None:
            self._acking = asyncio.get_running_loop().create_task(self._record_acks())

    async def _record_acks(self) -> None:
        try:
            while self._acks:
                rows, self._acks = self._acks, []
                chain_s = None if self._closed else self.lease_s
                try:
                    nxt = await self.store.succeeded(rows, time.time(), chain_s=chain_s)
                except Exception:  # the leases run out and the rows are sent again
                    log.exception("recording %d delivered notifications failed", len(rows))
                    nxt = []
                for row in rows:
                    self._owned.pop(row.nid, None)
                for row in nxt:
                    self._dispatch(row)
                self._freed()
        finally:
            self._acking = None

    # --- sending ------------------------------------------------------------------------

    async def _send(self, row: OutboxRow) -> str | None:
        """Deliver once; None on success, else why not (OutboundRefused: never try again)."""
        uri = str(row.endpoint.get("uri", ""))
        body = with_notified_at(row.body, now_iso())
        try:
            # literals here (aiohttp resolves no address literal), names when connecting
            self._guard.check_literal(self._guard.split(uri)[0])
            async with asyncio.timeout(self.timeout_s):
                if uri.startswith(("http://", "https://")):
                    return await self._post(uri, _headers(row), body)
                if uri.startswith(("mqtt://", "mqtts://")):
                    await self._publish(row, uri, body)
                    return None
            return f"unsupported endpoint URI scheme: {safe_uri(uri)}"
        except OutboundRefused:
            raise
        except TimeoutError:
            return f"no answer within {self.timeout_s:g} s"
        except aiohttp.ClientError as err:
            return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        except (MqttDeliveryError, OSError) as err:
            return str(err) or type(err).__name__
        except Exception as err:  # a malformed endpoint or header: record it, never loop on it
            log.debug("sending notification %s failed", row.notification_id, exc_info=True)
            return f"{type(err).__name__}: {err}"

    async def _post(self, uri: str, headers: dict[str, str], body: bytes) -> str | None:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                # the resolver refuses names with internal addresses, at every connection
                connector=aiohttp.TCPConnector(
                    limit=self.concurrency, resolver=GuardedResolver(self._guard)
                ),
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                trust_env=False,
            )
        async with self._http.post(uri, data=body, headers=headers, allow_redirects=False) as resp:
            if 200 <= resp.status < 300:
                await resp.read()  # read it all, so the connection is kept for the next one
                return None
            text = await resp.content.read(_ERROR_TEXT)
        detail = text.decode("utf-8", "replace").strip()
        return f"HTTP {resp.status}" + (f": {detail}" if detail else "")

    async def _publish(self, row: OutboxRow, uri: str, body: bytes) -> None:
        broker, topic, qos = parse_endpoint(uri, row.endpoint.get("notifierInfo"))
        await self._mqtt.publish(broker, topic, message(_headers(row), body), qos)
