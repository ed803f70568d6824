"""Who may call a route: every blueprint is made by one group, and what the group says attaches to each of
its routes — the OpenAPI security scheme and error responses, CORS, rate limits, the cross-site write rule,
the admin check, the JSON-body rule and ``Cache-Control: no-store``.

* ``PUBLIC_CHAT``: anyone, as the owner of a token, a cookie or an API key (DocsGPT's routes). CORS for
  ``CORS_ALLOWED_ORIGINS``; the cross-site write rule; a route may spend a shared budget (``limit="answer"``).
* ``ADMIN``: ``Authorization: Bearer <ADMIN_TOKEN>`` on every route; one shared budget (RATE_LIMIT_ADMIN).
* ``EMBEDDINGS``: ``/v1``, its own key (checked by the routes, which answer in OpenAI's error shape).
* ``ANYONE``: health, this description, the web UI; never rate limited, except that a token offered (the
  admin's ``/ready``) spends and obeys the failed-credential budget.

Every credentialed group spends the failed-credential budget (RATE_LIMIT_ADMIN_FAILURES) on a 401. Example::

    from application.api.groups import PUBLIC_CHAT
    bp = PUBLIC_CHAT.blueprint("feedback", __name__, tag="chat", limit="feedback")

    @bp.post("/api/feedback", operation_id="feedback", responses={200: Rating})
    def feedback(body: FeedbackRequest): ...
"""
from __future__ import annotations

import inspect
import re
import typing
from functools import lru_cache
from dataclasses import dataclass

from flask import Flask, current_app, request
from flask_openapi3 import APIBlueprint, Tag

from application.api.crosssite import ALLOWED_HEADERS, UNSAFE_METHODS, check_cross_site_write
from application.chat.owners import OWNER_HEADER

ERROR_REASONS = {
    400: "Bad input (the message says what is wrong); nothing was stored.",
    401: "A token or key is missing or wrong.",
    403: "A write from another site's page without an API key (or with only the owner cookie).",
    404: "Not found (someone else's conversation or message looks exactly like a missing one).",
    405: "This method does not change anything here; use the one the message names.",
    409: "Conflicts with a job in progress.",
    413: "The request is too large (MAX_CONTENT_LENGTH, UPLOAD_MAX_BYTES).",
    415: "The body is not `application/json`.",
    429: "Too many requests; wait and try again (`Retry-After`).",
    503: "A part the route needs is unavailable (database, job queue, vector store, model; admin routes "
         "without an admin token); nothing was stored.",
}


def error_responses(*codes: int, schema: str = "Error") -> dict:
    """OpenAPI responses for ``codes``, each ``{"error": ...}`` (``schema``: its component's name)."""
    return {str(code): {"description": ERROR_REASONS[code],
                        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}
            for code in codes}


@dataclass(frozen=True)
class Group:
    name: str
    #: OpenAPI security requirements ({} first: the credential is optional)
    security: tuple
    #: the error statuses every route of the group may answer, and the schema of their bodies
    errors: tuple[int, ...]
    error_schema: str = "Error"
    #: a 401 with a credential spends the failed-credential budget; answers are private (no-store)
    credentialed: bool = True
    cross_site_rule: bool = False
    cors: bool = False
    admin_only: bool = False
    #: the setting of the budget every route of the group shares (None: RATE_LIMIT_DEFAULT)
    shared_limit: str | None = None
    rate_limited: bool = True

    def blueprint(self, name: str, import_name: str, *, tag: str, limit: str | None = None) -> APIBlueprint:
        """A blueprint of this group; ``limit`` names a budget its routes share (``"answer"``: RATE_LIMIT_ANSWER)."""
        bp = APIBlueprint(name, import_name, abp_tags=[Tag(name=tag)], abp_security=list(self.security),
                          abp_responses=error_responses(*self.errors, schema=self.error_schema))
        return self.adopt(bp, limit=limit)

    def adopt(self, bp, *, limit: str | None = None):
        """Put a plain Flask blueprint (one without typed routes yet) in this group."""
        bp.group, bp.limit_scope = self, limit
        return bp


PUBLIC_CHAT = Group("public chat", security=({}, {"ownerToken": []}, {"ownerCookie": []}, {"apiKey": []}),
                    errors=(400, 401, 403, 404, 413, 415, 429, 503), cross_site_rule=True, cors=True)
ADMIN = Group("admin", security=({"adminToken": []},), errors=(400, 401, 403, 413, 415, 429, 503),
              cross_site_rule=True, admin_only=True, shared_limit="admin")
EMBEDDINGS = Group("embeddings", security=({"embeddingsKey": []},), errors=(400, 401, 403, 404, 413, 415, 429, 503),
                   error_schema="OpenAIError")
ANYONE = Group("anyone", security=(), errors=(400,), credentialed=False, rate_limited=False)


def describe(bp: APIBlueprint, *models) -> None:
    """Put ``models`` in the description's components: a schema that a route names by hand (an SSE frame)."""
    from flask_openapi3.models import Schema
    from flask_openapi3.utils import normalize_name

    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
        for name, definition in schema.pop("$defs", {}).items():
            bp.components_schemas[name] = Schema(**definition)
        bp.components_schemas[normalize_name(model.__name__)] = Schema(**schema)


def group_of(bp) -> Group | None:
    return getattr(bp, "group", None)


# -- what a group attaches to an app ---------------------------------------------------------------
def attach_groups(app: Flask, settings) -> None:
    """Hook every registered blueprint's group into ``app`` (per app: the blueprints are shared by many)."""
    for name, bp in app.blueprints.items():
        group = group_of(bp)
        if group is None:
            continue
        typed = isinstance(bp, APIBlueprint)  # a plain one (not converted yet) reads its body itself
        app.before_request_funcs.setdefault(name, []).append(
            lambda group=group, typed=typed: _before(group, settings, typed))
        if group.credentialed:
            app.after_request_funcs.setdefault(name, []).append(_private)
        if group.cors and settings.cors_origins:
            app.after_request_funcs.setdefault(name, []).append(_vary_on_origin)
    _add_cors(app, settings)
    _add_rate_limits(app, settings)


def _before(group: Group, settings, typed: bool) -> None:
    from application.api.context import check_admin, json_body
    from application.api.fields import body_optional

    if group.cross_site_rule:
        check_cross_site_write(settings)
    if group.admin_only:
        check_admin()
    if typed and request.method in UNSAFE_METHODS:
        view = current_app.view_functions.get(request.endpoint)
        takes = _parameters(view) if view else {}
        form_upload = "form" in takes and request.mimetype == "multipart/form-data"
        # a write without a body model takes nothing, but a form or text/plain is what a page of another
        # site can send without asking: refused (415) as a body model's route refuses it
        sent = request.get_data(cache=True)
        if ("body" in takes and (sent or not body_optional(_body_model(view)))) or (
                sent and not request.is_json and not form_upload):
            json_body()  # 415 unless JSON; 400 unless a JSON object


@lru_cache(maxsize=1024)
def _parameters(view) -> dict:
    """A view's parameters by name (``body``, ``form``, ...), read once per view."""
    return dict(inspect.signature(getattr(view, "__wrapped__", view)).parameters)


@lru_cache(maxsize=1024)
def _body_model(view):
    """The model of a view's ``body`` parameter (its annotation is a string under postponed annotations)."""
    return typing.get_type_hints(getattr(view, "__wrapped__", view)).get("body")


def _private(response):
    # owner-, key- and admin-specific answers: no shared cache (a proxy, the browser's disk) keeps them
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _vary_on_origin(response):
    # what CORS answers depends on Origin, even with one origin listed (where flask-cors leaves it out)
    response.vary.add("Origin")
    return response


def _rule_pattern(rule: str) -> str:
    """A Flask rule as the regular expression flask-cors matches paths with."""
    return "^" + re.sub(r"<(?:path:)?[^>]+>", lambda m: ".+" if m.group(0).startswith("<path:") else "[^/]+",
                        re.escape(rule).replace(r"\<", "<").replace(r"\>", ">")) + "$"


def _add_cors(app: Flask, settings) -> None:
    """CORS on the routes of the groups that allow it, for ``CORS_ALLOWED_ORIGINS`` (none: no CORS at all)."""
    origins = list(settings.cors_origins)
    if not origins:
        return
    from flask_cors import CORS

    options = {"origins": "*" if "*" in origins else origins}
    resources = {_rule_pattern(rule.rule): options for rule in app.url_map.iter_rules()
                 if (group := group_of(app.blueprints.get(rule.endpoint.rpartition(".")[0]))) and group.cors}
    CORS(
        app,
        resources=resources,
        supports_credentials=False,  # never the cookie: another site's page identifies itself by an API key
        allow_headers=list(ALLOWED_HEADERS),
        expose_headers=[OWNER_HEADER, "Retry-After", "X-RateLimit-Remaining"],
        methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        max_age=600,
        vary_header=True,
    )


def _add_rate_limits(app: Flask, settings):
    from flask_limiter import ExemptionScope, Limiter
    from flask_limiter.util import get_remote_address

    from application.api.context import rate_limit_key

    limiter = Limiter(
        rate_limit_key,
        app=app,
        default_limits=[settings.rate_limit_default],
        storage_uri=settings.rate_limit_storage_uri,
        enabled=settings.rate_limit_enabled,
        headers_enabled=True,
        swallow_errors=True,
    )
    budgets = {}

    def budget(scope: str):
        # one budget per scope, however many blueprints spend it: /stream, /api/answer and /api/search all
        # cost an embedding (and an LLM call)
        if scope not in budgets:
            budgets[scope] = limiter.shared_limit(lambda: getattr(settings, f"rate_limit_{scope}"), scope=scope)
        return budgets[scope]

    # a wrong admin token or API key (a 401) spends a far smaller budget of the client's address, checked
    # before every request, so that guessing is slow; it adds to each area's own limits
    failures = dict(
        limit_value=lambda: settings.rate_limit_admin_failures, scope="admin-failures", key_func=get_remote_address,
        deduct_when=lambda response: response.status_code == 401 and _sent_a_credential(),
        override_defaults=False,
        error_message=lambda: f"{settings.rate_limit_admin_failures} failed admin tokens or API keys per address",
    )
    failures_limit = limiter.shared_limit(**failures)
    # the routes that are never limited still spend and obey it when a token is offered (the admin's /ready):
    # guessing there is as slow as anywhere, and a load balancer without a token is never refused
    failures_limit_if_offered = limiter.shared_limit(**failures, exempt_when=lambda: not _sent_a_credential())
    for bp in app.blueprints.values():
        group = group_of(bp)
        if group is None:
            continue
        if not group.rate_limited:
            limiter.exempt(bp, flags=ExemptionScope.DEFAULT | ExemptionScope.APPLICATION)
            failures_limit_if_offered(bp)
            continue
        for scope in filter(None, (group.shared_limit, bp.limit_scope)):
            budget(scope)(bp)
        if group.credentialed:
            failures_limit(bp)
    app.extensions["docstune_limiter"] = limiter
    return limiter


def _sent_a_credential() -> bool:
    """Whether the request offered a token or key: a 401 without one (the DocsGPT app asking for the admin's
    GET /api/sources on every load) guesses nothing and spends nothing of the failures budget."""
    from application.api.context import offered_api_key

    return bool(request.headers.get("Authorization")) or offered_api_key() is not None
