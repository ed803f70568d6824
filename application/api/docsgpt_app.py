"""The routes DocsGPT's React app (arc53/DocsGPT ``frontend/``) calls at start-up and while chatting that
DocsTune has no use of its own for, each answered in the smallest shape the app reads:

* ``GET /api/config``: how the app identifies its user. From this server's own origin the owner cookie does
  (no login); from a page of another site no cookie crosses, so the app asks once for a token — a DocsTune
  API key — and sends it as ``Authorization: Bearer`` on every request.
* ``GET /api/models``: the one LLM this server answers with.
* ``GET /api/get_prompts``, ``GET /api/get_single_prompt``: the one prompt (the file ``PROMPT_FILE``); the
  app's prompt writes are a 404 that says so (a 4xx: nothing is wrong with the server).
* ``GET /api/task_status``'s Celery-style states, read from the job row (:func:`task_view`), so it works
  from any process.
* ``GET /api/messages/<id>/tail``: a message's state, which the app polls when it reopens a conversation
  whose last answer is still being written.

What each route reads in DocsGPT's code is in docs/api.md ("DocsGPT compatibility").
"""
from __future__ import annotations

from typing import Literal

from flask import jsonify
from pydantic import BaseModel, RootModel
from sqlalchemy.orm import selectinload

from application.api.context import current_owner, docstune
from application.api.conversations import docsgpt_query
from application.api.crosssite import is_cross_site
from application.api.fields import ID_CHARS, Parameters, Text
from application.api.groups import PUBLIC_CHAT
from application.db import transactions
from application.chat.conversations import message_dict
from application.db.chat import Feedback, Message
from application.errors import NotFound
from application.request_values import quoted

# public chat: the app calls them from another site's page too (CORS), with a key or an owner
bp = PUBLIC_CHAT.blueprint("docsgpt_app", __name__, tag="chat")

# Celery's state names, which DocsGPT's clients already understand
PENDING, PROGRESS, SUCCESS, FAILURE = "PENDING", "PROGRESS", "SUCCESS", "FAILURE"
_CELERY_STATES = {"queued": PENDING, "running": PROGRESS, "done": SUCCESS, "failed": FAILURE, "cancelled": FAILURE}


def task_view(job: dict) -> dict:
    """A job row as DocsGPT's ``task_status`` answer (plus the job's own fields)."""
    return {
        "task_id": job["id"],
        "job_id": job["id"],
        "kind": job["kind"],
        "status": _CELERY_STATES[job["status"]],
        "job_status": job["status"],
        "progress": {k: job["progress"][k] for k in ("done", "total", "percent")},
        "result": job["result"],
        "error": job["error"],
        "created_at": job["created_at"],
        "finished_at": job["finished_at"],
    }

#: the id and name of DocsTune's one prompt, as the app lists and sends it back (``prompt_id``)
PROMPT_ID = "default"
#: the fields of a message that DocsGPT's ``/tail`` answers with (application/api/user/conversations/routes.py)
TAIL_FIELDS = ("message_id", "status", "response", "thought", "sources", "tool_calls", "request_id",
               "last_heartbeat_at")


PromptId = Text(64)
MessageId = Text(ID_CHARS, strip=False)


class PromptQuery(Parameters):
    id: PromptId


class MessagePath(BaseModel):
    message_id: MessageId


class AppConfig(BaseModel):
    auth_type: Literal["simple_jwt"] | None
    requires_auth: bool
    graphrag_available: Literal[False]
    hybrid_available: Literal[False]


class LLMModel(BaseModel):
    id: str
    provider: str
    display_name: str
    description: str | None = None
    supported_attachment_types: list = []
    context_window: None = None


class LLMModels(BaseModel):
    models: list[LLMModel]
    default_model_id: str
    count: Literal[1]


class PromptItem(BaseModel):
    id: Literal["default"]
    name: Literal["default"]
    type: Literal["public"]


PromptList = RootModel[list[PromptItem]]


class PromptText(BaseModel):
    """Its ``[system]`` and ``[user]`` sections."""

    content: str


class MessageTail(BaseModel):
    """As in ``queries`` of ``/api/get_single_conversation``, with ``error``."""

    message_id: str
    status: Literal["complete", "failed", "streaming"]
    response: str
    error: str | None
    sources: list = []


@bp.get("/api/config", operation_id="docsgptConfig", responses={200: AppConfig})
def config():
    """DocsGPT's app: how it identifies its user"""
    # DocsGPT's useTokenAuth.ts: auth_type null → no login; "simple_jwt" → a token box, then Bearer <token>.
    # A page of another site sends no cookie, so without a key each request would be a new, empty owner.
    needs_key = is_cross_site()
    response = jsonify({"auth_type": "simple_jwt" if needs_key else None, "requires_auth": needs_key,
                        "graphrag_available": False, "hybrid_available": False})
    response.vary.update(("Origin", "Sec-Fetch-Site"))
    return response


@bp.get("/api/models", operation_id="docsgptModels", responses={200: LLMModels})
def models():
    """DocsGPT's app: the one LLM this server answers with"""
    state = docstune()
    name = state.llm.name
    provider = state.settings.llm_provider_resolved
    description = ("Not a language model: quotes the sentences of the sources closest to the question."
                   if provider == "extractive" else "The LLM this server answers with (LLM_PROVIDER).")
    model = {"id": name, "provider": provider, "display_name": name, "description": description,
             "supported_attachment_types": [], "supports_tools": False, "supports_structured_output": False,
             "supports_streaming": True, "context_window": None, "enabled": True, "source": "builtin"}
    return jsonify({"models": [model], "default_model_id": name, "count": 1})


@bp.get("/api/get_prompts", operation_id="docsgptGetPrompts", responses={200: PromptList})
def get_prompts():
    """DocsGPT's app: the prompts (DocsTune has one)"""
    return jsonify([{"id": PROMPT_ID, "name": PROMPT_ID, "type": "public"}])


@bp.get("/api/get_single_prompt", operation_id="docsgptGetSinglePrompt", responses={200: PromptText})
def get_single_prompt(query: PromptQuery):
    """DocsGPT's app: the prompt's text (the file PROMPT_FILE)"""
    if query.id != PROMPT_ID:
        raise NotFound(f"No prompt {quoted(query.id)}; DocsTune has one, {PROMPT_ID!r} (GET /api/get_prompts).")
    template = docstune().template
    # the template's text as its file holds it (never its path: that is a folder of the server)
    return jsonify({"content": f"[system]\n{template.system}\n\n[user]\n{template.user}\n"})


def prompts_are_a_file():
    """DocsGPT's app: change a prompt; DocsTune's one prompt is a file

    Always 404 (after the cross-site check): the prompt is the file `PROMPT_FILE` on the server.
    """
    raise NotFound(
        "DocsTune has one prompt, the file PROMPT_FILE on the server; it cannot be created, changed or deleted "
        "through the API. An admin edits a copy of application/prompts/answer.txt and points PROMPT_FILE at it."
    )


for _route, _operation in (("/api/create_prompt", "docsgptCreatePrompt"), ("/api/update_prompt", "docsgptUpdatePrompt"),
                           ("/api/delete_prompt", "docsgptDeletePrompt")):
    bp.post(_route, operation_id=_operation)(prompts_are_a_file)


@bp.get("/api/messages/<message_id>/tail", operation_id="docsgptMessageTail", responses={200: MessageTail})
def message_tail(path: MessagePath):
    """DocsGPT's app: the state of a message of yours

    The app polls it when it reopens a conversation whose last answer is being written. A message a retry
    replaced reads as missing.
    """
    message = owned_message(docstune().db, path.message_id, current_owner())
    query = docsgpt_query(message)
    return jsonify({**{field: query[field] for field in TAIL_FIELDS}, "error": message["error"]})


def owned_message(db, message_id: str, owner: str | None) -> dict:
    """One message of ``owner``'s conversations, as ``message_dict``; someone else's, or one that a retry
    replaced (it left its conversation), is reported as missing."""
    def load(session):
        message = session.get(Message, message_id, options=[
            selectinload(Message.retrieved), selectinload(Message.feedback).selectinload(Feedback.marks)])
        if message is None or owner is None or message.position < 0 or message.conversation.owner != owner:
            raise NotFound(f"No message {quoted(message_id)} of yours.")
        return message_dict(message, owner)

    return transactions.read(db, load)

