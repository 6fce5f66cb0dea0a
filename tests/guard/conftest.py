"""Fixtures of the guard tests: an open storage (outbox tables) and a fake DNS."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest

from cityhub.guard.outbound import Resolve
from cityhub.settings import Settings
from cityhub.storage import storage_for
from cityhub.storage.base import Storage


@pytest.fixture
async def storage(settings: Settings) -> AsyncIterator[Storage]:
    """An open storage of each backend."""
    st = storage_for(settings.database_url, settings)
    await st.open()
    yield st
    await st.close()


def fake_dns(table: dict[str, list[str] | list[list[str]]]) -> Resolve:
    """A resolver answering from ``table`` (no network). A list of lists gives one answer per
    lookup, in turn (the last one repeats): a name rebound between lookups."""
    calls: dict[str, int] = {}

    async def resolve(host: str, port: int) -> list[str]:
        name = host.rstrip(".").lower()
        if name not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answers = table[name]
        n = calls[name] = calls.get(name, 0) + 1
        if answers and isinstance(answers[0], list):
            return list(answers[min(n, len(answers)) - 1])
        return [str(a) for a in answers]

    return resolve
