"""What runs beside the hub in ``cityhub demo``: the MQTT broker (:mod:`cityhub.sim.broker`) and
the simulator (:mod:`cityhub.sim.sender`) sending the demo city's stream to the hub.

They run in a thread of their own, with their own event loop, so the hub's server keeps the
main thread (and Ctrl-C). :meth:`Companion.start` returns once the broker is chosen (the hub
then subscribes to it); the simulator waits until the hub has seeded the city and provisioned
its devices (:data:`cityhub.sim.demo.on_ready`), takes an API key for the bus cameras, and
sends at the demo's speed and rate until :meth:`Companion.stop`.

The simulated clock starts at the real time of each start (the hub keeps what earlier runs
sent; readings are stamped with the real time they are sent, see :mod:`cityhub.sim.sender`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from datetime import UTC, datetime

import httpx

from cityhub.ngsild.hub import Hub
from cityhub.sim import demo
from cityhub.sim.broker import Broker, demo_broker
from cityhub.sim.sender import HttpMeasures, MqttMeasures, SendError, Tally, Transport, run
from cityhub.sim.stream import CityStream, iso

log = logging.getLogger(__name__)
DEMO_RATE = 30.0  # messages a second at most (x60 needs ~30): a two-core laptop keeps up
_REPORT_S = 60.0
_STOP_S = 15.0


class Companion:
    """The demo's broker and simulator, in a thread beside the hub."""

    def __init__(
        self,
        *,
        mqtt_url: str | None,
        hub_url: str,
        seed: int,
        simulate: bool,
        speed: float,
    ) -> None:
        self.mqtt_url = mqtt_url
        self.hub_url = hub_url
        self.seed = seed
        self.simulate = simulate
        self.speed = speed
        self.broker = Broker("", "none")
        self.tally = Tally()
        self._thread = threading.Thread(target=self._main, name="cityhub-demo-companion")
        self._chosen = threading.Event()
        self._hub_ready = threading.Event()
        self._hub: tuple[Hub, asyncio.AbstractEventLoop] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    # --- the main thread's side -----------------------------------------------------------

    def start(self) -> Broker:
        """Start the thread; the broker chosen (ValueError for a malformed ``--mqtt``)."""
        demo.on_ready.append(self._ready)
        self._thread.start()
        self._chosen.wait(60)
        if self._error is not None:
            raise (
                self._error
                if isinstance(self._error, ValueError)
                else RuntimeError(f"the demo's broker could not be set up: {self._error}")
            )
        return self.broker

    def stop(self) -> None:
        """Stop the simulator and the broker (after the hub stopped)."""
        with contextlib.suppress(ValueError):
            demo.on_ready.remove(self._ready)
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # its loop ended already
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(_STOP_S)

    def _ready(self, hub: Hub) -> None:
        """Told in the hub's event loop once the city and its devices are there."""
        self._hub = (hub, asyncio.get_running_loop())
        self._hub_ready.set()

    # --- the thread -------------------------------------------------------------------------

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as err:  # noqa: BLE001 - reported to start(), or logged
            self._error = err
            if self._chosen.is_set():
                log.exception("the demo's broker and simulator stopped")
        finally:
            self._chosen.set()

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        self.broker = await demo_broker(self.mqtt_url)
        self._chosen.set()
        try:
            if self.simulate:
                await self._simulate()
            await self._stop.wait()
        finally:
            await self.broker.stop()

    async def _simulate(self) -> None:
        assert self._stop is not None
        while not self._hub_ready.is_set():  # the hub is seeding the city
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.5)
            if self._stop.is_set():
                return
        assert self._hub is not None
        hub, hub_loop = self._hub
        credential = await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(demo.simulator_key(hub), hub_loop)
        )
        start = datetime.now(UTC)
        stream = await asyncio.to_thread(CityStream, self.seed, start)
        log.info(
            "simulator: the demo city's sensors from %s on, x%g, at most %g messages/s, over %s",
            iso(start),
            self.speed,
            DEMO_RATE,
            "MQTT" if self.broker.url else "HTTP",
        )
        async with httpx.AsyncClient(base_url=self.hub_url, timeout=30) as http:
            measures: Transport = (
                MqttMeasures(self.broker.url)
                if self.broker.url
                else HttpMeasures(http, demo.TENANT)
            )
            try:
                await run(
                    stream,
                    measures,
                    http,
                    tally=self.tally,
                    speed=self.speed,
                    rate=DEMO_RATE,
                    credential=credential,
                    stop=self._stop,
                    report=self._report,
                    every=_REPORT_S,
                )
            except SendError as err:
                if not self._stop.is_set():
                    log.warning("simulator stopped: %s", err)
            finally:
                if isinstance(measures, MqttMeasures):
                    await measures.close()
                for line in self.tally.summary():
                    log.info("simulator: %s", line)

    def _report(self, line: str) -> None:
        log.info("simulator: %s", line)
