"""Fixtures of the NGSI-LD API tests: payloads from tests/fixtures and a local @context server.

Tests never reach the network: remote @contexts (smart-data-models, vendor vocabularies) are
served by :func:`context_server` from local copies in tests/fixtures/context-*.json.
"""

from __future__ import annotations

import copy
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load

FIXTURES = Path(__file__).parent.parent / "fixtures"
SMART_DATA_MODELS = {
    # published context URL -> local copy served by context_server
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Parking/master/context.jsonld": (
        "context-smart-data-models-parking.json"
    ),
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/context.jsonld": (
        "context-smart-data-models-environment.json"
    ),
}


class _ContextHandler(BaseHTTPRequestHandler):
    """Serves tests/fixtures/context-*.json as application/ld+json at /<file name>."""

    def do_GET(self) -> None:
        name = self.path.lstrip("/")
        path = FIXTURES / name
        if not name.startswith("context-") or not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/ld+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@pytest.fixture(scope="session")
def context_server() -> Iterator[str]:
    """Base URL of a local HTTP server serving the context-*.json fixtures."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ContextHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def unreachable_context_url() -> str:
    """A context URL on a local port where nothing listens (connection refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/context.jsonld"


def _localize(payload: dict[str, Any], server: str) -> dict[str, Any]:
    """A smart-data-models payload whose @context points at the local copies."""
    out = copy.deepcopy(payload)
    out["@context"] = [
        f"{server}/{SMART_DATA_MODELS[url]}" if url in SMART_DATA_MODELS else url
        for url in out["@context"]
    ]
    return out


@pytest.fixture
def parking(context_server: str) -> dict[str, Any]:
    """A smart-data-models OffStreetParking (normalized, application/ld+json form)."""
    return _localize(load("offstreet-parking-normalized.json"), context_server)


@pytest.fixture
def air_quality(context_server: str) -> dict[str, Any]:
    """A smart-data-models AirQualityObserved (normalized, application/ld+json form)."""
    return _localize(load("air-quality-observed-normalized.json"), context_server)


@pytest.fixture
def stellio_entity() -> dict[str, Any]:
    """The entity of the Stellio benchmark (multi-attributes, sub-property, geo, relationship)."""
    payload: dict[str, Any] = load("entity-stellio-bench.json")
    return payload


@pytest.fixture
def every_kind() -> dict[str, Any]:
    """An entity with every NGSI-LD attribute type, metadata and sub-attributes."""
    payload: dict[str, Any] = load("entity-every-attribute-kind.json")
    return payload


@pytest.fixture
def places() -> list[dict[str, Any]]:
    """Points, a park polygon and a road line around Gwacheon city hall (known distances)."""
    payload: list[dict[str, Any]] = load("places-gwacheon.json")
    return payload
