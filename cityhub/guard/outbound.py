"""SSRF protection: cityhub connects only to public addresses, unless told otherwise.

Whoever may create a subscription or send an ``@context`` URL chooses where cityhub connects.
Without a check that is a way into the city's internal network (cameras, SCADA, the database)
and to the cloud metadata service (``169.254.169.254``, which hands out credentials). So every
outbound URL (notification endpoints, remote ``@context`` documents) is resolved, and **every**
address it resolves to must be public: loopback, private, link-local, multicast, reserved,
unspecified and shared (CGNAT, ``100.64.0.0/10``) addresses are refused, also when written as
IPv4-mapped IPv6 (``::ffff:127.0.0.1``) or behind the NAT64 and 6to4 prefixes. Exceptions:

* a host name, single address or CIDR network listed in the ``outbound_allow`` setting
  (host names match exactly, case-insensitively; a listed name allows whatever it resolves to);
* loopback addresses when ``auth`` is ``off`` (local development, the ETSI conformance suite
  notifying receivers on localhost).

Only ``http``, ``https``, ``mqtt`` and ``mqtts`` URLs are accepted.

**DNS rebinding.** A name can resolve to a public address when checked and to an internal one a
moment later. So the check runs again right before every connection, on the addresses actually
connected to: :class:`GuardedResolver` is the resolver of the notification deliverer's aiohttp
connector (aiohttp connects to exactly the addresses it returns), and MQTT connects to the
address just vetted (over TLS to the name, whose certificate an internal server cannot present).
The ``@context`` fetcher checks each URL it requests, redirects included
(:func:`context_request_hook`), just before httpx resolves it again: a window of milliseconds.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult

from cityhub.errors import BadRequestData, ConfigError, LdContextNotAvailable
from cityhub.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: resolves a host name to its addresses (as strings); the default is the system resolver
Resolve = Callable[[str, int], Awaitable[list[str]]]

SCHEMES = ("http", "https", "mqtt", "mqtts")
DEFAULT_PORTS = {"http": 80, "https": 443, "mqtt": 1883, "mqtts": 8883}
DNS_TIMEOUT_S = 5.0  # longest a check waits for the resolver
SETTING_HINT = (
    "cityhub does not connect to internal addresses unless the setting outbound_allow "
    "(CITYHUB_OUTBOUND_ALLOW) lists the host name, the address or its network"
)

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


class OutboundRefused(BadRequestData):
    """A URL cityhub must not connect to (400 BadRequestData where a client gave it)."""

    def __init__(self, detail: str, *, host: str) -> None:
        super().__init__(detail)
        self.host = host


@dataclass(frozen=True, slots=True)
class AllowList:
    """The ``outbound_allow`` setting, parsed."""

    names: frozenset[str]
    networks: tuple[IPNetwork, ...]

    def allows_name(self, host: str) -> bool:
        return _norm_host(host) in self.names

    def allows_address(self, address: IPAddress) -> bool:
        forms = [address, *_embedded(address)]
        return any(a in net for a in forms for net in self.networks if a.version == net.version)


@functools.lru_cache(maxsize=16)
def parse_allow(text: str) -> AllowList:
    """``outbound_allow`` as host names and networks (ConfigError on a malformed network)."""
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            continue
        except ValueError as err:
            if "/" in entry or _looks_numeric(entry):
                raise ConfigError(
                    f"outbound_allow: {entry!r} is neither a host name nor an address or "
                    f"network ({err})"
                ) from err
        names.add(_norm_host(entry))
    return AllowList(frozenset(names), tuple(networks))


def classify(address: IPAddress) -> str | None:
    """Why ``address`` is internal (``"loopback"``, ``"private"``, …), or None if public."""
    for embedded in _embedded(address):
        why = classify(embedded)
        if why is not None:
            return why
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return None  # ::ffff:a.b.c.d is a.b.c.d
    if address.is_loopback:
        return "loopback"
    if address.is_unspecified:
        return "unspecified"
    if address.is_link_local:
        return "link-local (cloud metadata service)" if address in _METADATA else "link-local"
    if address.is_multicast:
        return "multicast"
    if address in _CGNAT:
        return "shared (CGNAT)"
    if address in _METADATA:
        return "cloud metadata service"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "non-public"
    return None


class OutboundGuard:
    """Checks hosts and URLs against the rules of ``settings`` (see the module docstring)."""

    def __init__(self, settings: Settings, resolve: Resolve | None = None) -> None:
        self.allow = parse_allow(settings.outbound_allow)
        self.loopback_ok = settings.auth == "off"
        self.resolve = resolve or system_resolve

    def refusal(self, address: IPAddress) -> str | None:
        """Why cityhub may not connect to ``address``, or None if it may."""
        why = classify(address)
        if why is None or self.allow.allows_address(address):
            return None
        if why == "loopback" and self.loopback_ok:
            return None
        return why

    def split(self, url: str, schemes: tuple[str, ...] = SCHEMES) -> tuple[str, int]:
        """Host and port of ``url``; OutboundRefused for another scheme or no host."""
        try:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            host = parts.hostname
            port = parts.port
        except ValueError as err:
            raise OutboundRefused(f"{_safe(url)} is not a valid URL: {err}", host="") from err
        if scheme not in schemes:
            allowed = ", ".join(f"{s}://" for s in schemes)
            raise OutboundRefused(
                f"cityhub only connects to {allowed} URLs, not {scheme or 'scheme-less'} ones",
                host=host or "",
            )
        if not host:
            raise OutboundRefused(f"{_safe(url)} has no host", host="")
        return host, port or DEFAULT_PORTS[scheme]

    def check_literal(self, host: str) -> None:
        """Refuse ``host`` if it is an internal address literal (no DNS: names pass).

        Also refuses what looks like an address but is none (``127.1``, ``2130706433``): such hosts
        must never reach a resolver that reads them as some address."""
        if self.allow.allows_name(host):
            return
        address = _literal(host)
        if address is None:
            if _looks_numeric(host):
                raise OutboundRefused(
                    f"{host} is not a valid IP address; write addresses as a.b.c.d or [v6]",
                    host=host,
                )
            return
        why = self.refusal(address)
        if why is not None:
            raise OutboundRefused(_refused_detail(host, None, why), host=host)

    async def vet(self, host: str, port: int) -> list[str]:
        """The addresses of ``host`` cityhub may connect to: all of them, or OutboundRefused if
        any is internal. A failed lookup raises OSError (TimeoutError after DNS_TIMEOUT_S)."""
        self.check_literal(host)
        address = _literal(host)
        if address is not None:
            return [str(address)]
        async with asyncio.timeout(DNS_TIMEOUT_S):
            addresses = await self.resolve(host, port)
        if self.allow.allows_name(host):
            return addresses
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} has no address")
        for text in addresses:
            try:
                resolved = ipaddress.ip_address(text)
            except ValueError:
                raise OutboundRefused(
                    f"{host} resolves to {text!r}, which is not an IP address", host=host
                ) from None
            why = self.refusal(resolved)
            if why is not None:
                raise OutboundRefused(_refused_detail(host, text, why), host=host)
        return addresses

    async def check_url(
        self, url: str, *, schemes: tuple[str, ...] = SCHEMES, unresolved_ok: bool = False
    ) -> None:
        """OutboundRefused unless cityhub may connect to ``url``. A host that does not resolve
        is refused too (BadRequestData), unless ``unresolved_ok``."""
        host, port = self.split(url, schemes)
        try:
            await self.vet(host, port)
        except OSError as err:  # not found, no DNS server, timed out
            if not unresolved_ok:
                raise BadRequestData(f"cannot resolve host {host}: {err}") from err


async def check_outbound(
    url: str,
    settings: Settings,
    *,
    resolve: Resolve | None = None,
    schemes: tuple[str, ...] = SCHEMES,
    unresolved_ok: bool = False,
) -> None:
    """Raise OutboundRefused (a BadRequestData) if cityhub may not connect to ``url``: another
    scheme than ``schemes``, or a host resolving to an internal address (see the module
    docstring). A host that does not resolve raises BadRequestData, unless ``unresolved_ok``
    (then the check at connection time decides)."""
    guard = OutboundGuard(settings, resolve)
    await guard.check_url(url, schemes=schemes, unresolved_ok=unresolved_ok)


def guarded_fetcher(
    fetch: Callable[[str], Awaitable[Any]], settings: Settings, *, resolve: Resolve | None = None
) -> Callable[[str], Awaitable[Any]]:
    """``fetch`` (a remote @context fetcher) behind the outbound check: a URL to an internal
    address raises LdContextNotAvailable without any request."""
    guard = OutboundGuard(settings, resolve)

    async def guarded(url: str) -> Any:
        await _check_context_url(guard, url)
        return await fetch(url)

    return guarded


def context_request_hook(
    settings: Settings, *, resolve: Resolve | None = None
) -> Callable[[Any], Awaitable[None]]:
    """An httpx ``request`` event hook checking every request of the @context fetcher,
    redirects included (``httpx.AsyncClient(event_hooks={"request": [hook]})``)."""
    guard = OutboundGuard(settings, resolve)

    async def hook(request: Any) -> None:
        await _check_context_url(guard, str(request.url))

    return hook


async def _check_context_url(guard: OutboundGuard, url: str) -> None:
    try:
        await guard.check_url(url, schemes=("http", "https"))
    except BadRequestData as err:
        raise LdContextNotAvailable(f"cannot fetch @context {_safe(url)}: {err.detail}") from err


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver returning only addresses the guard allows (OutboundRefused, which
    aiohttp passes on unchanged, if the name has an internal one). aiohttp connects to exactly
    the addresses a resolver returns, so a name cannot be rebound to an internal address
    between the check and the connection. (aiohttp does not resolve address literals: check
    those with :meth:`OutboundGuard.check_literal` before the request.)"""

    def __init__(self, guard: OutboundGuard) -> None:
        self.guard = guard

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found: list[ResolveResult] = []
        for text in await self.guard.vet(host, port):
            fam = socket.AF_INET6 if ":" in text else socket.AF_INET
            if family not in (socket.AF_UNSPEC, fam):
                continue
            found.append(
                ResolveResult(
                    hostname=host,
                    host=text,
                    port=port,
                    family=fam,
                    proto=socket.IPPROTO_TCP,
                    flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                )
            )
        if not found:
            raise socket.gaierror(socket.EAI_ADDRFAMILY, f"{host} has no address of {family!r}")
        return found

    async def close(self) -> None:
        return None


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver (``getaddrinfo``) gives ``host``, in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address stands for (mapped, NAT64, 6to4)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address in _NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address.sixtofour is not None:
        return [address.sixtofour]
    return []


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _looks_numeric(host: str) -> bool:
    """What an HTTP client may take for an address rather than a name (as aiohttp does)."""
    return ":" in host or host.replace(".", "").isdigit()


def _norm_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _refused_detail(host: str, address: str | None, why: str) -> str:
    where = f"{host} resolves to {address}, which is" if address else f"{host} is"
    hint = SETTING_HINT
    if why == "loopback":
        hint += "; loopback addresses are also allowed when auth is off"
    article = "an" if why[0] in "aeiou" else "a"
    return f"{where} {article} {why} address: {hint}"


def _safe(url: str) -> str:
    """``url`` without a password in its user part."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, hostpart = rest.partition("@")
    if not sep or not at or "/" in userinfo or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.partition(':')[0]}@{hostpart}"
