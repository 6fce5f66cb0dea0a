"""Abuse resistance: SSRF checks on outbound URLs, security headers, rate limiting.

See docs/security.md (Abuse resistance). :func:`middleware` gives the HTTP side for ``create_app``.
"""

from __future__ import annotations

from starlette.middleware import Middleware

from cityhub.guard.headers import SecurityHeaders
from cityhub.guard.ratelimit import RateLimit
from cityhub.settings import Settings


def middleware(settings: Settings, *, trust_forwarded: bool = False) -> list[Middleware]:
    """Security headers, then rate limiting (left out when ``rate_limit_per_s`` is 0), to put
    first (outermost) in the app's middleware list, before authentication. ``trust_forwarded``:
    a trusted proxy appends the client address to X-Forwarded-For."""
    stack = [Middleware(SecurityHeaders)]
    if settings.rate_limit_per_s > 0:
        stack.append(
            Middleware(
                RateLimit,
                rate=settings.rate_limit_per_s,
                burst=settings.rate_limit_burst,
                trust_forwarded=trust_forwarded,
            )
        )
    return stack
