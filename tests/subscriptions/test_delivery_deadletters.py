"""Dead letters: used-up attempts park a notification; the HTTP API lists, retries, deletes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from cityhub.app import create_app
from cityhub.settings import Settings
from cityhub.subscriptions import deadletters
from tests.http_receiver import Receiver
from tests.outbox_support import enqueue, notification, outbox_rows, running

pytestmark = pytest.mark.anyio
DL = "/cityhub/v1/dead-letters"


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    """The hub app with the dead-letter routes, its lifespan running."""
    application = create_app(settings)
    if not any(getattr(r, "path", "") == DL for r in application.router.routes):
        application.router.routes.extend(deadletters.routes)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the app, over ASGI."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
        yield c


async def _until(check: Any, within_s: float = 10.0) -> None:
    for _ in range(int(within_s / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_dead_letter_listed_retried_and_delivered(
    app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    storage = app.state.hub.storage
    receiver = Receiver(default_status=500)
    await receiver.start()
    try:
        sub = "urn:ngsi-ld:Subscription:dl"
        first, second = notification(sub, 1), notification(sub, 2)
        endpoint = {"uri": receiver.url + "/n", "accept": "application/json"}
        await enqueue(storage, endpoint, [first, second])
        # polls 30 s apart: retries run on their own timers, a retried dead letter on wake()
        async with running(
            storage, settings, notify_max_attempts=2, backoff_base_s=0.05, poll_s=30
        ) as deliverer:
            app.state.hub.extras["deliverer"] = deliverer  # as app.py wires it

            async def both_dead() -> bool:
                return [r["dead"] for r in await outbox_rows(storage)] == [1, 1]

            await _until(both_dead)
            # the first went dead after 2 attempts and did not hold the second back for ever
            assert [r.json()["id"] for r in receiver.requests] == [first["id"]] * 2 + [
                second["id"]
            ] * 2

            listed = await client.get(DL, params={"subscription": sub})
            assert listed.status_code == 200
            letters = listed.json()
            assert [d["notificationId"] for d in letters] == [first["id"], second["id"]]
            one = letters[0]
            assert one["subscriptionId"] == sub
            assert one["endpoint"] == receiver.url + "/n"
            assert one["attempts"] == 2
            assert one["lastError"] == "HTTP 500: receiver says no"
            assert one["createdAt"].endswith("Z")
            assert (await client.get(DL, params={"limit": 1, "offset": 1})).json() == letters[1:]
            assert (await client.get(DL, params={"subscription": "urn:other"})).json() == []

            receiver.default_status = 200
            retried = await client.post(f"{DL}/{one['nid']}/retry")
            assert retried.status_code == 204
            await receiver.wait_for(5, within_s=2)  # woken by the API: no 30 s poll
            assert receiver.requests[4].json()["id"] == first["id"]

            async def one_left() -> bool:
                return len(await outbox_rows(storage)) == 1

            await _until(one_left)
            assert [d["nid"] for d in (await client.get(DL)).json()] == [letters[1]["nid"]]
            status = await client.delete(f"{DL}/{letters[1]['nid']}")
            assert status.status_code == 204
            assert (await client.get(DL)).json() == []
            assert await outbox_rows(storage) == []
    finally:
        await receiver.stop()


async def test_dead_letter_errors_are_problem_details(client: httpx.AsyncClient) -> None:
    missing = await client.post(f"{DL}/12345/retry")
    assert missing.status_code == 404
    assert missing.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
    gone = await client.delete(f"{DL}/12345")
    assert gone.status_code == 404
    bad = await client.delete(f"{DL}/abc")
    assert bad.status_code == 400
    assert bad.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert (await client.get(DL, params={"limit": "0"})).status_code == 400
    assert (await client.get(DL, params={"limit": "x"})).status_code == 400
    unknown = await client.get(DL, headers={"NGSILD-Tenant": "nobody"})
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/NonexistentTenant"
    wrong = await client.put(DL)
    assert wrong.status_code == 405
