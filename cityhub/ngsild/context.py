"""JSON-LD @context handling for NGSI-LD: term expansion and compaction, offline core context.

NGSI-LD only needs a narrow slice of JSON-LD: map entity types, attribute names and vocab values
between short terms and IRIs. A general JSON-LD processor does the whole algorithm on every
document and is far too slow for a broker answering thousands of requests a second, so this
module builds, once per distinct @context, an :class:`ActiveContext` holding two dictionaries
(term → IRI and IRI → term) and caches it.

The core context (ETSI GS CIM 009 Annex B, shipped in the package) is always in force, its
terms are protected, and every published core-context URL resolves to it without network
access. Terms no context defines expand under the NGSI-LD default vocabulary. Remote user
contexts are fetched by a :class:`ContextLoader` (timeout, size limit, cache); contexts stored
through ``/jsonldContexts`` are served from storage.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import orjson

from cityhub.errors import BadRequestData, InvalidRequest, LdContextNotAvailable

CORE_CONTEXT_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
NGSI_LD = "https://uri.etsi.org/ngsi-ld/"
_CORE_URL_RE = re.compile(
    r"^https?://uri\.etsi\.org/ngsi-ld/(v1/)?ngsi-ld-core-context(-v1\.\d+)?\.jsonld$"
)
_GEN_DELIMS = (":", "/", "?", "#", "[", "]", "@")
_MAX_DEPTH = 8


def _now() -> str:
    """The current time as an NGSI-LD DateTime (as models.now_iso; models imports this module)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def is_core_context_url(url: str) -> bool:
    """True for any published URL of the NGSI-LD core context."""
    return bool(_CORE_URL_RE.match(url))


def _load_core() -> dict[str, Any]:
    text = resources.files("cityhub.ngsild").joinpath("core-context-v1.9.jsonld").read_bytes()
    ctx = orjson.loads(text)["@context"]
    assert isinstance(ctx, dict)
    return ctx


CORE_CONTEXT: dict[str, Any] = _load_core()


@dataclass(slots=True)
class ActiveContext:
    """The term mappings in force for one request; immutable once built."""

    terms: dict[str, str] = field(default_factory=dict)
    vocab_terms: set[str] = field(default_factory=set)  # terms whose values are vocab IRIs
    vocab: str = DEFAULT_VOCAB
    urls: tuple[str, ...] = ()  # the context as given, for echoing in responses
    _inverse: dict[str, str] = field(default_factory=dict)
    _prefixes: list[tuple[str, str]] = field(default_factory=list)
    _expand_cache: dict[str, str] = field(default_factory=dict)
    _compact_cache: dict[str, str] = field(default_factory=dict)

    def finish(self) -> ActiveContext:
        """Build the inverse and prefix tables after all terms are known."""
        inverse: dict[str, str] = {}
        for term, iri in self.terms.items():
            if term.startswith("@"):
                continue
            best = inverse.get(iri)
            if best is None or (len(term), term) < (len(best), best):
                inverse[iri] = term
        self._inverse = inverse
        self._prefixes = sorted(
            (
                (iri, term)
                for term, iri in self.terms.items()
                if iri.endswith(_GEN_DELIMS) and ":" not in term and not term.startswith("@")
            ),
            key=lambda p: -len(p[0]),
        )
        return self

    def expand(self, term: str) -> str:
        """Expand an attribute name or type to its IRI."""
        cached = self._expand_cache.get(term)
        if cached is not None:
            return cached
        iri = self._expand(term)
        if len(self._expand_cache) < 50_000:
            self._expand_cache[term] = iri
        return iri

    def _expand(self, term: str) -> str:
        mapped = self.terms.get(term)
        if mapped is not None:
            return mapped
        if ":" in term:
            prefix, _, suffix = term.partition(":")
            if suffix.startswith("//"):
                return term
            base = self.terms.get(prefix)
            if base is not None:
                return base + suffix
            return term  # an absolute IRI (urn:, http:, ...)
        return self.vocab + term

    def compact(self, iri: str) -> str:
        """Compact an IRI to the shortest term or CURIE this context offers."""
        cached = self._compact_cache.get(iri)
        if cached is not None:
            return cached
        term = self._compact(iri)
        if len(self._compact_cache) < 50_000:
            self._compact_cache[iri] = term
        return term

    def _compact(self, iri: str) -> str:
        term = self._inverse.get(iri)
        if term is not None:
            return term
        if self.vocab and iri.startswith(self.vocab) and len(iri) > len(self.vocab):
            rest = iri[len(self.vocab) :]
            if rest not in self.terms and ":" not in rest:
                return rest
        for base, prefix in self._prefixes:
            if iri.startswith(base) and len(iri) > len(base):
                return f"{prefix}:{iri[len(base) :]}"
        return iri

    def is_vocab_term(self, term_iri: str) -> bool:
        """True when values of this (expanded) attribute are vocabulary IRIs."""
        return term_iri in self.vocab_terms


ContextFetcher = Callable[[str], Awaitable[Any]]


class ContextLoader:
    """Resolves @context values (URLs, objects, arrays) to cached :class:`ActiveContext` s."""

    def __init__(
        self,
        fetch_remote: ContextFetcher,
        *,
        cache_size: int = 512,
        local: Callable[[str], Awaitable[Any | None]] | None = None,
    ) -> None:
        self._fetch_remote = fetch_remote
        self._local = local
        self._cache: OrderedDict[bytes, ActiveContext] = OrderedDict()
        self._docs: OrderedDict[str, Any] = OrderedDict()
        self._fetched: dict[str, str] = {}  # URL of a remote document in _docs -> fetched at
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self.core = self._build_sync([])

    def forget(self, url: str) -> None:
        """Drop a cached remote or stored context (after a DELETE /jsonldContexts)."""
        with self._lock:
            self._docs.pop(url, None)
            self._fetched.pop(url, None)
            self._cache.clear()

    def cached(self) -> list[tuple[str, str]]:
        """The remote contexts held in the cache, as (URL, fetched at), oldest first."""
        with self._lock:
            return sorted(self._fetched.items(), key=lambda item: item[1])

    def cached_document(self, url: str) -> Any | None:
        """A cached remote context document, or None."""
        with self._lock:
            return self._docs.get(url) if url in self._fetched else None

    async def reload(self, url: str) -> None:
        """Fetch a cached remote context again (LdContextNotAvailable keeps the old copy)."""
        doc = await self._fetch_remote(url)
        with self._lock:
            self._docs[url] = doc
            self._fetched[url] = _now()
            self._cache.clear()

    async def resolve(self, context: Any) -> ActiveContext:
        """The active context for a request's @context (None means the core context only)."""
        if (
            context is None
            or context == []
            or (isinstance(context, str) and is_core_context_url(context))
        ):
            return self.core
        key = orjson.dumps(context)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        items = context if isinstance(context, list) else [context]
        flat: list[Any] = []
        await self._flatten(items, flat, 0)
        active = self._build_sync(flat)
        active.urls = tuple(i for i in items if isinstance(i, str))
        with self._lock:
            self._cache[key] = active
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return active

    async def _flatten(self, items: list[Any], out: list[Any], depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise BadRequestData("@context nests remote contexts too deeply")
        for item in items:
            if item is None:
                continue
            if isinstance(item, str):
                if is_core_context_url(item):
                    continue
                doc = await self._document(item)
                inner = doc.get("@context") if isinstance(doc, dict) else None
                if inner is None:
                    raise LdContextNotAvailable(f"{item} holds no @context member")
                await self._flatten(inner if isinstance(inner, list) else [inner], out, depth + 1)
            elif isinstance(item, dict):
                out.append(item)
            else:
                raise BadRequestData(f"@context entries must be URLs or objects, not {item!r}")

    async def _document(self, url: str) -> Any:
        doc = self._docs.get(url)
        if doc is not None:
            return doc
        if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", url):
            raise BadRequestData(f"@context URL {url!r} is not an absolute URL")
        doc = await self._local(url) if self._local is not None else None
        remote = doc is None
        if remote:
            doc = await self._fetch_remote(url)
        with self._lock:
            self._docs[url] = doc
            if remote:
                self._fetched[url] = _now()
            while len(self._docs) > self._cache_size:
                evicted, _ = self._docs.popitem(last=False)
                self._fetched.pop(evicted, None)
        return doc

    def _build_sync(self, objects: list[dict[str, Any]]) -> ActiveContext:
        active = ActiveContext()
        for obj in [*objects, CORE_CONTEXT]:  # core last: its terms are protected
            _apply(active, obj)
        return active.finish()


def _apply(active: ActiveContext, obj: dict[str, Any]) -> None:
    """Add one context object's term definitions to ``active``."""
    if "@vocab" in obj:
        vocab = obj["@vocab"]
        if vocab is None:
            active.vocab = DEFAULT_VOCAB
        elif isinstance(vocab, str):
            active.vocab = vocab if ":" in vocab else active.expand(vocab)
        else:
            raise BadRequestData("@vocab must be a string")
    pending = [(k, v) for k, v in obj.items() if not k.startswith("@")]
    # definitions may refer to each other (CURIEs); two passes resolve the common cases
    for _ in range(2):
        for term, definition in pending:
            iri, is_vocab = _definition(active, term, definition)
            if iri is None:
                active.terms.pop(term, None)
                continue
            active.terms[term] = iri
            if is_vocab:
                active.vocab_terms.add(iri)
            else:
                active.vocab_terms.discard(iri)
        active._expand_cache.clear()


def _definition(active: ActiveContext, term: str, definition: Any) -> tuple[str | None, bool]:
    if definition is None:
        return None, False
    if isinstance(definition, str):
        target, is_vocab = definition, False
    elif isinstance(definition, dict):
        target = definition.get("@id", term)
        is_vocab = definition.get("@type") == "@vocab"
        if target is None:
            return None, False
        if not isinstance(target, str):
            raise BadRequestData(f"@context term {term!r} has a non-string @id")
    else:
        raise BadRequestData(f"@context term {term!r} has an invalid definition")
    if target.startswith("@"):
        return target, False
    if target == term and ":" not in term:
        return active.vocab + term, is_vocab
    return _expand_iri(active, target), is_vocab


def _expand_iri(active: ActiveContext, value: str) -> str:
    if ":" in value:
        prefix, _, suffix = value.partition(":")
        if not suffix.startswith("//"):
            base = active.terms.get(prefix)
            if base is not None:
                return base + suffix
        return value
    mapped = active.terms.get(value)
    return mapped if mapped is not None else active.vocab + value


def parse_link_header(header: str) -> str:
    """The context URL of an NGSI-LD ``Link`` header (rel=…#context)."""
    parts = [p.strip() for p in header.split(",")]
    for part in parts:
        m = re.match(r"<([^>]*)>\s*(.*)$", part)
        if not m:
            continue
        params = m.group(2)
        if re.search(r'rel\s*=\s*"?http://www\.w3\.org/ns/json-ld#context"?', params):
            return m.group(1)
    raise InvalidRequest(
        'Link header must be <URL>; rel="http://www.w3.org/ns/json-ld#context"; '
        'type="application/ld+json"'
    )
