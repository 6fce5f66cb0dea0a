"""SSRF checks: which URLs cityhub may connect to (no network: literals and a fake DNS)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cityhub.errors import BadRequestData, ConfigError, LdContextNotAvailable
from cityhub.guard.outbound import (
    OutboundGuard,
    OutboundRefused,
    check_outbound,
    context_request_hook,
    guarded_fetcher,
    parse_allow,
)
from cityhub.settings import Settings
from tests.guard.conftest import fake_dns

pytestmark = pytest.mark.anyio
ON = Settings(auth="on")
OFF = Settings(auth="off")
DNS = fake_dns(
    {
        "public.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
        "intranet.example": ["10.1.2.3"],
        "mixed.example": ["93.184.216.34", "192.168.0.10"],  # one internal address is enough
        "metadata.example": ["169.254.169.254"],
        "cctv.city.local": ["10.0.5.20"],
        "loop.example": ["127.0.0.5"],
        "localhost": ["127.0.0.1", "::1"],
    }
)

REFUSED = [
    ("http://10.0.0.1/", "10.0.0.1 is a private address"),
    ("http://127.0.0.1:8080", "127.0.0.1 is a loopback address"),
    ("http://[::1]/", "::1 is a loopback address"),
    ("http://169.254.169.254/latest/meta-data", "link-local (cloud metadata service)"),
    ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1 is a loopback address"),
    ("http://[::ffff:10.0.0.1]/", "private"),
    ("http://[64:ff9b::a00:1]/", "private"),  # NAT64 of 10.0.0.1
    ("http://0.0.0.0/", "0.0.0.0 is an unspecified address"),
    ("http://[::]/", "unspecified"),
    ("http://100.64.1.1/", "shared (CGNAT)"),
    ("http://172.16.5.4/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://[fd00::1]/", "private"),
    ("http://[fe80::1]/", "link-local"),
    ("http://224.0.0.1/", "multicast"),
    ("http://240.0.0.1/", "240.0.0.1 is a"),
    ("https://localhost/", "localhost resolves to 127.0.0.1, which is a loopback"),
    ("mqtt://10.9.9.9/topic", "private"),
    ("http://intranet.example/hook", "intranet.example resolves to 10.1.2.3, which is a private"),
    ("http://mixed.example/", "mixed.example resolves to 192.168.0.10"),
    ("http://metadata.example/", "cloud metadata"),
    ("http://127.1/", "not a valid IP address"),
    ("file:///etc/passwd", "not file ones"),
    ("gopher://example.org:70/_x", "not gopher ones"),
    ("ftp://public.example/", "not ftp ones"),
    ("http:///nohost", "has no host"),
]


@pytest.mark.parametrize(("url", "why"), REFUSED)
async def test_internal_and_odd_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(OutboundRefused) as caught:
        await check_outbound(url, ON, resolve=DNS)
    assert why in caught.value.detail
    assert isinstance(caught.value, BadRequestData) and caught.value.status == 400


async def test_the_system_resolver_is_used_by_default() -> None:
    with pytest.raises(OutboundRefused, match="localhost resolves to .*loopback"):
        await check_outbound("http://localhost:1026/", ON)  # /etc/hosts: no network needed
    await check_outbound("http://localhost:1026/", OFF)


async def test_refusal_names_the_setting_to_change() -> None:
    with pytest.raises(OutboundRefused) as caught:
        await check_outbound("http://10.0.0.1/", ON)
    assert "outbound_allow" in caught.value.detail
    assert caught.value.host == "10.0.0.1"
    with pytest.raises(OutboundRefused) as caught:
        await check_outbound("http://127.0.0.1/", ON)
    assert "allowed when auth is off" in caught.value.detail


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.216.34/",
        "https://93.184.216.34:8443/notify?x=1",
        "http://[2606:2800:220:1:248:1893:25c8:1946]/",
        "http://[::ffff:93.184.216.34]/",
        "mqtt://user:secret@93.184.216.34/city/lots",
        "mqtts://public.example:8883/t",
        "http://public.example/",
        "HTTP://PUBLIC.EXAMPLE./",
    ],
)
async def test_public_urls_pass(url: str) -> None:
    await check_outbound(url, ON, resolve=DNS)


async def test_allow_list_by_name_address_and_network() -> None:
    allowed = Settings(auth="on", outbound_allow=" CCTV.city.local , 127.0.0.1,10.0.0.0/8,fd00::/8")
    for url in [
        "http://cctv.city.local/snap",  # by name: whatever it resolves to
        "http://127.0.0.1:8080/",
        "http://10.200.0.1/",
        "http://intranet.example/",  # resolves into 10.0.0.0/8
        "http://[::ffff:10.0.0.1]/",  # the mapped form of a listed network
        "http://[fd00::1]/",
    ]:
        await check_outbound(url, allowed, resolve=DNS)
    for url, why in [
        ("http://127.0.0.2/", "loopback"),  # a single address allows only itself
        ("http://192.168.0.1/", "private"),
        ("http://metadata.example/", "cloud metadata"),
        ("http://loop.example/", "loopback"),  # its address is not listed, its name neither
    ]:
        with pytest.raises(OutboundRefused, match=why):
            await check_outbound(url, allowed, resolve=DNS)


async def test_loopback_allowed_when_auth_is_off_and_nothing_else() -> None:
    for url in [
        "http://127.0.0.1:8080",
        "http://[::1]/",
        "http://localhost/",
        "http://[::ffff:127.0.0.1]/",
    ]:
        await check_outbound(url, OFF, resolve=DNS)
    for url in ["http://10.0.0.1/", "http://169.254.169.254/", "http://0.0.0.0/"]:
        with pytest.raises(OutboundRefused):
            await check_outbound(url, OFF, resolve=DNS)


async def test_unresolvable_hosts() -> None:
    with pytest.raises(BadRequestData, match="cannot resolve host nowhere.invalid"):
        await check_outbound("http://nowhere.invalid/", ON, resolve=DNS)
    # at subscription creation a name that does not resolve yet is accepted: every delivery
    # checks its addresses when it connects
    await check_outbound("http://nowhere.invalid/", ON, resolve=DNS, unresolved_ok=True)


def test_allow_list_parsing() -> None:
    allow = parse_allow("a.example, 10.0.0.0/8 ,192.168.1.7,[::1],,")
    assert allow.names == frozenset({"a.example"})
    assert [str(n) for n in allow.networks] == ["10.0.0.0/8", "192.168.1.7/32", "::1/128"]
    for bad in ["10.0.0.0/33", "10.0.0", "300.1.2.3", "fd00::/200"]:
        with pytest.raises(ConfigError, match="outbound_allow"):
            parse_allow(bad)


def test_passwords_never_appear_in_refusals() -> None:
    guard = OutboundGuard(ON)
    with pytest.raises(OutboundRefused) as caught:
        guard.split("gopher://user:s3cret@host:99999/")
    assert "s3cret" not in caught.value.detail


async def test_guarded_fetcher_refuses_before_fetching() -> None:
    fetched: list[str] = []

    async def fetch(url: str) -> Any:
        fetched.append(url)
        return {"@context": {}}

    guarded = guarded_fetcher(fetch, ON, resolve=DNS)
    assert await guarded("https://public.example/ctx.jsonld") == {"@context": {}}
    for url in [
        "http://169.254.169.254/ctx",
        "http://intranet.example/ctx",
        "mqtt://public.example/t",
    ]:
        with pytest.raises(LdContextNotAvailable) as caught:
            await guarded(url)
        assert caught.value.status == 503 and "cannot fetch @context" in caught.value.detail
    with pytest.raises(LdContextNotAvailable, match="cannot resolve"):
        await guarded("http://nowhere.invalid/ctx")
    assert fetched == ["https://public.example/ctx.jsonld"]


async def test_context_request_hook_refuses_a_redirect_to_an_internal_address() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.host == "public.example":
            return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/"})
        return httpx.Response(200, json={"secret": "credentials"})

    hook = context_request_hook(ON, resolve=DNS)
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(handler),
        follow_redirects=True,
        event_hooks={"request": [hook]},
    ) as client:
        with pytest.raises(LdContextNotAvailable, match="169.254.169.254"):
            await client.get("http://public.example/ctx.jsonld")
    assert seen == ["http://public.example/ctx.jsonld"]  # the redirect was never followed
