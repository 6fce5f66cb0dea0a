"""The dashboard's files as served: the page with its settings, static files with caching
headers, and the page's Content-Security-Policy.

Built files under ``assets/`` carry a content hash in their names, so browsers keep them for a
year (``immutable``); the page and the other files are revalidated every time (``no-cache``
with an ``ETag``: a 304 costs no body). Text files are sent gzip-compressed to clients that
accept it. Files are read once and kept in memory (the whole build is a few hundred KB).

The page runs under a strict policy: scripts, styles, fetches and fonts from this host only,
images from this host and ``data:`` (Leaflet's stylesheet inlines small icons) plus the tile
server's origin when ``map_tile_url`` names one; no inline script, no framing.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import orjson

from cityhub import __version__
from cityhub.errors import ConfigError
from cityhub.settings import Settings

STATIC = Path(__file__).parent / "static"
DISTRICTS = "districts.geojson"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_CONFIG_META = '<meta name="cityhub-config" content="{}">'
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".geojson": "application/geo+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
    ".webmanifest": "application/manifest+json",
}
_COMPRESSIBLE = (".js", ".css", ".html", ".json", ".geojson", ".svg", ".map")
_GZIP_OVER = 1024  # bytes; smaller files gain nothing


@dataclass(frozen=True, slots=True)
class Asset:
    """One file ready to send."""

    body: bytes
    gzipped: bytes | None
    media_type: str
    etag: str
    cache_control: str


def make_asset(body: bytes, name: str, cache_control: str) -> Asset:
    """An asset for ``body`` (its type from the file name ``name``)."""
    suffix = Path(name).suffix.lower()
    media = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    zipped = None
    if suffix in _COMPRESSIBLE and len(body) > _GZIP_OVER:
        zipped = gzip.compress(body, 6, mtime=0)
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    return Asset(body, zipped, media, etag, cache_control)


def tile_origin(url: str) -> str:
    """The CSP source allowing a tile URL template (``{s}`` subdomains become ``*``); '' for
    a path on this host. ConfigError for anything that is not http(s) or a path."""
    if not url or (url.startswith("/") and not url.startswith("//")):
        return ""
    parts = urlsplit(url.replace("{s}", "s-placeholder"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"map_tile_url must be an http(s) URL or a path, not {url!r}")
    host = parts.netloc.replace("s-placeholder", "*")
    if any(c in host for c in " ;'\",{}"):
        raise ConfigError(f"map_tile_url has an invalid host: {url!r}")
    return f"{parts.scheme}://{host}"


def page_csp(tiles: str) -> str:
    """The page's Content-Security-Policy, allowing images from ``tiles`` too."""
    img = " ".join(filter(None, ("'self'", "data:", tiles)))
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src {img}; connect-src 'self'; font-src 'self'; manifest-src 'self'; "
        "media-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


class Site:
    """The dashboard's files, read from ``root`` (the build) once each."""

    def __init__(self, root: Path, config: dict[str, object], csp: str, districts: Path) -> None:
        self.root = root.resolve()
        self.config = config
        self.csp = csp
        self.districts = districts
        self._cache: dict[str, Asset | None] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Site:
        """The site for ``settings`` (ConfigError for a bad tile URL or districts file)."""
        districts = STATIC / DISTRICTS
        if settings.map_districts:
            districts = Path(settings.map_districts)
            if not districts.is_file():
                raise ConfigError(f"map_districts: no such file {settings.map_districts}")
        config: dict[str, object] = {
            "version": __version__,
            "tileUrl": settings.map_tile_url,
            "tileAttribution": settings.map_tile_attribution,
            "districtsUrl": f"/static/{DISTRICTS}",
        }
        return cls(STATIC, config, page_csp(tile_origin(settings.map_tile_url)), districts)

    def page(self) -> Asset | None:
        """index.html with this hub's settings in its ``cityhub-config`` meta element (None
        when the dashboard was not built)."""
        if "" not in self._cache:
            path = self.root / "index.html"
            if not path.is_file():
                self._cache[""] = None
            else:
                text = path.read_text(encoding="utf-8")
                meta = _CONFIG_META.replace(
                    "{}", html.escape(orjson.dumps(self.config).decode(), quote=True)
                )
                body = text.replace(_CONFIG_META, meta, 1).encode()
                self._cache[""] = make_asset(body, "index.html", REVALIDATE)
        return self._cache[""]

    def file(self, rel: str) -> Asset | None:
        """The static file at ``rel`` under the build (None: not there, or not ours to
        serve: the page itself, hidden files, anything outside the build)."""
        if rel in self._cache:
            return self._cache[rel]
        found = self._load(rel)
        if len(self._cache) < 1000:  # a bound against requests for made-up names
            self._cache[rel] = found
        return found

    def _load(self, rel: str) -> Asset | None:
        parts = rel.split("/")
        if (
            not rel
            or rel == "index.html"
            or any(p in ("", ".", "..") or p[0] == "." for p in parts)
        ):
            return None
        path = self.districts if rel == DISTRICTS else (self.root / rel).resolve()
        if rel != DISTRICTS and not path.is_relative_to(self.root):
            return None
        if not path.is_file():
            return None
        cache = IMMUTABLE if parts[0] == "assets" and len(parts) == 2 else REVALIDATE
        return make_asset(path.read_bytes(), path.name, cache)
