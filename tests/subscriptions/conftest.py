"""Fixtures of the subscription tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cityhub.settings import Settings
from cityhub.storage import storage_for
from cityhub.storage.base import Storage


@pytest.fixture
async def storage(settings: Settings) -> AsyncIterator[Storage]:
    """An open storage of each backend, with the outbox tables."""
    st = storage_for(settings.database_url, settings)
    await st.open()
    yield st
    await st.close()
