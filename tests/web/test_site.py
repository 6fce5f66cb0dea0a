"""The dashboard as served: the page and its files (caching, compression, the page's
Content-Security-Policy, this hub's settings in the page), the access policy for them, and a
build that matches its sources."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cityhub.app import create_app
from cityhub.auth.policy import required
from cityhub.errors import ConfigError
from cityhub.settings import Settings
from cityhub.web.site import STATIC, page_csp, tile_origin

WEB = Path(__file__).resolve().parents[2] / "web"
#: what the build digests (web/vite.config.js, INPUTS)
INPUTS = ["index.html", "package.json", "package-lock.json", "vite.config.js", "src", "public"]


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A hub with access control on (the page and its files are public), over ASGI."""
    async for c in _client(
        tmp_path, Settings(data_dir=str(tmp_path), auth="on", rate_limit_per_s=0.0)
    ):
        yield c


async def _client(tmp_path: Path, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
            yield c


def _config(page: str) -> dict[str, object]:
    found = re.search(r'<meta name="cityhub-config" content="([^"]*)">', page)
    assert found, "the page carries its settings"
    import html

    loaded: dict[str, object] = json.loads(html.unescape(found.group(1)))
    return loaded


@pytest.mark.anyio
async def test_page_is_public_with_a_strict_policy(site: httpx.AsyncClient) -> None:
    r = await site.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "connect-src 'self'" in csp
    assert r.headers["x-frame-options"] == "DENY"  # the guard's headers stay
    assert r.headers["cache-control"] == "no-cache"
    config = _config(r.text)
    assert config["tileUrl"] == "" and config["districtsUrl"] == "/static/districts.geojson"
    # the data behind it is not public
    assert (await site.get("/cityhub/v1/events")).status_code == 401
    assert (await site.get("/cityhub/v1/changes/stream")).status_code == 401


@pytest.mark.anyio
async def test_files_are_cached_by_content_and_compressed(site: httpx.AsyncClient) -> None:
    page = (await site.get("/")).text
    script = re.search(r'src="(/static/assets/[^"]+\.js)"', page)
    assert script
    r = await site.get(script.group(1), headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["content-encoding"] == "gzip" and r.headers["vary"] == "Accept-Encoding"
    plain = await site.get(script.group(1), headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert gzip.decompress(await _raw(site, script.group(1))) == plain.content
    again = await site.get(script.group(1), headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and not again.content
    districts = await site.get("/static/districts.geojson")
    assert districts.headers["content-type"] == "application/geo+json"
    assert districts.headers["cache-control"] == "no-cache"
    assert len(districts.json()["features"]) >= 3


async def _raw(site: httpx.AsyncClient, path: str) -> bytes:
    """The body as sent (httpx decodes gzip by itself)."""
    async with site.stream("GET", path, headers={"Accept-Encoding": "gzip"}) as r:
        return b"".join([chunk async for chunk in r.aiter_raw()])


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path",
    [
        "/static/index.html",
        "/static/%2e%2e/app.py",
        "/static/..%2fapp.py",
        "/static/.hidden",
        "/static/nope.js",
        "/static/",
    ],
)
async def test_only_the_build_is_served(site: httpx.AsyncClient, path: str) -> None:
    r = await site.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/json"


@pytest.mark.anyio
async def test_a_path_leaving_static_is_no_longer_public(site: httpx.AsyncClient) -> None:
    assert (await site.get("/static/../cityhub/v1/users")).status_code == 401


def test_policy_opens_the_page_not_the_data() -> None:
    assert required("GET", "/") is None
    assert required("GET", "/static/assets/index.js") is None
    assert required("GET", "/cityhub/v1/changes/stream") == "entities:read"
    assert required("GET", "/staticky") == "users:admin"  # a prefix of a path is not the path


def test_tile_origin_goes_into_the_policy() -> None:
    assert tile_origin("") == ""
    assert tile_origin("/tiles/{z}/{x}/{y}.png") == ""
    assert (
        tile_origin("https://{s}.tile.example.org/{z}/{x}/{y}.png") == "https://*.tile.example.org"
    )
    assert (
        tile_origin("http://tiles.city.go.kr:8080/{z}/{x}/{y}.png")
        == "http://tiles.city.go.kr:8080"
    )
    assert "img-src 'self' data: https://t.example;" in page_csp("https://t.example")
    for bad in ("javascript:alert(1)", "//evil.example/x", "ftp://t.example/x", "https://a b/{z}"):
        with pytest.raises(ConfigError):
            tile_origin(bad)


@pytest.mark.anyio
async def test_settings_reach_the_page(tmp_path: Path) -> None:
    districts = tmp_path / "mycity.geojson"
    districts.write_text('{"type": "FeatureCollection", "features": []}')
    settings = Settings(
        data_dir=str(tmp_path),
        auth="off",
        rate_limit_per_s=0.0,
        map_tile_url="https://tiles.example/{z}/{x}/{y}.png",
        map_tile_attribution='<b>"Tiles"</b> © city',
        map_districts=str(districts),
    )
    async for c in _client(tmp_path, settings):
        r = await c.get("/")
        config = _config(r.text)
        assert config["tileUrl"] == "https://tiles.example/{z}/{x}/{y}.png"
        assert config["tileAttribution"] == '<b>"Tiles"</b> © city'  # escaped in the page, intact
        assert "<b>" not in r.text.split("cityhub-config")[1].split(">")[0]
        assert "img-src 'self' data: https://tiles.example;" in r.headers["content-security-policy"]
        assert (await c.get("/static/districts.geojson")).json() == {
            "type": "FeatureCollection",
            "features": [],
        }
    with pytest.raises(ConfigError):
        create_app(
            Settings(
                data_dir=str(tmp_path), auth="off", map_districts=str(tmp_path / "none.geojson")
            )
        )


def test_build_matches_its_sources() -> None:
    """cityhub/web/static was built from web/ as it is (else: `make web`)."""
    digest = hashlib.sha256()
    names = []
    for entry in INPUTS:
        path = WEB / entry
        found = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        names += [p.relative_to(WEB).as_posix() for p in found]
    for name in sorted(names):
        digest.update(name.encode() + b"\0")
        digest.update((WEB / name).read_bytes())
        digest.update(b"\0")
    built = json.loads((STATIC / "build-info.json").read_text())
    assert built["sources"] == digest.hexdigest(), (
        "web/ changed since the last build: run `make web`"
    )
    assert (STATIC / "index.html").is_file()


def test_page_loads_nothing_from_elsewhere() -> None:
    """Offline: no URL to another host in the built page, scripts or styles."""
    for path in [STATIC / "index.html", *sorted((STATIC / "assets").iterdir())]:
        text = path.read_text(encoding="utf-8", errors="replace")
        # what a browser would fetch: scripts, images, styles (a link to a site is no fetch)
        loads = re.findall(
            r"""(?:src\s*=\s*["']|url\(\s*["']?|@import\s+["'])((?:https?:)?//[^"')\s]+)""", text
        )
        assert not loads, f"{path.name} loads from another host: {loads}"
