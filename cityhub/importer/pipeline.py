"""The import pipeline: read → convert (in chunks, in a thread) → write (a few batches in
flight) → commit progress in file order.

Memory is bounded whatever the file size: the reader holds one buffer, the queue between the
converter thread and the writers holds at most ``concurrency`` chunks, and at most
``concurrency`` batches are being written. Batches may finish out of order; the resume state
only moves past a batch once every batch before it is committed, so after any interruption a
re-run starts at the first row that might not be stored.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from cityhub.importer.convert import (
    Converted,
    EntityPassThrough,
    FeatureConverter,
    Reject,
    TableConverter,
)
from cityhub.importer.errors import ImportFailed
from cityhub.importer.geo import Projector
from cityhub.importer.mapping import Mapping, load_mapping
from cityhub.importer.sinks import DirectSink, HttpSink, NullSink, Sink
from cityhub.importer.sources import CSV, FORMATS, GEOJSON, NGSI_LD, Source, detect_format
from cityhub.importer.sources import open_source as _open_source
from cityhub.importer.state import StateFile, default_state_path, file_identity

DEFAULT_URL = "http://127.0.0.1:1026"
_TENANT_RE = re.compile(r"^[A-Za-z0-9_.\-]{0,64}$")
_SAVE_EVERY_S = 0.5  # the resume state is written at most this often (and at the end)

Echo = Callable[[str], None]


@dataclass(slots=True)
class ImportOptions:
    """What ``cityhub import`` was asked to do."""

    path: str
    mapping: str | None = None
    format: str = "auto"
    encoding: str = "auto"
    delimiter: str | None = None
    url: str | None = None
    database: str | None = None
    data_dir: str | None = None
    tenant: str | None = None
    batch_size: int = 1000
    concurrency: int = 4
    rejects: str | None = None
    show_rejects: int = 10
    state: str | None = None
    force: bool = False
    dry_run: bool = False
    quiet: bool = False
    verbose: bool = False
    progress: bool | None = None  # None: shown when stderr is a terminal and not quiet


@dataclass(slots=True)
class ImportResult:
    """How an import went (this run, and the whole file for the totals)."""

    target: str = ""
    tenant: str = ""
    kind: str = ""
    encoding: str = ""
    start_row: int = 0  # rows an earlier run had already taken (this run started after them)
    rows: int = 0  # rows taken by this run (imported + rejected)
    imported: int = 0
    rejected: int = 0
    total_rows: int = 0  # the whole file so far, across runs
    total_imported: int = 0
    total_rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)  # whole file, across runs
    first_rejects: list[Reject] = field(default_factory=list)  # this run, in file order
    seconds: float = 0.0
    peak_rss_mib: float = 0.0
    already_imported: bool = False
    complete: bool = False
    state_path: str = ""
    rejects_path: str = ""

    @property
    def exit_code(self) -> int:
        """0: every row taken; 2: some rows rejected."""
        return 2 if self.total_rejected else 0


@dataclass(slots=True)
class Chunk:
    """A run of consecutive rows, converted."""

    seq: int
    end_row: int  # rows of the file consumed once this chunk is done
    converted: Converted


# --- the pieces, per input kind -------------------------------------------------------------


def _tenant(opts: ImportOptions, mapping: Mapping | None) -> str:
    tenant = opts.tenant if opts.tenant is not None else (mapping.tenant if mapping else None)
    tenant = (tenant or "").strip()
    if not _TENANT_RE.match(tenant):
        raise ImportFailed(f"invalid tenant {tenant!r}: use letters, digits, '_', '-', '.'")
    return tenant


def _converter(
    source: Source, mapping: Mapping | None
) -> TableConverter | FeatureConverter | EntityPassThrough:
    if source.kind == NGSI_LD:
        return EntityPassThrough()
    assert mapping is not None
    loc = mapping.location
    projector = None
    if loc is not None:
        crs = loc.crs
        if source.kind == GEOJSON and not loc.crs_given and source.crs:
            crs = source.crs  # the file's own crs member, unless the mapping says otherwise
        try:
            projector = Projector(crs, loc.bounds)
        except Exception as err:  # noqa: BLE001 - pyproj's errors, shown as one line
            raise ImportFailed(f"cannot transform from {crs} to WGS84: {err}") from None
    if source.kind == GEOJSON:
        return FeatureConverter(mapping, projector)
    missing = [c for c in mapping.columns() if c not in source.columns]
    if missing:
        shown = ", ".join(source.columns[:40]) + (" ..." if len(source.columns) > 40 else "")
        raise ImportFailed(
            f"{mapping.path} uses column {missing[0]!r}, which {source.path} does not have "
            f"(its columns: {shown})"
        )
    return TableConverter(mapping, source.columns, projector)


def make_sink(opts: ImportOptions, mapping: Mapping | None) -> Sink:
    """The sink the options ask for."""
    context = mapping.context if mapping else None
    if opts.dry_run:
        return NullSink()
    if opts.database or opts.data_dir:
        if opts.url:
            raise ImportFailed("give either --url (a running hub) or --database/--data-dir")
        from cityhub.errors import ConfigError
        from cityhub.settings import load_settings

        overrides: dict[str, Any] = {"database": opts.database or ""}
        if opts.data_dir:  # absolute: the resume state names the database it went into
            overrides["data_dir"] = os.path.abspath(opts.data_dir)
        try:
            settings = load_settings(overrides)
        except ConfigError as err:
            raise ImportFailed(str(err)) from None
        from cityhub.app import tune_gc

        tune_gc(settings.gc_threshold)  # a bulk load, like a server's
        return DirectSink(settings, context=context)
    url = opts.url or os.environ.get("CITYHUB_URL") or DEFAULT_URL
    return HttpSink(url, concurrency=opts.concurrency, context=context)


# --- rejected rows ------------------------------------------------------------------------


class RejectsFile:
    """Every rejected row, as CSV (UTF-8 with BOM, so spreadsheet programs read Korean):
    ``line, reason`` and the row's own columns (CSV input), or ``item, reason, id, json``."""

    def __init__(self, path: str, source: Source, resume_at: int | None) -> None:
        self.path = path
        self.kind = source.kind
        try:
            if resume_at is not None and os.path.exists(path):
                self._fh: IO[bytes] = open(path, "r+b")  # noqa: SIM115 - closed in close()
                self._fh.truncate(resume_at)
                self._fh.seek(resume_at)
                header = False
            else:
                self._fh = open(path, "wb")  # noqa: SIM115 - closed in close()
                self._fh.write("\ufeff".encode())
                header = True
        except OSError as err:
            raise ImportFailed(f"cannot write the rejects file {path}: {err.strerror}") from err
        self._buf = io.StringIO()
        self._csv = csv.writer(self._buf, lineterminator="\n")
        if header:
            if source.kind == CSV:
                self._csv.writerow(["line", "reason", *source.columns])
            else:
                self._csv.writerow(["item", "reason", "id", "json"])
            self.flush()

    def add(self, reject: Reject) -> None:
        raw = reject.raw
        if self.kind == CSV and isinstance(raw, list):
            self._csv.writerow([reject.position, reject.detail, *raw])
        else:
            rid = raw.get("id", "") if isinstance(raw, dict) else ""
            if self.kind == GEOJSON and isinstance(raw, dict):
                props = raw.get("properties")
                rid = ""
                if isinstance(props, dict):
                    rid = next((str(v) for v in props.values() if v not in (None, "")), "")
            text = orjson.dumps(raw).decode() if raw is not None else ""
            self._csv.writerow([reject.position, reject.detail, rid, text])

    def flush(self) -> int:
        """Write what was added; returns the file's size."""
        data = self._buf.getvalue()
        if data:
            self._fh.write(data.encode("utf-8"))
            self._buf.seek(0)
            self._buf.truncate()
        self._fh.flush()
        return self._fh.tell()

    def close(self) -> None:
        self.flush()
        self._fh.close()


# --- committing in file order ---------------------------------------------------------------


class Committer:
    """Collects finished batches and moves the committed row count through them in file
    order; the state is saved (throttled) each time it moves."""

    def __init__(
        self,
        result: ImportResult,
        state: StateFile | None,
        rejects: RejectsFile | None,
        show: int,
        bar: Any,
        base: tuple[int, int] = (0, 0),
    ) -> None:
        self.result = result
        self._base = base  # imported, rejected by earlier runs
        self.state = state
        self.rejects = rejects
        self.show = show
        self.bar = bar
        self.next_seq = 0
        self.rows = result.start_row
        self._done: dict[int, tuple[Chunk, list[Reject], int]] = {}
        self._saved_at = 0.0

    def finish(self, chunk: Chunk, failures: list[tuple[str, str]]) -> None:
        conv = chunk.converted
        rejects = list(conv.rejects)
        if failures:
            where: dict[str, list[int]] = {}
            for i, entity in enumerate(conv.entities):
                where.setdefault(str(entity.get("id", entity.get("@id", ""))), []).append(i)
            refused: set[int] = set()
            for entity_id, reason in failures:
                kind = reason.split(":", 1)[0] if re.match(r"^\w+:", reason) else ""
                short = f"refused by the hub: {kind}" if kind else "refused by the hub"
                for i in where.get(entity_id, []):
                    if i not in refused:
                        refused.add(i)
                        pos, raw = conv.rows[i]
                        rejects.append(Reject(pos, short, reason, raw))
            rejects.sort(key=lambda r: r.position)
            imported = len(conv.entities) - len(refused)
        else:
            imported = len(conv.entities)
        self._done[chunk.seq] = (chunk, rejects, imported)
        moved = 0
        while self.next_seq in self._done:
            done, done_rejects, done_imported = self._done.pop(self.next_seq)
            self.next_seq += 1
            self._take(done, done_rejects, done_imported)
            moved += done.end_row - self.rows
            self.rows = done.end_row
        if moved:
            if self.bar is not None:
                self.bar.update(moved)
            now = time.monotonic()
            if now - self._saved_at >= _SAVE_EVERY_S:
                self.save()
                self._saved_at = now

    def _take(self, chunk: Chunk, rejects: list[Reject], imported: int) -> None:
        r = self.result
        r.rows += chunk.end_row - self.rows
        r.imported += imported
        r.rejected += len(rejects)
        for reject in rejects:
            r.reasons[reject.reason] += 1
            if len(r.first_rejects) < self.show:
                r.first_rejects.append(reject)
            if self.rejects is not None:
                self.rejects.add(reject)

    def save(self, *, complete: bool = False) -> None:
        r = self.result
        r.total_rows = self.rows
        if self.state is None:
            return
        p = self.state.progress
        base = self._base
        p.rows = self.rows
        p.imported = base[0] + r.imported
        p.rejected = base[1] + r.rejected
        p.reasons = r.reasons
        p.complete = complete
        if self.rejects is not None:
            p.rejects_file = os.path.abspath(self.rejects.path)
            p.rejects_bytes = self.rejects.flush()
        self.state.save()


# --- running ----------------------------------------------------------------------------------


def _chunks(
    source: Source,
    convert: Callable[[list[tuple[int, Any]]], Converted],
    skip: int,
    size: int,
) -> Iterator[Chunk]:
    records = source.records
    for _ in range(skip):
        if next(records, None) is None:
            break
    seq, row = 0, skip
    while True:
        batch: list[tuple[int, Any]] = []
        for record in records:
            batch.append(record)
            if len(batch) >= size:
                break
        if not batch:
            return
        row += len(batch)
        yield Chunk(seq, row, convert(batch))
        seq += 1


def _count_rows(source: Source) -> int | None:
    """About how many rows a CSV file has (its newlines, for the progress bar)."""
    if source.kind != CSV:
        return None
    count = 0
    with open(source.path, "rb") as fh:
        while block := fh.read(1 << 22):
            count += block.count(b"\n")
    return max(count - 1, 0)


def _progress_bar(opts: ImportOptions, source: Source, start: int) -> Any:
    show = opts.progress if opts.progress is not None else sys.stderr.isatty()
    if opts.quiet or not show:
        return None
    from tqdm import tqdm

    total = _count_rows(source)
    return tqdm(
        total=total,
        initial=start,
        unit=" rows",
        unit_scale=True,
        file=sys.stderr,
        dynamic_ncols=True,
        smoothing=0.1,
        desc="importing",
    )


def run_import(
    opts: ImportOptions,
    *,
    sink: Sink | None = None,
    echo: Echo | None = None,
    note: Echo | None = None,
) -> ImportResult:
    """Import a file; returns how it went (ImportFailed when it cannot go on).

    ``echo`` prints the summary (stdout), ``note`` the remarks on the way (stderr).
    """
    result = ImportResult()
    try:
        return asyncio.run(_run(opts, result, sink, echo or _discard, note or _discard))
    except KeyboardInterrupt:
        raise ImportFailed(
            f"interrupted with {result.total_rows} rows committed; run the same command again "
            "to resume"
        ) from None


def _discard(_text: str) -> None:
    return None


def _check_options(opts: ImportOptions) -> None:
    if opts.format not in FORMATS:
        raise ImportFailed(f"unknown format {opts.format!r}: use {', '.join(FORMATS)}")
    if opts.batch_size < 1:
        raise ImportFailed("--batch-size must be at least 1")
    if opts.concurrency < 1:
        raise ImportFailed("--concurrency must be at least 1")
    if opts.delimiter is not None and len(opts.delimiter) != 1:
        raise ImportFailed("--delimiter must be one character")


async def _run(
    opts: ImportOptions, result: ImportResult, given_sink: Sink | None, echo: Echo, note: Echo
) -> ImportResult:
    started = time.perf_counter()
    _check_options(opts)
    kind = opts.format if opts.format != "auto" else detect_format(opts.path)
    mapping: Mapping | None = None
    if kind == NGSI_LD:
        if opts.mapping:
            raise ImportFailed(
                f"{opts.path} holds NGSI-LD entities, which are imported as they are: "
                "leave out --mapping (or give --format csv/geojson)"
            )
    elif not opts.mapping:
        raise ImportFailed(f"a {kind.upper()} file needs --mapping FILE (see docs/import.md)")
    else:
        mapping = load_mapping(opts.mapping)
    tenant = _tenant(opts, mapping)
    sink = given_sink or make_sink(opts, mapping)
    result.target, result.tenant, result.kind = sink.target, tenant, kind

    source = _open_source(opts.path, kind, opts.encoding, opts.delimiter)
    try:
        result.encoding = source.encoding
        if source.encoding_note and not opts.quiet:
            note(source.encoding_note)
        converter = _converter(source, mapping)
        state: StateFile | None = None
        if not opts.dry_run:
            state_path = opts.state or default_state_path(opts.path)
            key = f"{sink.target} tenant={tenant or '(default)'}"
            state = StateFile(state_path, file_identity(opts.path), key)
            result.state_path = state_path
            if state.note and not opts.quiet:
                note(state.note)
            _decide_start(state, mapping, opts, result, note)
            if result.already_imported:
                return result
        return await _pump(opts, source, converter, sink, tenant, state, result, echo, started)
    finally:
        source.close()


def _decide_start(
    state: StateFile,
    mapping: Mapping | None,
    opts: ImportOptions,
    result: ImportResult,
    note: Echo,
) -> None:
    p = state.progress
    mapping_sha = mapping.sha256 if mapping else ""
    fresh = not p.started
    if not fresh and p.mapping_sha256 != mapping_sha:
        if not p.complete and not opts.quiet:
            note("the mapping changed since the interrupted import: starting from the first row")
        fresh = True
    elif not fresh and p.complete and not opts.force:
        result.already_imported = True
        result.complete = True
        result.total_rows, result.total_imported = p.rows, p.imported
        result.total_rejected, result.reasons = p.rejected, p.reasons
        return
    elif not fresh and p.complete:
        fresh = True  # --force: again from the first row (upserts: no duplicates)
    if fresh:
        state.restart()
        state.progress.mapping_sha256 = mapping_sha
        return
    if p.rows == 0:  # an earlier run stopped before its first batch: nothing to resume
        state.restart()
        state.progress.mapping_sha256 = mapping_sha
        return
    result.start_row = p.rows
    if not opts.quiet:
        note(f"resuming: {p.rows} rows were taken by an earlier run, starting after them")


async def _pump(
    opts: ImportOptions,
    source: Source,
    converter: TableConverter | FeatureConverter | EntityPassThrough,
    sink: Sink,
    tenant: str,
    state: StateFile | None,
    result: ImportResult,
    echo: Echo,
    started: float,
) -> ImportResult:
    base = (state.progress.imported, state.progress.rejected) if state is not None else (0, 0)
    if state is not None and result.start_row:
        result.reasons = Counter(state.progress.reasons)
    await sink.open()
    rejects: RejectsFile | None = None
    bar: Any = None
    pool = ThreadPoolExecutor(1, thread_name_prefix="cityhub-import-read")
    finished = False
    committer: Committer | None = None
    try:
        if opts.rejects:
            rejects = RejectsFile(opts.rejects, source, _rejects_resume(state, result, opts))
            result.rejects_path = opts.rejects
        bar = _progress_bar(opts, source, result.start_row)
        committer = Committer(result, state, rejects, max(opts.show_rejects, 0), bar, base)
        commit = committer
        chunks = _chunks(source, converter.convert, result.start_row, opts.batch_size)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Chunk | None] = asyncio.Queue(maxsize=opts.concurrency)

        async def produce() -> None:
            while True:
                chunk = await loop.run_in_executor(pool, next, chunks, None)
                await queue.put(chunk)
                if chunk is None:
                    for _ in range(opts.concurrency - 1):
                        await queue.put(None)
                    return

        async def write() -> None:
            while (chunk := await queue.get()) is not None:
                entities = chunk.converted.entities
                failures = await sink.write(tenant, entities) if entities else []
                commit.finish(chunk, failures)

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(produce())
                for _ in range(opts.concurrency):
                    group.create_task(write())
        except BaseExceptionGroup as group_error:
            raise _first_error(group_error) from None
        finished = True
    finally:
        try:
            if committer is not None:
                committer.save(complete=finished)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            if bar is not None:
                if finished:
                    bar.total = bar.n
                    bar.refresh()
                bar.close()
            if rejects is not None:
                rejects.close()
            await sink.close()
    assert committer is not None
    result.complete = True
    result.seconds = time.perf_counter() - started
    result.peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    prior = state.progress if state is not None else None
    result.total_rows = committer.rows
    result.total_imported = prior.imported if prior else result.imported
    result.total_rejected = prior.rejected if prior else result.rejected
    _summary(result, opts, echo)
    return result


def _rejects_resume(
    state: StateFile | None, result: ImportResult, opts: ImportOptions
) -> int | None:
    """Where to go on writing the rejects file of a resumed import (None: a new file)."""
    if state is None or not result.start_row or not opts.rejects:
        return None
    p = state.progress
    same = p.rejects_file == os.path.abspath(opts.rejects)
    return p.rejects_bytes if same and p.rejects_bytes > 0 else None


def _first_error(group: BaseExceptionGroup[Any]) -> BaseException:
    """The error to report from a task group: an ImportFailed if there is one."""
    leaves: list[BaseException] = []

    def walk(err: BaseException) -> None:
        if isinstance(err, BaseExceptionGroup):
            for inner in err.exceptions:
                walk(inner)
        else:
            leaves.append(err)

    walk(group)
    for leaf in leaves:
        if isinstance(leaf, ImportFailed):
            return leaf
    return leaves[0] if len(leaves) == 1 else group


def _summary(r: ImportResult, opts: ImportOptions, echo: Echo) -> None:
    rate = r.rows / r.seconds if r.seconds > 0 else 0.0
    tenant = r.tenant or "(default)"
    echo(f"imported {opts.path} into {r.target}, tenant {tenant}")
    resumed = f" (resumed after row {r.start_row})" if r.start_row else ""
    echo(
        f"  {r.rows} rows{resumed}: {r.imported} imported, {r.rejected} rejected, "
        f"in {r.seconds:.1f} s ({rate:,.0f} rows/s)"
    )
    if r.start_row:
        echo(
            f"  whole file: {r.total_rows} rows, {r.total_imported} imported, "
            f"{r.total_rejected} rejected"
        )
    if r.total_rejected:
        echo("rejected rows by reason:")
        for reason, count in r.reasons.most_common():
            echo(f"  {count:>7}  {reason}")
        if r.first_rejects:
            what = "line" if r.kind == CSV else "item"
            shown = len(r.first_rejects)
            run = " of this run" if r.start_row else ""
            echo(f"first {shown} rejected row{'s' if shown > 1 else ''}{run}:")
            for reject in r.first_rejects:
                echo(f"  {what} {reject.position}: {reject.detail}")
        if r.rejects_path:
            echo(f"every rejected row, with its reason: {r.rejects_path}")
        else:
            echo("(--rejects FILE writes every rejected row, with its reason, as CSV)")
    if opts.verbose:
        echo(f"  peak memory (RSS) {r.peak_rss_mib:.0f} MiB; encoding {r.encoding}")
        if r.state_path:
            echo(f"  resume state: {r.state_path}")
