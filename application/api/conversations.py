"""A client's own conversations (REST routes, plus DocsGPT's names for the same)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

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


@bp.get("/api/get_single_conversation")
def docsgpt_get_single_conversation():
    conversation = conversations.get_conversation(get_services().db, _id_arg(), current_owner())
    return jsonify([
        {"prompt": m["question"], "response": m["answer"], "sources": m["sources"],
         "feedback": (m["feedback"] or {}).get("feedback"), "message_id": m["id"]}
        for m in conversation["messages"]
    ])


@bp.post("/api/delete_conversation")
def docsgpt_delete_conversation():
    return jsonify(conversations.delete_conversation(get_services().db, _id_arg(), current_owner()))


@bp.post("/api/update_conversation_name")
def docsgpt_update_conversation_name():
    body = json_body()
    return jsonify(conversations.rename_conversation(get_services().db, body.get("id"), current_owner(), body.get("name")))


@bp.get("/api/delete_all_conversations")
def docsgpt_delete_all_conversations():
    return jsonify(conversations.delete_all_conversations(get_services().db, current_owner()))
