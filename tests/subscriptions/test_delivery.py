"""Notification delivery over HTTP, against a real local receiver, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import orjson
import pytest

from cityhub.settings import Settings
from cityhub.storage import storage_for
from cityhub.storage.base import Storage
from cityhub.subscriptions.delivery import with_notified_at
from cityhub.subscriptions.outbox import backoff_delay, outbox_store, safe_uri
from cityhub.subscriptions.store import subscription_store
from tests.http_receiver import Receiver
from tests.outbox_support import enqueue, notification, outbox_rows, running

pytestmark = pytest.mark.anyio
CTX = "https://example.org/ctx.jsonld"
LINK = f'<{CTX}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A local HTTP receiver answering 200."""
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _ids(requests: list[object]) -> list[str]:
    return [r.json()["id"] for r in requests]  # type: ignore[attr-defined]


async def test_http_notification_has_headers_and_notified_at(
    storage: Storage, settings: Settings, receiver: Receiver
) -> None:
    plain = {
        "uri": receiver.url + "/notify",
        "accept": "application/json",
        "receiverInfo": [{"key": "X-Auth-Token", "value": "s3cret"}],
        "headers": {"Link": LINK},
    }
    ld = {"uri": receiver.url + "/ld", "accept": "application/ld+json"}
    first = notification("urn:ngsi-ld:Subscription:a")
    second = notification("urn:ngsi-ld:Subscription:b", **{"@context": CTX})
    await enqueue(storage, plain, [first], tenant="city1")
    await enqueue(storage, ld, [second], tenant="city1")
    async with running(storage, settings):
        got = await receiver.wait_for(2)
        await asyncio.sleep(0.1)  # the outcome is written after the answer
    by_path = {r.path: r for r in got}
    a, b = by_path["/notify"], by_path["/ld"]
    assert a.method == "POST"
    assert a.headers["content-type"] == "application/json"
    assert a.headers["link"] == LINK
    assert a.headers["x-auth-token"] == "s3cret"
    assert a.headers["ngsild-tenant"] == "city1"
    assert a.body.startswith(b'{"notifiedAt":"')
    body = a.json()
    assert body.pop("notifiedAt").endswith("Z")
    assert body == first
    assert b.headers["content-type"] == "application/ld+json"
    assert "link" not in b.headers
    assert b.json()["@context"] == CTX
    assert await outbox_rows(storage) == []
    status = await outbox_store(storage).status("city1", "urn:ngsi-ld:Subscription:a")
    assert (status.times_sent, status.times_failed) == (1, 0)
    assert status.last_success is not None and status.last_notification == status.last_success
    assert status.last_failure is None


async def test_failed_attempts_back_off_then_succeed(
    storage: Storage, settings: Settings, receiver: Receiver
) -> None:
    receiver.statuses.extend([500, 503])
    sub = "urn:ngsi-ld:Subscription:flaky"
    body = notification(sub)
    await enqueue(storage, {"uri": receiver.url, "accept": "application/json"}, [body])
    async with running(storage, settings, backoff_base_s=0.2):
        got = await receiver.wait_for(3)
        await asyncio.sleep(0.1)
    assert _ids(got) == [body["id"]] * 3
    gaps = [got[i + 1].at - got[i].at for i in range(2)]
    assert 0.15 <= gaps[0] < 1.0  # about 0.2 s (±20 %, polled every 0.05 s)
    assert 0.3 <= gaps[1] < 1.5 and gaps[1] > gaps[0]  # about 0.4 s: doubled
    notified = [r.json()["notifiedAt"] for r in got]
    assert notified == sorted(notified) and len(set(notified)) == 3  # stamped per attempt
    status = await outbox_store(storage).status("", sub)
    assert (status.times_sent, status.times_failed) == (1, 2)
    assert status.last_failure is not None and status.last_success is not None
    assert status.last_failure < status.last_success
    assert await outbox_rows(storage) == []


async def test_failure_is_recorded_with_its_reason(storage: Storage, settings: Settings) -> None:
    sub = "urn:ngsi-ld:Subscription:refused"
    dead_port = _free_port()
    await enqueue(storage, {"uri": f"http://127.0.0.1:{dead_port}/x"}, [notification(sub)])
    async with running(storage, settings, backoff_base_s=30):
        for _ in range(100):
            rows = await outbox_rows(storage)
            if rows[0]["attempts"]:
                break
            await asyncio.sleep(0.05)
    [row] = rows
    assert row["attempts"] == 1 and row["dead"] == 0 and row["claimed_until"] == 0
    assert "ClientConnectorError" in row["last_error"]
    assert 20 < row["next_at"] - time.time() <= 36  # 30 s ±20 %


async def test_dead_or_hanging_endpoint_does_not_delay_healthy_ones(
    storage: Storage, settings: Settings, receiver: Receiver
) -> None:
    hanging = Receiver(hang=True)
    await hanging.start()
    try:
        refused = f"http://127.0.0.1:{_free_port()}/notify"
        for i in range(12):  # more stuck notifications than one endpoint's lane can hold
            sub = f"urn:ngsi-ld:Subscription:stuck{i}"
            await enqueue(storage, {"uri": hanging.url}, [notification(sub)])
            await enqueue(storage, {"uri": refused}, [notification(sub + "r")])
        healthy = []
        for i in range(5):
            sub = f"urn:ngsi-ld:Subscription:ok{i}"
            bodies = [notification(sub, n) for n in range(4)]
            healthy += bodies
            await enqueue(storage, {"uri": receiver.url}, bodies)
        async with running(storage, settings, notify_timeout=2.0, backoff_base_s=60):
            started = time.monotonic()
            await receiver.wait_for(len(healthy), within_s=5)
            healthy_s = time.monotonic() - started
            assert healthy_s < 1.0, f"healthy endpoint waited {healthy_s:.2f} s"
            assert len(hanging.requests) == 8  # one lane: at most 8 at once per endpoint
            for _ in range(100):  # the hanging ones time out after 2 s
                rows = await outbox_rows(storage)
                if sum(1 for r in rows if r["attempts"]) >= 20:
                    break
                await asyncio.sleep(0.1)
        assert sorted(_ids(receiver.requests)) == sorted(b["id"] for b in healthy)
        errors = {r["last_error"] for r in rows if r["attempts"]}
        assert "no answer within 2 s" in errors
        assert any("ClientConnectorError" in (e or "") for e in errors)
    finally:
        await hanging.stop()


async def test_order_per_subscription_survives_failures(
    storage: Storage, settings: Settings, receiver: Receiver
) -> None:
    # every third answer fails: each failure must hold back the rest of its subscription
    receiver.statuses.extend([200, 200, 500] * 20)
    subs = {s: [notification(s, n) for n in range(8)] for s in ("urn:x:A", "urn:x:B")}
    for n in range(8):  # interleaved in the outbox
        for bodies in subs.values():
            await enqueue(storage, {"uri": receiver.url}, [bodies[n]])
    async with running(storage, settings, backoff_base_s=0.05):
        for _ in range(200):
            if not await outbox_rows(storage):
                break
            await asyncio.sleep(0.05)
    assert await outbox_rows(storage) == []
    for sub, bodies in subs.items():
        seen = [r.json()["id"] for r in receiver.requests if r.json()["subscriptionId"] == sub]
        deduped = [x for i, x in enumerate(seen) if i == 0 or seen[i - 1] != x]
        assert deduped == [b["id"] for b in bodies]  # retries repeat in place, never reorder
    assert len(receiver.requests) > 16  # there were failures


async def test_two_deliverers_share_the_outbox_without_duplicates(
    storage: Storage, settings: Settings, receiver: Receiver
) -> None:
    # a second storage object on the same database stands for a second worker process
    other = storage_for(settings.database_url, settings)
    await other.open()
    try:
        subs = [f"urn:x:S{i}" for i in range(6)]
        expected = {s: [notification(s, n) for n in range(10)] for s in subs}
        for n in range(10):
            for s in subs:
                await enqueue(storage, {"uri": receiver.url}, [expected[s][n]])
        async with running(storage, settings), running(other, settings):
            await receiver.wait_for(60)
            await asyncio.sleep(0.3)
        ids = _ids(receiver.requests)
        assert len(ids) == len(set(ids)) == 60
        for s in subs:
            got = [r.json()["id"] for r in receiver.requests if r.json()["subscriptionId"] == s]
            assert got == [b["id"] for b in expected[s]]
    finally:
        await other.close()


async def test_deleting_a_subscription_removes_its_rows_and_status(
    storage: Storage, settings: Settings, receiver: Receiver
) -> None:
    store = outbox_store(storage)
    await enqueue(storage, {"uri": receiver.url}, [notification("urn:x:gone")])
    async with running(storage, settings):
        await receiver.wait_for(1)
        await asyncio.sleep(0.1)
    await enqueue(storage, {"uri": receiver.url}, [notification("urn:x:gone", 1)])
    await enqueue(storage, {"uri": receiver.url}, [notification("urn:x:kept", 1)])
    assert (await store.status("", "urn:x:gone")).times_sent == 1
    await subscription_store(storage).delete("", "urn:x:gone")
    assert (await store.status("", "urn:x:gone")).times_sent == 0
    assert [r["sub_id"] for r in await outbox_rows(storage)] == ["urn:x:kept"]


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    for attempt, nominal in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0)]:
        delays = [backoff_delay(attempt, 1.0, 300.0) for _ in range(50)]
        assert all(0.8 * nominal <= d <= 1.2 * nominal for d in delays)
        assert len(set(delays)) > 1  # jitter
    assert all(backoff_delay(a, 1.0, 300.0) <= 300.0 for a in (9, 10, 50, 1000))


def test_notified_at_is_spliced_into_the_stored_body() -> None:
    body = orjson.dumps({"id": "urn:n:1", "type": "Notification", "data": []})
    out = orjson.loads(with_notified_at(body, "2025-01-02T03:04:05.678Z"))
    assert out == {
        "notifiedAt": "2025-01-02T03:04:05.678Z",
        "id": "urn:n:1",
        "type": "Notification",
        "data": [],
    }
    assert orjson.loads(with_notified_at(b"{}", "T")) == {"notifiedAt": "T"}


def test_passwords_never_shown_in_endpoint_uris() -> None:
    assert safe_uri("mqtt://user:pw@broker:1883/t") == "mqtt://user@broker:1883/t"
    assert safe_uri("http://host/a:b@c") == "http://host/a:b@c"
    assert safe_uri("http://host:80/x") == "http://host:80/x"
