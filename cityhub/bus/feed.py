"""Durable, named consumers of the change log.

A :class:`ChangeFeed` hands its handler every logged change exactly in log order, from where
the consumer's cursor stands: after a restart or a crash it resumes there, and it sees other
workers' writes too. The handler gets ``(changes, old, new)`` and must write its own results
*and* move the cursor from ``old`` to ``new`` in one transaction (``storage.advance``), so a
change is handled once, or again after a crash, never lost. A handler with nothing to write
may return False instead: the feed moves on and stores the cursor itself a little later (when
idle, or within ``flush_s``), so changes that concern nobody cost no write each; after a crash
they are handled again, which again writes nothing.

Changes published on the in-process :class:`~cityhub.bus.ChangeBus` are used directly when
they follow the cursor without a gap (no read back from the database); anything else is read
from the log. A failing handler is retried with a growing pause; the cursor stays put.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from cityhub.bus import Change, ChangeBus
from cityhub.errors import CursorMoved
from cityhub.storage.base import ChangePage, Storage

log = logging.getLogger(__name__)

FeedHandler = Callable[[list[Change], int, int], Awaitable[bool | None]]

_STOP_S = 5.0  # longest a stopping feed spends storing its cursor
_MEMORY_LIMIT = 20_000  # changes kept from the bus before falling back to reading the log


class Follower:
    """Reads the change log onwards from a cursor: the changes published on the in-process bus
    while they follow the cursor without a gap (no read back, no decoding), the log otherwise
    (a restart, another worker's writes, more than ``_MEMORY_LIMIT`` changes behind).

    In step with the bus (everything published here handled), it does not look at the log
    until told to (:meth:`wake`; the callers do every ``poll_s`` for other workers' writes):
    a change committed here but not yet published comes with the bus a moment later, and
    reading it from the log first would decode every change of a busy hub once more."""

    def __init__(self, storage: Storage, bus: ChangeBus, batch: int) -> None:
        self.storage = storage
        self.batch = batch
        self.cursor = 0  # read up to here
        self.woken = asyncio.Event()  # set by every publication and by :meth:`wake`
        self._recent: list[Change] = []  # from the bus, sorted by seq
        self._published = 0  # the last change published on the bus here
        self._look = True  # read the log on the next call (the first: a restart's backlog)
        self._closed = False
        self._unsubscribe = bus.subscribe(self._on_changes)

    def _on_changes(self, changes: Sequence[Change]) -> None:
        self._published = max(self._published, changes[-1].seq, changes[0].seq)
        if len(self._recent) < _MEMORY_LIMIT:
            recent = self._recent
            for change in changes:
                if change.seq <= self.cursor:
                    continue
                if not recent or recent[-1].seq < change.seq:
                    recent.append(change)  # the usual case: published in log order
                else:
                    bisect.insort(recent, change, key=lambda c: c.seq)
        self.woken.set()

    def wake(self) -> None:
        """Look at the log on the next call (someone knows there may be something new)."""
        self._look = True
        self.woken.set()

    async def wait(self, poll_s: float) -> None:
        """Wait for a publication or :meth:`wake`; after ``poll_s`` without one, look at the
        log anyway (other workers' writes are in the log only). (``asyncio.timeout``:
        ``wait_for`` may swallow a cancellation.)"""
        try:
            async with asyncio.timeout(poll_s):
                await self.woken.wait()
        except TimeoutError:
            self.wake()

    def forget(self) -> None:
        """Drop what the bus delivered (the cursor moved elsewhere): read the log next."""
        self._recent.clear()

    def close(self) -> None:
        """Stop listening to the bus (again: nothing); a reader waiting on :attr:`woken`
        wakes and sees :meth:`closed`."""
        self._unsubscribe()
        self._unsubscribe = lambda: None
        self._closed = True
        self.woken.set()

    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def _from_memory(self) -> ChangePage | None:
        recent = self._recent
        drop = bisect.bisect_right(recent, self.cursor, key=lambda c: c.seq)
        del recent[:drop]
        if not recent or recent[0].seq != self.cursor + 1:
            return None
        run = 1
        while run < len(recent) and run < self.batch and recent[run].seq == recent[run - 1].seq + 1:
            run += 1
        page = ChangePage(recent[:run], recent[run - 1].seq)
        del recent[:run]
        return page

    async def next(self) -> ChangePage:
        """The changes after the cursor (at most ``batch``; none at the end of the log); the
        caller moves the cursor once it has handled them."""
        page = self._from_memory()
        if page is not None:
            return page
        if not self._look and not self._recent and self.cursor >= self._published:
            return ChangePage([], self.cursor)  # in step with the bus: the next comes with it
        self._look = False
        self._recent.clear()  # a gap: the log has everything in order
        return await self.storage.changes(self.cursor, self.batch)

    async def skip(self) -> None:
        """Move the cursor past everything published or logged so far, reading nothing."""
        if self._recent:
            self.cursor = max(self.cursor, self._recent[-1].seq)
            self._recent.clear()
        else:
            self.cursor = max(self.cursor, await self.storage.log_end())


class ChangeFeed:
    """One named consumer of the change log, run as a task of the app."""

    def __init__(
        self,
        storage: Storage,
        bus: ChangeBus,
        name: str,
        handler: FeedHandler,
        *,
        batch: int = 500,
        poll_s: float = 1.0,
        flush_s: float = 1.0,
    ) -> None:
        self.storage = storage
        self.name = name
        self.handler = handler
        self.poll_s = poll_s
        self.flush_s = flush_s
        self.stored = 0  # the cursor in the database (behind ``cursor`` after skipped writes)
        self._stored_at = 0.0
        self._log = Follower(storage, bus, batch)
        self._task: asyncio.Task[None] | None = None
        self._caught_up = asyncio.Event()

    @property
    def cursor(self) -> int:
        """Handled up to here."""
        return self._log.cursor

    def wake(self) -> None:
        """Look at the log now (someone knows there is something new)."""
        self._log.wake()

    async def start(self) -> None:
        """Load the cursor and start consuming in the background."""
        self._log.cursor = self.stored = await self.storage.cursor(self.name)
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Stop consuming (the cursor is in the database; nothing is lost); again: nothing."""
        self._log.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            with contextlib.suppress(Exception):  # else: handled again after the restart
                await asyncio.wait_for(self._store_cursor(), _STOP_S)

    async def _store_cursor(self) -> None:
        """Store the cursor the handler moved past without writing."""
        if self.stored < self.cursor:
            await self.storage.move_cursor(self.name, self.stored, self.cursor)
            self.stored = self.cursor
        self._stored_at = asyncio.get_running_loop().time()

    async def caught_up(self, seq: int, within_s: float = 10.0) -> bool:
        """Wait until the consumer has handled every change up to ``seq`` (tests, reads that
        must see their own writes); False if it has not within ``within_s`` seconds."""
        deadline = asyncio.get_running_loop().time() + within_s
        while self.cursor < seq:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            self._caught_up.clear()
            self._log.wake()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._caught_up.wait(), min(left, 0.05))
        return True

    async def _run(self) -> None:
        pause = 0.05
        while True:
            try:
                self._log.woken.clear()  # before looking: a publication from here on wakes us
                page = await self._log.next()
                if page.upto == self.cursor:
                    await self._store_cursor()
                    self._caught_up.set()
                    await self._log.wait(self.poll_s)
                    continue
                wrote = await self.handler(page.changes, self.stored, page.upto)
                self._log.cursor = page.upto
                if wrote is not False:
                    self.stored = page.upto
                elif asyncio.get_running_loop().time() - self._stored_at > self.flush_s:
                    await self._store_cursor()
                pause = 0.05
            except asyncio.CancelledError:
                raise
            except CursorMoved:
                self._log.forget()
                self._log.cursor = self.stored = await self.storage.cursor(self.name)
            except Exception:
                log.exception("change consumer %s failed; retrying in %.1f s", self.name, pause)
                self._log.forget()
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)


async def prune_loop(storage: Storage, every_s: float = 10.0) -> None:
    """Drop logged changes every consumer has handled, every ``every_s`` seconds."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await storage.prune_changes()
        except Exception:
            log.exception("pruning the change log failed")
