"""Labelled probe traffic for `make demo`: POSTs each held-out test prompt with its expected
answer to the served model, one request every ``interval`` seconds, for as long as it runs.

    python scripts/demo_probes.py TESTSET URL [INTERVAL]

TESTSET is jobs/data/testset.jsonl (only its ``unseen`` rows are sent), URL the router's route
(http://127.0.0.1:8010/korean-llm). One kept-alive connection; while nothing is served yet (404,
refused) it waits a second and tries again. The router scores every probe
(ray_baton_serve_probes_total{outcome=correct|wrong}), which the canary's analysis reads.

At 5 requests a second the candidate at weight 20 answers ~30 probes per 30-second window of the
analysis' query, and the loop costs a few percent of a core (the curl loop it replaces sent 20 a
second and slowed the demo's training by half).
"""

from __future__ import annotations

import http.client
import json
import sys
import time
import urllib.parse


def probes(testset: str) -> list[bytes]:
    """The unseen rows of the test set as request bodies: {prompt, expected}."""
    bodies = []
    with open(testset, encoding="utf-8") as rows:
        for line in rows:
            row = json.loads(line)
            if row.get("split") == "unseen":
                body = {"prompt": row["prompt"], "expected": row["expected"]}
                bodies.append(json.dumps(body, ensure_ascii=False).encode())
    return bodies


def main() -> None:
    testset, url = sys.argv[1], sys.argv[2]
    interval = float(sys.argv[3]) if len(sys.argv) > 3 else 0.2
    target = urllib.parse.urlsplit(url)
    bodies = probes(testset)
    if not bodies:
        sys.exit(f"no unseen rows in {testset}")
    connection = None
    while True:
        for body in bodies:
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=10)
                connection.request("POST", target.path, body=body, headers={"Content-Type": "application/json"})
                connection.getresponse().read()
            except (OSError, http.client.HTTPException):
                if connection is not None:
                    connection.close()
                connection = None
                time.sleep(1)
            time.sleep(interval)


if __name__ == "__main__":
    main()
