"""What access control costs: the same requests to a hub with auth off and one with auth on
(a bearer token on every request), in alternating rounds, over 16 keep-alive connections.

Prints, per kind of request, the median rate of each hub and their ratio (auth on / off).

    python bench/auth.py [--entities 2000] [--requests 10000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import loadgen  # noqa: E402
from bench.run import cityhub, markdown_table  # noqa: E402

JSON = "application/json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        secured = str(Path(tmp) / "on")
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "cityhub",
                "user",
                "--data-dir",
                secured,
                "add",
                "bench",
                "--role",
                "admin",
                "--tenant",
                "*",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        password = out.rsplit("password: ", 1)[1].strip()
        off = cityhub(f"sqlite:///{tmp}/off.db")
        on = cityhub(f"sqlite:///{secured}/cityhub.db", auth="on")
        try:
            login = httpx.post(
                f"http://127.0.0.1:{on.port}/cityhub/v1/auth/login",
                json={"username": "bench", "password": password},
            ).raise_for_status()
            token = {"Authorization": f"Bearer {login.json()['access_token']}"}
            ids = [f"urn:ngsi-ld:OffStreetParking:{i:05d}" for i in range(args.entities)]
            body = [
                {
                    "id": i,
                    "type": "OffStreetParking",
                    "availableSpotNumber": {"type": "Property", "value": 1},
                }
                for i in ids
            ]
            for proc, headers in ((off, {}), (on, token)):
                for start in range(0, len(body), 500):
                    httpx.post(
                        f"http://127.0.0.1:{proc.port}/ngsi-ld/v1/entityOperations/upsert",
                        json=body[start : start + 500],
                        headers=headers,
                        timeout=60,
                    ).raise_for_status()
            n = len(ids)
            upd = json.dumps({"type": "Property", "value": 2}).encode()
            cases = {
                "single GET": lambda i: (
                    "GET",
                    f"/ngsi-ld/v1/entities/{ids[(i * 7919) % n]}",
                    b"",
                    JSON,
                ),
                "partial update": lambda i: (
                    "PATCH",
                    f"/ngsi-ld/v1/entities/{ids[(i * 104729) % n]}/attrs/availableSpotNumber",
                    upd,
                    JSON,
                ),
            }
            rows = []
            for name, make in cases.items():
                rates: dict[str, list[float]] = {"off": [], "on": []}
                for _ in range(args.rounds):
                    for label, proc, headers in (("off", off, {}), ("on", on, token)):
                        r = asyncio.run(
                            loadgen.run("127.0.0.1", proc.port, make, args.requests, 16, headers)
                        )
                        bad = {s: c for s, c in r.statuses.items() if s >= 400}
                        assert not bad, (label, name, bad)
                        rates[label].append(r.rate)
                m_off, m_on = statistics.median(rates["off"]), statistics.median(rates["on"])
                rows.append(
                    [
                        f"{name}: auth on / auth off",
                        f"{m_on / m_off:.2f}×",
                        f"median of {args.rounds} alternating rounds: {m_on:,.0f}/s with a bearer "
                        f"token vs {m_off:,.0f}/s without access control",
                    ]
                )
        finally:
            off.stop()
            on.stop()
    markdown_table(rows)


if __name__ == "__main__":
    main()
