"""What the request layer costs per request: the app's own work around a view (groups, validation, the JSON
body rule, error rendering), measured through Flask's test client with nothing behind the view that costs
more than a SQL read (no model, no search).

Runs against the checkout it is in, so the same file run in two checkouts compares them (e.g. before and after
the routes were declared with typed models)::

    .venv/bin/python bench/request_layer.py                   # this checkout
    git worktree add /tmp/before <rev> && (cd /tmp/before && /work/main/.venv/bin/python \
        /work/main/bench/request_layer.py)                     # the same requests on <rev>

Prints the median microseconds per request of each kind over --rounds rounds of --requests requests.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# the checkout the command runs in, not the one this file is in (so one file measures both)
sys.path.insert(0, os.getcwd())
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REQUESTS = {
    # (method, path, json body, headers): each a route whose view does little, so the layer is what is timed
    "GET /health": ("get", "/health", None, {}),
    "GET /api/conversations": ("get", "/api/conversations", None, {"X-Owner-Token": "bench-owner-0001"}),
    "POST /api/feedback (400)": ("post", "/api/feedback", {"feedback": "like"}, {"X-Owner-Token": "bench-owner-0001"}),
    "POST /api/search (400)": ("post", "/api/search", {"question": "", "chunks": "2"}, {}),
    "GET /api/jobs": ("get", "/api/jobs", None, {"Authorization": "Bearer bench-admin-token-0123456789"}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="docstune-bench-"))
    os.environ.update(DATA_DIR=str(data_dir), LLM_PROVIDER="extractive", RATE_LIMIT_ENABLED="false",
                      JOBS_WORKER="off", ADMIN_TOKEN="bench-admin-token-0123456789")
    from application import create_app

    app = create_app()
    client = app.test_client()
    print(f"checkout: {os.getcwd()}")
    for name, (method, path, body, headers) in REQUESTS.items():
        call = getattr(client, method)
        status = call(path, json=body, headers=headers).status_code  # warm-up, and what it answers
        per_round = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            for _ in range(args.requests):
                call(path, json=body, headers=headers)
            per_round.append((time.perf_counter() - start) / args.requests * 1e6)
        print(f"{name:32} {status}  {statistics.median(per_round):8.0f} µs/request")
    app.extensions["docstune"].close()


if __name__ == "__main__":
    main()
