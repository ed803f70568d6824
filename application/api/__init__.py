"""The Flask app factory: one blueprint per area, resources created once per app.

Example::

    from application import create_app
    app = create_app()                # settings from the environment
    app.test_client().get("/health")
"""
from __future__ import annotations

import atexit
import logging

from flask import Flask
from flask_openapi3 import APIBlueprint, OpenAPI

from application.api import (admin_models, answer, answer_evaluation, api_keys, conversations, docsgpt_app, embeddings,
                             evaluation, feedback, health, jobs, openapi, sources, web, workbench)
from application.api.auth import read_admin_token
from application.api.context import hand_out_owner_token
from application.api.errors import register_error_handlers
from application.api.fields import report_validation_error
from application.api.groups import attach_groups
from application.api.security_headers import add_security_headers
from application.container import DocsTune

log = logging.getLogger(__name__)


#: every blueprint of the app; each was made by (or put in) its group (``groups.py``)
BLUEPRINTS = (health.bp, answer.bp, conversations.bp, feedback.bp, feedback.admin_bp, sources.bp, web.bp, openapi.bp,
              docsgpt_app.bp, jobs.bp, admin_models.bp, evaluation.bp, api_keys.bp, embeddings.bp,
              answer_evaluation.bp, workbench.bp)


def create_app(settings=None, services: DocsTune | None = None) -> OpenAPI:
    """Build an app. ``services`` (a ``DocsTune`` container) may be shared (tests reuse one loaded model
    and index): the app then serves a view of it with its own settings, and closes only what it created."""
    from application.settings import get_settings
    from application.jobs.runtime import AppJobs

    settings = settings or get_settings()
    owns_services = services is None
    if owns_services:
        services = DocsTune(settings)
        if not settings.qdrant_url and settings.jobs_worker != "off":
            # embedded Qdrant Edge: take the folder now, so that a folder another process holds
            # stops the start with its one clear error instead of a server that is never ready.
            # (JOBS_WORKER=off leaves the folder to a separate `docstune worker` until a search needs it.)
            try:
                services.vector_store
            except BaseException:
                services.close()
                raise
    import application.db.chat  # noqa: F401  (register the chat tables)

    app = OpenAPI(
        "application",
        static_folder=None,  # the web UI serves its own files (api/web.py)
        info=openapi.info(),
        security_schemes=openapi.SECURITY_SCHEMES,
        doc_ui=False,  # the description is GET /api/openapi.json (api/openapi.py); no Swagger UI
        validation_error_status=400,
        validation_error_model=openapi.Error,
        validation_error_callback=report_validation_error,
    )
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    if settings.trusted_proxies:
        # behind N proxies the socket's address is the last proxy's: take the client's from the
        # X-Forwarded-* entries those N proxies appended (never more: a client can forge the rest)
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    app.json.sort_keys = False
    state = services if owns_services else services.for_app(settings)
    state.llm, state.template  # noqa: B018  (made now: a provider without its key stops the start)
    state.admin_token = read_admin_token(settings)
    state.app_jobs = AppJobs.attach(state)
    app.extensions["docstune"] = state

    register_error_handlers(app)
    for blueprint in BLUEPRINTS:
        if isinstance(blueprint, APIBlueprint):
            app.register_api(blueprint)
        else:
            app.register_blueprint(blueprint)
    attach_groups(app, settings)
    app.after_request(hand_out_owner_token)
    app.after_request(add_security_headers)
    if owns_services:
        atexit.register(state.close)
    return app


def close_app(app: Flask) -> None:
    """Stop the app's background tasks and close what it opened (tests, shutdown)."""
    app.extensions["docstune"].close()
