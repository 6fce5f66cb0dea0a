"""The care service as the hub holds it (``hub.extras["care"]``): households, missing-person
cases, safe walks, and the periodic check of all of them."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from starlette.requests import Request

from cityhub.errors import BadRequestData
from cityhub.ngsild.hub import Hub, hub_of
from cityhub.ops.cctv import CctvService
from cityhub.ops.events import EventService
from cityhub.ops.linked import LinkedService
from cityhub.services.care.households import Households
from cityhub.services.care.missing import MissingService
from cityhub.services.care.walks import WalkService

log = logging.getLogger(__name__)

CHECK_S = 30.0  # how often time is checked: inactivity, temperature spells, overdue walks


class CareService:
    """Everything the care service does, in one place for routes and tests."""

    def __init__(
        self, hub: Hub, events: EventService, cctv: CctvService, linked: LinkedService
    ) -> None:
        self.hub = hub
        self.households = Households(hub, events, cctv, linked)
        self.missing = MissingService(hub, events, cctv, linked)
        self.walks = WalkService(hub, events)

    async def check(self, now: datetime | None = None) -> int:
        """The periodic check at ``now`` (default: the current time): household alerts due or
        over, overdue walks; how many alerts were filed, raised or ended."""
        moment = now or datetime.now(UTC)
        return await self.households.check(moment) + await self.walks.check(moment)

    async def run(self, every_s: float = CHECK_S) -> None:
        """The periodic check (runs while serving)."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.check()
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("care: the periodic check failed")


def care_of(request: Request) -> CareService:
    """The care service of the app serving ``request``."""
    found: CareService = hub_of(request).extras["care"]
    return found


def limit_of(request: Request, default: int = 100) -> int:
    """The ``limit`` parameter: 1-1000."""
    raw = request.query_params.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise BadRequestData("limit is 1-1000")
    return int(raw)
