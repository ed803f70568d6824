"""A client's own conversations (REST routes, plus DocsGPT's names for the same)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import MethodNotAllowed

from application.api.context import current_owner, get_services, json_body
from application.chat import conversations
from application.errors import BadRequest

bp = Blueprint("conversations", __name__)


@bp.get("/api/conversations")
def list_conversations():
    return jsonify(conversations.list_conversations(get_services().db, current_owner()))


@bp.get("/api/conversations/<conversation_id>")
def get_conversation(conversation_id: str):
    return jsonify(conversations.get_conversation(get_services().db, conversation_id, current_owner()))


@bp.patch("/api/conversations/<conversation_id>")
def rename_conversation(conversation_id: str):
    name = json_body().get("name")
    return jsonify(conversations.rename_conversation(get_services().db, conversation_id, current_owner(), name))


@bp.delete("/api/conversations/<conversation_id>")
def delete_conversation(conversation_id: str):
    return jsonify(conversations.delete_conversation(get_services().db, conversation_id, current_owner()))


# -- DocsGPT's routes ------------------------------------------------------------------
def _id_arg() -> str:
    conversation_id = request.args.get("id")
    if not conversation_id:
        raise BadRequest("Pass the conversation as ?id=<conversation id>.")
    return conversation_id


@bp.get("/api/get_conversations")
def docsgpt_get_conversations():
    rows = conversations.list_conversations(get_services().db, current_owner())
    return jsonify([{"id": r["id"], "name": r["name"]} for r in rows])


# a message's status as DocsGPT names it: its app shows the response of a "complete" one only
DOCSGPT_STATUS = {"ok": "complete", "partial": "complete", "failed": "failed", "streaming": "streaming"}


@bp.get("/api/get_single_conversation")
def docsgpt_get_single_conversation():
    conversation = conversations.get_conversation(get_services().db, _id_arg(), current_owner())
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


@bp.post("/api/delete_conversation")
def docsgpt_delete_conversation():
    return jsonify(conversations.delete_conversation(get_services().db, _id_arg(), current_owner()))


@bp.post("/api/update_conversation_name")
def docsgpt_update_conversation_name():
    body = json_body()
    return jsonify(conversations.rename_conversation(get_services().db, body.get("id"), current_owner(), body.get("name")))


@bp.post("/api/delete_all_conversations")
def docsgpt_delete_all_conversations():
    return jsonify(conversations.delete_all_conversations(get_services().db, current_owner()))


@bp.get("/api/delete_all_conversations")
def docsgpt_delete_all_conversations_by_get():
    # DocsGPT's route name, but a GET never changes anything: a link or an <img> on any other site
    # would otherwise delete a visitor's conversations with their cookie
    raise MethodNotAllowed(
        valid_methods=["POST"],
        description="Deleting every conversation needs a POST to /api/delete_all_conversations; a GET deletes nothing.",
    )
