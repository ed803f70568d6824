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
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from application.api import (admin_models, answer, api_keys, conversations, embeddings, evaluation, feedback, health,
                             jobs, sources, web)
from application.api.auth import read_admin_token
from application.api.context import ChatState, hand_out_owner_token, rate_limit_key
from application.api.crosssite import add_cors, check_cross_site_write
from application.api.docsgpt_app import bp as docsgpt_app_bp
from application.api.errors import register_error_handlers
from application.api.openapi import bp as openapi_bp
from application.api.security_headers import add_security_headers

log = logging.getLogger(__name__)


def create_app(settings=None, services=None) -> Flask:
    """Build an app. ``services`` may be shared (tests reuse one loaded model and index);
    an app closes only the Services it created itself."""
    from application.llm import PromptTemplate, create_llm
    from application.settings import get_settings
    from application.jobs.runtime import AppJobs

    settings = settings or get_settings()
    owns_services = services is None
    if owns_services:
        from application.services import Services

        services = Services(settings)
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

    app = Flask("application", static_folder=None)  # the web UI serves its own files (api/web.py)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    if settings.trusted_proxies:
        # behind N proxies the socket's address is the last proxy's: take the client's from the
        # X-Forwarded-* entries those N proxies appended (never more: a client can forge the rest)
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    app.json.sort_keys = False
    state = ChatState(
        settings=settings,
        services=services,
        llm=create_llm(settings, lambda: services.index.embeddings),
        template=PromptTemplate.load(settings.prompt_file),
        tasks=AppJobs.attach(services),
        admin_token=read_admin_token(settings),
        owns_services=owns_services,
    )
    app.extensions["docstune"] = state

    register_error_handlers(app)
    add_cors(app, settings)
    app.before_request(lambda: check_cross_site_write(settings))
    _add_rate_limits(app, settings)
    for blueprint in (health.bp, answer.bp, conversations.bp, feedback.bp, sources.bp, web.bp,
                      openapi_bp,
                      docsgpt_app_bp,
                      jobs.bp, admin_models.bp, evaluation.bp, api_keys.bp, embeddings.bp):
        app.register_blueprint(blueprint)
    app.after_request(hand_out_owner_token)
    app.after_request(add_security_headers)
    if owns_services:
        atexit.register(state.close)
    return app


def _add_rate_limits(app: Flask, settings) -> Limiter:
    limiter = Limiter(
        rate_limit_key,
        app=app,
        default_limits=[settings.rate_limit_default],
        storage_uri=settings.rate_limit_storage_uri,
        enabled=settings.rate_limit_enabled,
        headers_enabled=True,
        swallow_errors=True,
    )
    # one budget per area: /stream, /api/answer and /api/search all cost an embedding (and an LLM call)
    limiter.shared_limit(lambda: settings.rate_limit_answer, scope="answer")(answer.bp)
    limiter.shared_limit(lambda: settings.rate_limit_feedback, scope="feedback")(feedback.bp)
    # admin routes share one budget; health checks must never be refused
    admin_limit = limiter.shared_limit(lambda: settings.rate_limit_admin, scope="admin")
    # a wrong admin token or API key (a 401) spends a far smaller budget of the client's address, checked
    # before every request, so that guessing is slow; it adds to each area's own limits
    failures_limit = limiter.shared_limit(
        lambda: settings.rate_limit_admin_failures, scope="admin-failures", key_func=get_remote_address,
        deduct_when=lambda response: response.status_code == 401 and _sent_a_credential(),
        override_defaults=False,
        error_message=lambda: f"{settings.rate_limit_admin_failures} failed admin tokens or API keys per address",
    )
    for area in (sources.bp, jobs.bp, admin_models.bp, evaluation.bp, api_keys.bp):
        admin_limit(area)
    for area in (answer.bp, conversations.bp, feedback.bp, embeddings.bp, sources.bp, jobs.bp, admin_models.bp,
                 evaluation.bp, api_keys.bp, docsgpt_app_bp):
        failures_limit(area)
    limiter.exempt(health.bp)
    app.extensions["docstune_limiter"] = limiter
    return limiter


def _sent_a_credential() -> bool:
    """Whether the request offered a token or key: a 401 without one (the DocsGPT app asking for the admin's
    GET /api/sources on every load) guesses nothing and spends nothing of the failures budget."""
    from flask import request

    from application.api.context import offered_api_key

    return bool(request.headers.get("Authorization")) or offered_api_key() is not None


def close_app(app: Flask) -> None:
    """Stop the app's background tasks and close what it opened (tests, shutdown)."""
    app.extensions["docstune"].close()
