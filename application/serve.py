"""``docstune serve``: the chat API in gunicorn, one worker process with threads.

One worker process because the embedded Qdrant Edge lets a single process open its
folder; threads give the concurrency. The model is loaded before the first
request is accepted, then the URL is printed.
"""
from __future__ import annotations

import sys

from gunicorn.app.base import BaseApplication

from application.readiness import readiness


class DocsTuneServer(BaseApplication):
    def __init__(self, settings, host: str, port: int, threads: int, admin_token_note: str = ""):
        self.settings = settings
        self.options = {
            "bind": f"{host}:{port}",
            "workers": 1,
            "worker_class": "gthread",
            "threads": threads,
            "timeout": 120,
            "graceful_timeout": 10,
            "control_socket_disable": True,  # one socket path per user would clash between instances
            "accesslog": "-",
            "post_worker_init": self._worker_ready,
        }
        self.url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
        self.admin_token_note = admin_token_note
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from application import create_app
        from application.errors import DocsTuneError

        try:
            return create_app(self.settings)
        except DocsTuneError as exc:
            # one readable line (e.g. the Qdrant folder is held by another process), then exit code 3:
            # gunicorn's "worker failed to boot", which stops the server instead of restarting the worker
            print(f"Error: {exc.message}", file=sys.stderr, flush=True)
            sys.exit(3)

    def _worker_ready(self, worker) -> None:
        print("Loading the embedding model and the index ...", file=sys.stderr, flush=True)
        checks = readiness(worker.wsgi.extensions["docstune"])
        status = "ready" if checks.get("ok") else "started, but NOT ready (GET /ready says why)"
        llm = worker.wsgi.extensions["docstune"].llm.name
        print(
            f"\nDocsTune is {status} at {self.url}  (LLM: {llm})\n"
            f"  curl -N {self.url}/stream -H 'Content-Type: application/json' "
            f"-d '{{\"question\": \"What is in my documents?\"}}'\n"
            f"{self.admin_token_note}",
            flush=True,
        )


def run_server(settings, host: str, port: int, threads: int, admin_token_note: str = "") -> None:
    DocsTuneServer(settings, host, port, threads, admin_token_note).run()
