"""Admin: the frozen evaluation set — what it holds, IR JSON out and in, and the serving pipeline measured on it."""
from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify

from application.api.context import get_services, json_body, require_admin
from application.errors import BadRequest

bp = Blueprint("evaluation", __name__)


@bp.get("/api/admin/evaluation")
@require_admin
def summary():
    """``{questions, fingerprint, feedback, import, serving}``: the set and the serving pipeline's latest score."""
    from application.db.evaluation_set import evaluation_summary

    return jsonify(evaluation_summary(get_services().db))


@bp.get("/api/admin/evaluation/export")
@require_admin
def export():
    """The set as IR JSON over every stored chunk (``docstune eval --dataset`` reads it)."""
    from dataclasses import asdict

    from application.db.evaluation_set import export_ir

    body = json.dumps(asdict(export_ir(get_services().db)), ensure_ascii=False)
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": 'attachment; filename="evaluation_set.json"'})


@bp.post("/api/admin/evaluation/import")
@require_admin
def import_set():
    """Add IR JSON questions (``{queries, corpus, relevant_docs}``) to the set; ids or exact chunk texts
    must match stored chunks. ``{added, already_there, unmatched, questions}``."""
    from application.db.evaluation_set import import_ir
    from training.irjson import ir_dataset_from_dict
    from training.records import TrainingDataError

    try:
        ir = ir_dataset_from_dict(json_body(), "the uploaded IR JSON")
        return jsonify(import_ir(get_services().db, ir))
    except TrainingDataError as exc:
        raise BadRequest(f"{exc}.") from exc


@bp.post("/api/admin/evaluate")
@require_admin
def evaluate():
    """Bring the set up to date with the ratings and measure the serving pipeline on it (a job of seconds)."""
    from application.api.admin_models import submit_job_without_options

    return submit_job_without_options("evaluate")
