"""Each dependency's state, for ``/ready`` and ``docstune status``."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from application.container import DocsTune


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
