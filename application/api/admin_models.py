"""Admin: model versions, promote / rollback (swaps with no downtime), retrain, feedback statistics."""
from __future__ import annotations

from flask import Blueprint, jsonify, request, send_file

from application.api.context import get_services, json_body, require_admin
from application.errors import BadRequest
from application import models_admin
from application.request_values import flag, some_of, whole_number

bp = Blueprint("admin_models", __name__)


@bp.get("/api/admin/models")
@require_admin
def list_models():
    return jsonify(models_admin.models_overview(get_services()))


@bp.get("/api/admin/models/<version>/report")
@require_admin
def model_report(version: str):
    path = models_admin.report_file(get_services().settings, version, ".md")
    return send_file(path, mimetype="text/markdown")


@bp.get("/api/admin/models/<version>/plot.png")
@require_admin
def model_plot(version: str):
    path = models_admin.report_file(get_services().settings, version, ".png")
    return send_file(path, mimetype="image/png")


@bp.post("/api/admin/models/<version>/promote")
@require_admin
def promote(version: str):
    services = get_services()
    body = json_body() if request.get_data() else {}
    force = flag(body.get("force"), "force", default=False)
    checked = models_admin.validate_promotion(services, version, force=force)
    job = services.jobs.submit_swap("promote", {"version": checked.version, "force": force})
    return jsonify({"job_id": job["id"], "version": checked.version, "status": job["status"]}), 202


@bp.post("/api/admin/models/rollback")
@require_admin
def rollback():
    services = get_services()
    running = services.jobs.running_swap()
    if running is not None:
        from application.errors import Conflict

        raise Conflict(f"A swap is {running['status']} (job {running['id']}); cancel it or wait before rolling back.")
    before = services.serving.info()
    services.serving.rollback()
    models_admin.follow_serving_in_registry(services)
    return jsonify({"serving": services.serving.info(), "previous": before})


@bp.post("/api/admin/retrain")
@require_admin
def retrain():
    body = json_body() if request.get_data() else {}
    options = models_admin.parse_retrain_options(body)
    job = get_services().jobs.submit("retrain", options)
    return jsonify({"job_id": job["id"], "status": job["status"]}), 202


@bp.post("/api/admin/tune")
@require_admin
def tune():
    """Fit the fusion weight of the serving pipeline on the rated questions (a job of seconds)."""
    return submit_job_without_options("tune")


def submit_job_without_options(kind: str):
    """``202 {job_id, status}`` for a job that takes no options; a body with any is a 400."""
    body = json_body() if request.get_data() else {}
    if body:
        raise BadRequest(f"Unknown option(s): {some_of(sorted(body))}; {request.method} {request.path} "
                         "takes none.")
    job = get_services().jobs.submit(kind, {})
    return jsonify({"job_id": job["id"], "status": job["status"]}), 202


@bp.get("/api/admin/feedback/stats")
@require_admin
def feedback_stats():
    from application.chat.feedback_stats import feedback_stats as stats

    latest = whole_number(request.args.get("latest", "20"), "latest", minimum=0, maximum=200)
    return jsonify(stats(get_services().db, latest=latest))
