"""Subscriptions to internal endpoints are refused when made (400 BadRequestData, precise)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cityhub.app import create_app
from cityhub.errors import BadRequestData, ConfigError
from cityhub.settings import Settings
from cityhub.subscriptions.model import check_endpoint
from tests.guard.conftest import fake_dns

pytestmark = pytest.mark.anyio
S = "/ngsi-ld/v1/subscriptions"
BAD_DATA = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"


def sub(uri: str, **members: Any) -> dict[str, Any]:
    return {
        "type": "Subscription",
        "entities": [{"type": "Lot"}],
        "notification": {"endpoint": {"uri": uri}},
        **members,
    }


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The hub with auth off (loopback allowed: the guard still refuses private addresses)
    and one private network allowed."""
    app = create_app(dataclasses.replace(settings, auth="off", outbound_allow="10.9.0.0/16"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
            yield c


async def test_create_refuses_internal_endpoints_with_a_precise_detail(
    client: httpx.AsyncClient,
) -> None:
    for uri, why in [
        ("http://10.0.0.1/notify", "10.0.0.1 is a private address"),
        (
            "http://169.254.169.254/latest/meta-data",
            "169.254.169.254 is a link-local (cloud metadata",
        ),
        ("mqtt://192.168.1.20/lots", "192.168.1.20 is a private address"),
    ]:
        r = await client.post(S, json=sub(uri))
        assert r.status_code == 400, r.text
        problem = r.json()
        assert problem["type"] == BAD_DATA
        assert problem["detail"].startswith(f"notification.endpoint.uri: {why}")
        assert "outbound_allow" in problem["detail"]
    assert (await client.get(S)).json() == []  # nothing stored


async def test_create_accepts_allowed_loopback_public_and_unresolved(
    client: httpx.AsyncClient,
) -> None:
    for uri in [
        "http://10.9.3.4/notify",  # in outbound_allow
        "http://127.0.0.1:9/notify",  # loopback, auth is off
        "http://93.184.216.34/notify",
        "http://receiver.invalid/notify",  # does not resolve now: checked at every delivery
    ]:
        r = await client.post(S, json=sub(uri))
        assert r.status_code == 201, (uri, r.text)


async def test_patch_to_an_internal_endpoint_is_refused(client: httpx.AsyncClient) -> None:
    r = await client.post(S, json=sub("http://127.0.0.1:9/n", id="urn:ngsi-ld:Subscription:p"))
    assert r.status_code == 201
    at = f"{S}/urn:ngsi-ld:Subscription:p"
    r = await client.patch(at, json={"notification": {"endpoint": {"uri": "http://172.16.0.1/"}}})
    assert r.status_code == 400
    assert "172.16.0.1 is a private address" in r.json()["detail"]
    assert (await client.get(at)).json()["notification"]["endpoint"][
        "uri"
    ] == "http://127.0.0.1:9/n"
    r = await client.patch(at, json={"subscriptionName": "renamed"})  # endpoint untouched
    assert r.status_code == 204


async def test_endpoint_check_with_auth_on() -> None:
    on = Settings(auth="on")
    dns = fake_dns({"hooks.example": ["127.0.0.1"], "cctv.city.local": ["10.0.5.20"]})
    with pytest.raises(BadRequestData) as caught:
        await check_endpoint(sub("http://127.0.0.1:8080/n"), on)
    assert caught.value.detail.startswith("notification.endpoint.uri: 127.0.0.1 is a loopback")
    assert "outbound_allow" in caught.value.detail and "auth is off" in caught.value.detail
    with pytest.raises(BadRequestData, match="hooks.example resolves to 127.0.0.1"):
        await check_endpoint(sub("https://hooks.example/n"), on, resolve=dns)
    allowed = Settings(auth="on", outbound_allow="127.0.0.1,cctv.city.local")
    await check_endpoint(sub("http://127.0.0.1:8080/n"), allowed)
    await check_endpoint(sub("mqtt://cctv.city.local/alarms"), allowed, resolve=dns)


def test_a_malformed_allow_list_stops_the_start(tmp_path: Path) -> None:
    settings = Settings(
        database=f"sqlite:///{tmp_path / 'h.db'}", auth="off", outbound_allow="10.0.0.0/33"
    )
    with pytest.raises(ConfigError, match="outbound_allow: '10.0.0.0/33'"):
        create_app(settings)
