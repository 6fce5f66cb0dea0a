"""Simulators of the other side of the linked safety services, for tests, training and the demo.

- :class:`Agency` plays a 112 / 119 / disaster / welfare center (and the telecom operator that
  locates a missing person's phone): it files linked-service requests with cityhub over HTTP,
  in the plain JSON form (with a bearer token or API key) or in the integrated-platform message
  form (AUTH handshake, then the request with the session key), and reports 119 arrivals.
- :func:`platform_app` plays an external integrated platform receiving cityhub's forwarded
  events (``/api/getAuth.json``, ``/linkHttp/recvEvent.json``); it keeps what it received and
  can refuse or fail on purpose, to exercise cityhub's retries.

``cityhub agency`` drives both from the command line.
"""

from __future__ import annotations

import math
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SEOUL = ZoneInfo("Asia/Seoul")
#: the event codes cityhub knows the services by (cityhub/ops/linked.py)
CODES = {
    "112-video": "LNK112VID",
    "112-dispatch": "LNK112DSP",
    "119-dispatch": "LNK119DSP",
    "disaster": "LNKDSTR",
    "vulnerable": "LNKVULN",
}
#: what each kind of center reports, for made-up requests
STORIES = {
    "112-video": ["납치 의심 신고", "강도 신고", "폭행 신고"],
    "112-dispatch": ["도주 차량 추적", "수배자 목격 신고"],
    "119-dispatch": ["주택 화재", "상가 화재", "구급 출동"],
    "disaster": ["도로 침수", "옹벽 붕괴 우려", "가스 누출"],
    "vulnerable": ["치매 노인 실종", "아동 실종", "독거노인 응급 호출"],
}


def _stamp() -> str:
    return datetime.now(UTC).astimezone(SEOUL).strftime("%Y%m%d%H%M%S")


def case_number() -> str:
    """A case number as agencies send them (yyyyMMddHHmmssSSS, Seoul time) plus a tag."""
    now = datetime.now(UTC).astimezone(SEOUL)
    return now.strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}{secrets.randbelow(10)}"


@dataclass
class Agency:
    """An agency system talking to cityhub over HTTP."""

    base_url: str
    service: str
    credential: str = ""  # a bearer token (cht_...) or API key (chk_...) of the agency account
    tenant: str = ""
    send_code: str = "A0000000000"  # the agency's code (sendCd)
    timeout: float = 10.0
    _session: str | None = field(default=None, repr=False)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.credential:
            headers["Authorization"] = f"Bearer {self.credential}"
        if self.tenant:
            headers["NGSILD-Tenant"] = self.tenant
        return headers

    async def request(
        self, client: httpx.AsyncClient, lon: float, lat: float, **more: Any
    ) -> httpx.Response:
        """File a request in the plain JSON form."""
        body = {"service": self.service, "location": {"type": "Point", "coordinates": [lon, lat]}}
        return await client.post(
            f"{self.base_url}/cityhub/v1/linked/requests",
            json=body | more,
            headers=self._headers(),
            timeout=self.timeout,
        )

    async def arrived(self, client: httpx.AsyncClient, request_id: str) -> httpx.Response:
        """Report that the unit reached the scene (119)."""
        return await client.post(
            f"{self.base_url}/cityhub/v1/linked/requests/{request_id}/arrival",
            headers=self._headers(),
            timeout=self.timeout,
        )

    def _header(self, svc: str) -> dict[str, Any]:
        return {
            "svcTy": svc,
            "hdCnt": 1,
            "dtCnt": 1,
            "apSeq": {"apCurrent": 1, "apTotal": 1},
            "cmnMtd": "POST",
            "sendCd": self.send_code,
            "rcvCd": "",
            "encAt": "N",
            "tranTy": "HTTP",
            "rrKey": self._session or "",
            "reqDate": _stamp(),
            "sysCd": "AGN",
            "tranSysHis": [],
            "callBack": {"useYn": "N", "targetUrl": ""},
        }

    async def login(self, client: httpx.AsyncClient) -> str:
        """The AUTH handshake: the agency's API key for a session key."""
        msg = {"header": self._header("AUTH"), "body": {"apiKey": self.credential}}
        r = await client.post(f"{self.base_url}/api/getAuth.json", json=msg, timeout=self.timeout)
        answer = r.json()
        if answer.get("result") != "0":
            raise RuntimeError(f"cityhub refused the session: {answer.get('message')}")
        self._session = str(answer["message"])
        return self._session

    async def message(
        self,
        client: httpx.AsyncClient,
        lon: float,
        lat: float,
        case: str,
        name: str,
        place: str = "",
        grade: str = "2",
    ) -> dict[str, Any]:
        """File a request in the integrated-platform message form; cityhub's answer."""
        if self._session is None:
            await self.login(client)
        body = {
            "evtId": CODES[self.service],
            "evtNm": name,
            "evtGrad": grade,
            "ocrNbr": case,
            "ocrLc": {"crdntX": lon, "crdntY": lat, "crdntZ": 0},
            "ocrPlc": place,
            "ocrEvtCn": name,
            "ocrEvtTime": _stamp(),
        }
        headers = {"X-Scsns-Secret": self._session or ""}
        if self.tenant:
            headers["NGSILD-Tenant"] = self.tenant
        r = await client.post(
            f"{self.base_url}/linkHttp/recvRequest.json",
            json={"header": self._header("EVENT"), "body": body},
            headers=headers,
            timeout=self.timeout,
        )
        answer: dict[str, Any] = r.json()
        return answer


def telecom_fix(
    lon: float, lat: float, accuracy_m: float, rng: random.Random
) -> tuple[float, float]:
    """Where a telecom operator would place a phone at (lon, lat): a cell-based fix within
    ``accuracy_m`` metres (the phone is somewhere in that circle)."""
    distance = accuracy_m * math.sqrt(rng.random())
    angle = rng.random() * 2 * math.pi
    dlat = distance * math.cos(angle) / 111_320.0
    dlon = distance * math.sin(angle) / (111_320.0 * math.cos(math.radians(lat)))
    return lon + dlon, lat + dlat


@dataclass
class PlatformLog:
    """What the simulated platform received, and how it behaves."""

    api_key: str = ""  # the apiKey it accepts ('' any)
    mode: str = "accept"  # accept | refuse | fail (HTTP 503)
    sessions: set[str] = field(default_factory=set)
    events: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0


def platform_app(
    log: PlatformLog, echo: Callable[[dict[str, Any]], None] | None = None
) -> Starlette:
    """An external integrated platform's receiving side (ASGI app); ``echo`` sees each event
    it accepts."""

    def answer(ok: bool, message: str) -> Response:
        return Response(
            orjson.dumps({"result": "0" if ok else "1", "message": message}),
            media_type="application/json",
        )

    async def get_auth(request: Request) -> Response:
        msg = orjson.loads(await request.body())
        key = (msg.get("body") or {}).get("apiKey")
        if log.api_key and key != log.api_key:
            return answer(False, "unknown apiKey")
        session = secrets.token_urlsafe(16)
        log.sessions.add(session)
        return answer(True, session)

    async def recv_event(request: Request) -> Response:
        log.attempts += 1
        if log.mode == "fail":
            return Response("unavailable", status_code=503)
        msg = orjson.loads(await request.body())
        session = request.headers.get("x-scsns-secret") or msg["header"].get("rrKey")
        if session not in log.sessions:
            return answer(False, "invalid session key")
        if log.mode == "refuse":
            return answer(False, "event refused")
        log.events.append(msg)
        if echo is not None:
            echo(msg)
        return answer(True, "ok")

    return Starlette(
        routes=[
            Route("/api/getAuth.json", get_auth, methods=["POST"]),
            Route("/linkHttp/recvEvent.json", recv_event, methods=["POST"]),
        ]
    )
