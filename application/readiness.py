"""What ``/ready`` and ``docstune status`` report: each dependency's state (``readiness``) and, for the admin,
what each part runs on and where (``dependencies``, ``dependency_report``): the vector store's engine (Qdrant
Edge in a folder, or a Qdrant server), the database, the job queue and its worker, the LLM.

Passwords never show (``redact_url``); hosts and folders do, as they are what the operator checks. Anonymous
``/ready`` shows none of it (``application.api.health.PUBLIC_FIELDS``). Example::

    report = dependency_report(app, worker=worker_mode(app.settings))
    report["vector_store"]  # {"ok": True, "engine": "Qdrant Edge", "location": "/srv/data/qdrant", ...}
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import make_url

from application.redaction import redact_url

if TYPE_CHECKING:
    from application.container import DocsTune
    from application.jobs.runtime import JobRuntime
    from application.settings import Settings


def readiness(app: DocsTune) -> dict:
    """``{"database": {...}, "vector_store": {...}, "embeddings": {...}, "ok": bool}``; opening the serving
    index here is the warm-up a server does at start (``wsgi.py``)."""
    checks: dict = {}
    try:
        with app.db.session() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except Exception as exc:
        checks["database"] = {"ok": False, "error": str(exc)}
    try:
        index = app.serving.current
        checks["vector_store"] = {"ok": True, "collection": index.collection,
                                  "points": app.vector_store.count(index.collection)}
        checks["embeddings"] = {"ok": True, "name": index.embeddings.name,
                                "fingerprint": index.embeddings.fingerprint,
                                "dimension": index.embeddings.dimension}
        if index.pending is not None or index.pending_error:
            pending = index.pending
            checks["embeddings"]["pending"] = {
                "name": getattr(pending, "name", app.models.configured_model()[0]),
                "fingerprint": getattr(pending, "fingerprint", None),
                "error": index.pending_error,
                "note": "the configured model is not indexed yet; the model above serves until its "
                        "re-index job completes (`docstune jobs` shows it)",
            }
    except Exception as exc:
        checks["vector_store"] = {"ok": False, "error": str(exc)}
    checks["ok"] = all(v.get("ok") for k, v in checks.items() if isinstance(v, dict))
    return checks


#: how ``docstune status`` names the worker of each JOBS_WORKER (``/ready`` names the one this process runs)
WORKER_MODES = {"thread": "in the server process (JOBS_WORKER=thread)", "immediate": "immediate",
                "off": "separate (docstune worker)"}


def dependencies(settings: Settings) -> dict[str, dict]:
    """Which engine, database, queue and LLM ``settings`` use, and where (no password)."""
    from application.db import describe_url, normalize_url
    from application.jobs.queue import describe_queue

    if settings.qdrant_url:
        vector_store = {"engine": "Qdrant server", "location": redact_url(settings.qdrant_url)}
    else:
        # absolute: a relative DATA_DIR means nothing to whoever reads the report from elsewhere
        vector_store = {"engine": "Qdrant Edge", "location": str(Path(settings.qdrant_path_resolved).absolute())}
    url = make_url(normalize_url(settings.database_url_resolved))
    kind = url.get_backend_name()
    # SQLite: the file; a server: user@host:port/name (describe_url leaves the password out)
    database = {"kind": kind, "location": url.database if kind == "sqlite" else describe_url(url).partition("://")[2]}
    jobs = {"kind": f"huey on {'Redis' if settings.redis_url else 'SQLite'}", "queue": describe_queue(settings)}
    provider = settings.llm_provider_resolved
    llm: dict = {"provider": provider}
    if provider == "anthropic":
        llm.update(model=settings.anthropic_model, location=redact_url(settings.anthropic_base_url or "the SDK's default"))
    elif provider == "openai_compatible":
        llm.update(model=settings.openai_model, location=redact_url(settings.openai_base_url))
    return {"database": database, "vector_store": vector_store, "jobs": jobs, "llm": llm}


def worker_mode(settings: Settings, runtime: JobRuntime | None = None) -> str:
    """Who runs the queued jobs: this process's ``runtime`` (the server's ``/ready``), else what JOBS_WORKER says
    (``docstune status``, a process that hosts no worker itself)."""
    if runtime is None:
        return WORKER_MODES[settings.jobs_worker]
    if runtime.worker_running:
        return "in this process"
    return WORKER_MODES["immediate" if runtime.huey.immediate else "off"]


def dependency_report(app: DocsTune, worker: str) -> dict:
    """``readiness`` (database, vector store, model) and the job queue and LLM checks, each with what it runs on
    and where; ``worker`` says who runs the queued jobs. ``ok`` is whether every check passed."""
    from application.jobs.queue import queue_check

    checks = readiness(app)
    # a part that cannot even be set up (REDIS_URL without the redis package, LLM_PROVIDER=anthropic without
    # its key) is a failing check in the report, not an error instead of it
    try:
        checks["jobs"] = {**queue_check(app.jobs.huey, app.settings), "worker": worker}
    except Exception as exc:  # noqa: BLE001
        checks["jobs"] = {"ok": False, "error": str(exc), "worker": worker}
    try:
        checks["llm"] = {"ok": True, "name": app.llm.name}
    except Exception as exc:  # noqa: BLE001
        checks["llm"] = {"ok": False, "error": str(exc)}
    for name, where in dependencies(app.settings).items():
        check = checks.get(name, {"ok": False})
        checks[name] = {"ok": check.get("ok"), **where, **check}
    checks["ok"] = all(check.get("ok") for check in checks.values() if isinstance(check, dict))
    return checks
