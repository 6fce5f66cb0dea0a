"""Security headers on every HTTP response (pure ASGI middleware: streaming stays streaming).

The API answers JSON, so the defaults forbid everything a browser could do with a response
besides reading it: no MIME sniffing, no framing, no referrer, a Content-Security-Policy that
allows no content at all, no cross-origin embedding (``Cross-Origin-Resource-Policy``; CORS
requests are not affected), and HSTS when the request came over HTTPS (directly, or through a
proxy saying ``X-Forwarded-Proto: https``; a browser ignores HSTS on plain HTTP anyway, so
trusting that header costs nothing).

A header the route set itself is kept: pages that need a looser Content-Security-Policy set
their own, or a mount gets its own middleware with another ``csp``.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000"


class SecurityHeaders:
    """Adds the security headers a response does not already have.

    ``csp``: the Content-Security-Policy (None: none is added); ``hsts``: the
    Strict-Transport-Security value for HTTPS requests (None: never sent)."""

    def __init__(self, app: ASGIApp, *, csp: str | None = API_CSP, hsts: str | None = HSTS):
        self.app = app
        plain = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-resource-policy", b"same-origin"),
        ]
        if csp is not None:
            plain.append((b"content-security-policy", csp.encode("latin-1")))
        self._plain = tuple(plain)
        secure = [(b"strict-transport-security", hsts.encode("latin-1"))] if hsts else []
        self._secure = tuple(plain + secure)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._secure if _is_https(scope) else self._plain

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {bytes(name).lower() for name, _ in headers}
                headers.extend(h for h in extra if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _is_https(scope: Scope) -> bool:
    if scope.get("scheme") == "https":
        return True
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-proto":
            # a chain of proxies lists one protocol each; the first is the client's
            first: bytes = value.split(b",", 1)[0]
            return first.strip().lower() == b"https"
    return False
