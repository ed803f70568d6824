"""A client's own conversations (REST routes, plus DocsGPT's names for the same)."""
from __future__ import annotations

from typing import Any, Literal

from flask import jsonify
from pydantic import BaseModel, RootModel
from werkzeug.exceptions import MethodNotAllowed

from application.api.context import current_owner, docstune
from application.api.fields import ID_CHARS, Parameters, Text
from application.api.groups import PUBLIC_CHAT, error_responses
from application.chat import conversations
from application.chat.conversations import MAX_NAME_CHARS

bp = PUBLIC_CHAT.blueprint("conversations", __name__, tag="conversations")


# -- requests -----------------------------------------------------------------------------------
Id = Text(ID_CHARS, strip=False)
Name = Text(MAX_NAME_CHARS, collapse_spaces=True)


class ConversationPath(BaseModel):
    conversation_id: Id


class ConversationQuery(Parameters):
    """DocsGPT names the conversation in the query string."""

    id: Id


class RenameRequest(BaseModel):
    name: Name


class DocsGPTRenameRequest(RenameRequest):
    id: Id


# -- responses ----------------------------------------------------------------------------------
class ConversationSummary(BaseModel):
    id: str
    name: str
    created_at: str | None = None
    updated_at: str | None = None
    message_count: int | None = None


class StoredSource(BaseModel):
    """A chunk retrieved for a message: ``shown`` with the answer, ``cited`` by it."""

    chunk_id: str
    n: int | None = None
    rank: int
    score: float | None = None
    dense_score: float | None = None
    lexical_score: float | None = None
    title: str | None = None
    source: str | None = None
    link: str | None = None
    page: int | None = None
    headings: list[str] = []
    location: str | None = None
    text: str | None = None
    shown: bool | None = None
    cited: bool | None = None


class MessageRating(BaseModel):
    feedback: Literal["like", "dislike"] | None = None
    sources: dict[str, Any] = {}
    comment: str | None = None
    updated_at: str | None = None


class Message(BaseModel):
    id: str
    position: int | None = None
    question: str
    answer: str
    status: Literal["streaming", "ok", "partial", "failed"]
    error: str | None = None
    llm: str | None = None
    model_fingerprint: str | None = None
    retrieval: dict | None = None
    created_at: str | None = None
    completed_at: str | None = None
    sources: list[StoredSource] = []
    feedback: MessageRating | None = None


class Conversation(ConversationSummary):
    messages: list[Message]


ConversationList = RootModel[list[ConversationSummary]]


class DocsGPTConversationItem(BaseModel):
    id: str
    name: str


DocsGPTConversationList = RootModel[list[DocsGPTConversationItem]]


class DocsGPTMessage(BaseModel):
    """One message in the shape of DocsGPT's ``queries`` items."""

    prompt: str
    response: str
    message_id: str
    status: str
    sources: list = []
    timestamp: str | None = None
    feedback: Literal["like", "dislike"] | None = None
    metadata: dict | None = None


class DocsGPTConversation(BaseModel):
    queries: list[DocsGPTMessage]


class Renamed(BaseModel):
    id: str
    name: str


class Deleted(BaseModel):
    """Deleted, with its messages and ratings."""

    id: str
    deleted: Literal[True]


class DeletedCount(BaseModel):
    """How many were deleted (0 without an owner)."""

    deleted: int


# -- REST routes ----------------------------------------------------------------------------------
@bp.get("/api/conversations", operation_id="listConversations", responses={200: ConversationList})
def list_conversations():
    """Your conversations, newest first"""
    return jsonify(conversations.list_conversations(docstune().db, current_owner()))


@bp.get("/api/conversations/<conversation_id>", operation_id="getConversation", responses={200: Conversation})
def get_conversation(path: ConversationPath):
    """One conversation with its messages"""
    return jsonify(conversations.get_conversation(docstune().db, path.conversation_id, current_owner()))


@bp.patch("/api/conversations/<conversation_id>", operation_id="renameConversation", responses={200: Renamed})
def rename_conversation(path: ConversationPath, body: RenameRequest):
    """Rename a conversation"""
    return jsonify(conversations.rename_conversation(docstune().db, path.conversation_id, current_owner(),
                                                     body.name))


@bp.delete("/api/conversations/<conversation_id>", operation_id="deleteConversation", responses={200: Deleted})
def delete_conversation(path: ConversationPath):
    """Delete a conversation"""
    return jsonify(conversations.delete_conversation(docstune().db, path.conversation_id, current_owner()))


# -- DocsGPT's routes ------------------------------------------------------------------
@bp.get("/api/get_conversations", operation_id="docsgptGetConversations",
        responses={200: DocsGPTConversationList})
def docsgpt_get_conversations():
    """DocsGPT: your conversations"""
    rows = conversations.list_conversations(docstune().db, current_owner())
    return jsonify([{"id": r["id"], "name": r["name"]} for r in rows])


# a message's status as DocsGPT names it: its app shows the response of a "complete" one only
DOCSGPT_STATUS = {"ok": "complete", "partial": "complete", "failed": "failed", "streaming": "streaming"}


@bp.get("/api/get_single_conversation", operation_id="docsgptGetSingleConversation",
        responses={200: DocsGPTConversation})
def docsgpt_get_single_conversation(query: ConversationQuery):
    """DocsGPT: one conversation's messages"""
    conversation = conversations.get_conversation(docstune().db, query.id, current_owner())
    return jsonify({"queries": [docsgpt_query(m) for m in conversation["messages"]],
                    "agent_id": None, "is_shared_usage": False, "shared_token": None})


def docsgpt_query(message: dict) -> dict:
    """One message in the shape of DocsGPT's ``queries`` items (application/api/user/conversations)."""
    query = {
        "prompt": message["question"], "response": message["answer"], "thought": None,
        "sources": [s for s in message["sources"] if s["shown"]],  # what the client was shown
        "tool_calls": [], "timestamp": message["created_at"], "model_id": message["llm"],
        "message_id": message["id"], "status": DOCSGPT_STATUS.get(message["status"], message["status"]),
        "request_id": None, "last_heartbeat_at": None, "workflow_run_id": None,
    }
    if message["error"]:
        query["metadata"] = {"error": message["error"]}
    if message["feedback"] and message["feedback"]["feedback"]:
        query["feedback"] = message["feedback"]["feedback"]
        query["feedback_timestamp"] = message["feedback"]["updated_at"]
    return query


@bp.post("/api/delete_conversation", operation_id="docsgptDeleteConversation", responses={200: Deleted})
def docsgpt_delete_conversation(query: ConversationQuery):
    """DocsGPT: delete a conversation"""
    return jsonify(conversations.delete_conversation(docstune().db, query.id, current_owner()))


@bp.post("/api/update_conversation_name", operation_id="docsgptUpdateConversationName", responses={200: Renamed})
def docsgpt_update_conversation_name(body: DocsGPTRenameRequest):
    """DocsGPT: rename a conversation"""
    return jsonify(conversations.rename_conversation(docstune().db, body.id, current_owner(), body.name))


@bp.post("/api/delete_all_conversations", operation_id="docsgptDeleteAllConversations",
         responses={200: DeletedCount})
def docsgpt_delete_all_conversations():
    """DocsGPT: delete all your conversations"""
    return jsonify(conversations.delete_all_conversations(docstune().db, current_owner()))


@bp.get("/api/delete_all_conversations", operation_id="docsgptDeleteAllConversationsByGet",
        responses=error_responses(405))
def docsgpt_delete_all_conversations_by_get():
    """DocsGPT's route name; a GET deletes nothing

    Always 405: a link or an image on another site must not delete anything. Use POST.
    """
    # DocsGPT's route name, but a GET never changes anything: a link or an <img> on any other site
    # would otherwise delete a visitor's conversations with their cookie
    raise MethodNotAllowed(
        valid_methods=["POST"],
        description="Deleting every conversation needs a POST to /api/delete_all_conversations; a GET deletes nothing.",
    )
