"""Fuzz: Hypothesis drives every operation that GET /api/openapi.json describes, with generated bodies (shaped
by the description, and hostile: wrong types, huge integers, Unicode digits, lone surrogates, NUL, deep nesting,
long strings, many keys, bodies that are not JSON), query strings, path parameters and headers (Content-Type
variants, Origin / Sec-Fetch-Site, the admin token right and wrong, API keys, owner tokens and cookies).

After every request:

1. no 5xx, except the documented failure of the LLM itself on ``POST /api/answer`` (it is down here: 502/503/504
   naming the stored message);
2. the status is one the description lists for the operation, and a JSON body (each SSE frame too) matches the
   schema it gives;
3. no secret of any setting (admin token, LLM keys, passwords in URLs, the LLM's address) in a response's body or
   headers, or in a log record; no server path (DATA_DIR, the repository, the temp folder, site-packages) in a
   response to a request without the admin token;
4. the rows equal what the 2xx responses acknowledged: conversations, messages, ratings and API keys change only
   as an acknowledged write says; jobs, sources, chunks and the evaluation set never change (see below);
5. ``X-Content-Type-Options: nosniff`` on every response.

The long-running routes (upload of real files, retrain, tune, evaluate, promote, rollback) are driven only with
the admin token wrong or missing, and uploads with the right token only with files that are refused (empty, or a
bad name): so no job is ever queued and the fuzz stays fast. Source deletes and job cancels with the right token
only name ids that do not exist.

Every operation gets a Hypothesis run of its own (EXAMPLES examples, more for the writes), so none is left out by
chance: an example asks a question and makes two API keys (one then revoked) where the operation can use them,
then sends STEPS drawn requests to the operation (1 in 4 to a companion write). The LLM of an example is
OpenAI-compatible or Anthropic (drawn), both at a port that refuses connections (LLM_MAX_RETRIES=0), with a
secret in every setting. Deterministic (derandomize; no shrinking: a failure names its request in full) and
bounded: about 40 s for this file alone, on SQLite and on PostgreSQL alike, of which ~12 s load the model.

It lives in tests/application/api, so CI runs it twice, on SQLite and on PostgreSQL: the two refuse different
values (NUL characters, integers past 2^63), and a 500 can hide in either. It reuses the session's container
(make_app / chat_services: no model loaded twice); the rows it leaves there are those of its own owner tokens.
"""
from __future__ import annotations

import io
import json
import logging
import math
import re
import socket
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

import application
from application.chat.owners import api_key_owner, owner_key

# secrets in every setting the app reads, each unmistakable in a response
ADMIN_TOKEN = "fuzz-admin-token-5f0c3a9e4b7d41c2a8e6"
SECRETS = {
    "ADMIN_TOKEN": ADMIN_TOKEN,
    "OPENAI_API_KEY": "sk-fuzz-openai-8c41d0e9b27a4f63",
    "ANTHROPIC_API_KEY": "sk-ant-fuzz-3e7a90c15d2b48f6",
    "EMBEDDINGS_API_KEY": "emb-fuzz-key-b5d2e8a1c74f0963",
    "QDRANT_API_KEY": "qdrant-fuzz-key-91e4c7a3d0b2",
    "llm password": "llmpass-fuzz-4a8c2e6b",
    "redis password": "redispass-fuzz-7d1f3b9e",
    "qdrant password": "qdrantpass-fuzz-2c6e0a4f",
}
LLM_USER = "fuzzuser"
OWNER_TOKENS = ("fuzz-owner-alpha-0001", "fuzz-owner-bravo-0002", "fuzz-owner-charlie-03")
BAD_OWNER_TOKENS = ("short", "has spaces in it!", "x" * 257, "t\xf6k\xe9n-latin1-123", "a;b=c,d")

# operations that start a job (a sync reads the web) or swap a model: never with the right admin token
NEVER_AUTHORIZED = {"retrain", "tune", "evaluate", "evaluateAnswers", "promoteModel", "rollbackModel",
                    "addSyncSource", "syncSource"}
# examples per operation (each: a question asked and API keys made, then STEPS fuzzed requests); the ones that
# make or act on rows get more
EXAMPLES = 3
MORE_EXAMPLES = {"stream": 16, "answer": 8, "feedback": 20, "renameConversation": 8, "deleteConversation": 8,
                 "docsgptUpdateConversationName": 8, "docsgptDeleteConversation": 8, "createApiKey": 8,
                 "revokeApiKey": 8, "docsgptDeleteAllConversations": 8, "search": 5, "createEmbeddings": 5}
STEPS = 3
# what a step may ask instead of the operation under test (1 step in 4): the writes, so that the operation
# meets rows that other writes changed
COMPANIONS = ("stream", "feedback", "renameConversation", "deleteConversation", "createApiKey", "revokeApiKey")

UNICODE_DIGITS = ["²", "³", "¹", "٣", "۴", "५", "１２", "⁰", "①", "𝟗", "߃", "1²", "٠"]
HOSTILE_STRINGS = UNICODE_DIGITS + [
    "\ud800", "a\udfffb", "\udc80\ud800", "\x00", "a\x00b", "\u202e\u2066", "\ufeff", "😀", " ", "", "\t\n",
    "-1", "+5", " 3 ", "1e3", "0x1f", "1_000", "NaN", "Infinity", "../../../../etc/passwd", "/nonexistent/x",
    "..", "%2e%2e%2f", "C:\\Windows\\win.ini", "' OR '1'='1", "<script>alert(1)</script>", "{{7*7}}", "\\",
    "null", "true", "like", "LIKE", "relevant", "active", "v0001", "v9999", "../../x",
]
HUGE_NUMBERS = [2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, -1, 0, 1,
                math.nan, math.inf, -math.inf, 1e308, -0.0, 0.5, 5e-324]


class Named:
    """A large value that a failure report shows by its name (Hypothesis prints every drawn value)."""

    def __init__(self, name: str, value):
        self.name, self.value = name, value

    def __repr__(self) -> str:
        return self.name


def deep(depth: int):
    value = None
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


HOSTILE_STRUCTURES = [Named(repr(v), v) for v in ([], {}, [None], {"": None}, [[[[[[[[[[[[]]]]]]]]]]]])] + [
    Named("{10,000 keys}", {f"k{i}": i for i in range(10_000)}), Named("[0..4999]", list(range(5_000))),
    Named("nested 300 deep", deep(300))]
LONG_STRINGS = [Named(f"'x' * {n}", "x" * n) for n in (2000, 4001, 9000, 70_000)] + [
    Named("'é' * 100000", "é" * 100_000), Named("'\\ud800' * 1000", "\ud800" * 1000)]

CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "application/json; charset=latin-1",
                 "text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
                 "multipart/form-data; boundary=fuzz", "application/problem+json", "application/JSON",
                 "x/y;;;=", None]
ORIGINS = [None, None, "http://localhost", "https://evil.example", "null", "http://localhost:9999"]
FETCH_SITES = [None, None, "same-origin", "same-site", "cross-site", "none", "nonsense"]


def raw_bodies(valid: bytes) -> list[bytes]:
    """Bodies no JSON encoder writes."""
    return [
        b"", b"{", b"}", b"[" * 5000 + b"]" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000,
        b'{"question": "hi", "history": ' + b"[" * 3000 + b"]" * 3000 + b"}",
        b"\xff\xfe\xfd", b"\xc3\x28", b'{"question": "\xed\xa0\x80"}', b'{"question": 1' + b"0" * 5000 + b"}",
        b'{"chunks": 1' + b"0" * 5000 + b"}", b"1e999999", b"NaN", b'"a string"', b"[1, 2]", b"null",
        b"\xef\xbb\xbf" + valid, valid.decode("utf-8", "surrogatepass").encode("utf-16", "surrogatepass"),
        valid + b" trailing", b'{"question": "x", "question": 5}', b"{'question': 'single quotes'}",
        b'{"question": "\\ud800", "name": "\\udfff", "comment": "a\\u0000b"}',
        b'{"question": "' + b"x" * (2 << 20) + b'"}',  # over MAX_CONTENT_LENGTH
    ]


# -- the rows ---------------------------------------------------------------------------------
ANY_NAME = object()


@dataclass
class Ledger:
    """What the database holds (a snapshot) or should hold (the snapshot plus the acknowledged writes): the rows
    of every table counted, and the rows of this example's owners and API keys in full."""

    counts: dict = field(default_factory=dict)  # table -> rows
    conversations: dict = field(default_factory=dict)  # id -> owner
    names: dict = field(default_factory=dict)  # id -> name (ANY_NAME: a new one, named by the server)
    messages: dict = field(default_factory=dict)  # id -> conversation id
    ratings: dict = field(default_factory=dict)  # (message id, voter) -> (verdict, comment, marks)
    api_keys: dict = field(default_factory=dict)  # id -> name

    def set_rating(self, key: tuple, rating: tuple | None) -> None:
        old = self.ratings.pop(key, None)
        if old is not None:
            self.counts["feedback"] -= 1
            self.counts["feedback_marks"] -= len(old[2])
        if rating is not None:
            self.ratings[key] = rating
            self.counts["feedback"] += 1
            self.counts["feedback_marks"] += len(rating[2])

    def drop_conversation(self, conversation_id: str) -> None:
        self.conversations.pop(conversation_id)
        self.names.pop(conversation_id, None)
        self.counts["conversations"] -= 1
        gone = {m for m, c in self.messages.items() if c == conversation_id}
        for message_id in gone:
            del self.messages[message_id]
            self.counts["messages"] -= 1
        for key in [k for k in self.ratings if k[0] in gone]:
            self.set_rating(key, None)


def counted_tables():
    from application.db.api_keys import ApiKey
    from application.db.chat import Conversation, Feedback, Message, SourceMark
    from application.db.evaluation import EvaluationQuestionRow, EvaluationRun
    from application.db.jobs import Job
    from application.db.models import Chunk, Source

    return (Conversation, Message, Feedback, SourceMark, ApiKey, Job, Source, Chunk, EvaluationQuestionRow,
            EvaluationRun)


def snapshot(db, owners: set[str], key_ids: list[str]) -> Ledger:
    from sqlalchemy import func, select
    from sqlalchemy.orm import selectinload

    from application.db.api_keys import ApiKey
    from application.db.chat import Conversation, Feedback, Message

    with db.session() as s:
        ledger = Ledger()
        ledger.counts = {table.__tablename__: s.scalar(select(func.count()).select_from(table))
                         for table in counted_tables()}
        for cid, owner, name in s.execute(select(Conversation.id, Conversation.owner, Conversation.name)
                                          .where(Conversation.owner.in_(owners))):
            ledger.conversations[cid] = owner
            ledger.names[cid] = name
        ledger.messages = dict(s.execute(select(Message.id, Message.conversation_id)
                                         .where(Message.conversation_id.in_(ledger.conversations))).all())
        for f in s.scalars(select(Feedback).where(Feedback.message_id.in_(ledger.messages))
                           .options(selectinload(Feedback.marks))):
            ledger.ratings[(f.message_id, f.voter)] = (f.verdict, f.comment,
                                                        frozenset((m.chunk_id, m.mark) for m in f.marks))
        ledger.api_keys = dict(s.execute(select(ApiKey.id, ApiKey.name).where(ApiKey.id.in_(key_ids))).all())
    return ledger


def stored_chunks(db) -> tuple[list[str], set[str]]:
    """The chunk ids (for source marks), and every source's id and uri (that a fuzzed delete must not name)."""
    from sqlalchemy import select

    from application.db.models import Chunk, Source

    with db.session() as s:
        return (sorted(s.scalars(select(Chunk.id))),
                {name for row in s.execute(select(Source.id, Source.uri)) for name in row})


def differences(expected: Ledger, actual: Ledger) -> list[str]:
    problems = []
    for name in ("counts", "conversations", "messages", "ratings", "api_keys"):
        want, got = getattr(expected, name), getattr(actual, name)
        if want != got:
            extra = {k: got[k] for k in list(set(got) - set(want))[:3]}
            missing = {k: want[k] for k in list(set(want) - set(got))[:3]}
            changed = {k: (want[k], got[k]) for k in set(want) & set(got) if want[k] != got[k]}
            problems.append(f"{name}: unacknowledged {extra or ''} missing {missing or ''} "
                            f"changed (acknowledged, stored) {dict(list(changed.items())[:3]) or ''}")
    for cid, name in expected.names.items():
        if name is not ANY_NAME and actual.names.get(cid, name) != name:
            problems.append(f"conversation {cid} is named {actual.names[cid]!r}, acknowledged {name!r}")
    return problems


# -- drawing requests -------------------------------------------------------------------------
@dataclass
class Request:
    operation_id: str
    method: str
    url: str
    headers: list = field(default_factory=list)
    body: bytes | None = None
    files: dict | None = None  # multipart
    json_value: object = None  # the body as sent, when it was a JSON value
    admin: bool = False  # carries the right admin token
    api_key: str | None = None  # a live API key it carries, as the server should take it

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def describe(self) -> str:
        body = self.files if self.files is not None else self.body
        shown = repr(body)[:1000] if body is not None else "no body"
        headers = [(k, v[:60]) for k, v in self.headers]
        return f"{self.method} {self.url[:300]} headers={headers} body={shown}"


class SchemaValues:
    """Values for a JSON schema of the description: shaped by it, or (``hostile``) with hostile values at
    random places; or (``minimal``) with only the required properties. ``overrides`` maps "Schema.property" or
    "property" to a strategy of meaningful values."""

    def __init__(self, data, components: dict, overrides: dict, hostile: bool, minimal: bool = False):
        self.data, self.components, self.overrides, self.hostile = data, components, overrides, hostile
        self.minimal = minimal  # only the required properties

    def draw(self, strategy):
        return self.data.draw(strategy)

    def resolve(self, schema: dict) -> tuple[dict, str | None]:
        name = None
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = self.components[name]
        return schema, name

    def hostile_value(self, depth: int):
        value = self.draw(st.one_of(
            st.sampled_from(HOSTILE_STRINGS), st.sampled_from(HUGE_NUMBERS), st.booleans(), st.none(),
            st.sampled_from(HOSTILE_STRUCTURES if depth < 2 else HOSTILE_STRUCTURES[:1]),
            st.sampled_from(LONG_STRINGS),
        ))
        return value.value if isinstance(value, Named) else value

    def value(self, schema: dict, prop: str | None = None, owner: str | None = None, depth: int = 0):
        schema, name = self.resolve(schema)
        owner = name or owner
        # Hypothesis tries the simplest choice (0) most: let it be the well-formed one everywhere
        if self.hostile and self.draw(st.integers(0, 5)) == 5:
            return self.hostile_value(depth)
        for key in (f"{owner}.{prop}", prop):
            if key in self.overrides and self.draw(st.integers(0, 3)) > 0:
                return self.draw(self.overrides[key])
        if "allOf" in schema:
            merged = {"type": "object", "properties": {}, "required": []}
            for part in [*schema["allOf"], {k: v for k, v in schema.items() if k != "allOf"}]:
                part, _ = self.resolve(part)
                merged["properties"].update(part.get("properties", {}))
                merged["required"] += part.get("required", [])
            return self.value(merged, prop, owner, depth)
        for combinator in ("oneOf", "anyOf"):
            if combinator in schema and "properties" not in schema:
                return self.value(self.draw(st.sampled_from(schema[combinator])), prop, owner, depth)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self.draw(st.sampled_from(schema["enum"]))
        kind = schema.get("type", "object" if "properties" in schema else None)
        if isinstance(kind, list):
            kind = self.draw(st.sampled_from(kind))
        if kind == "object":
            return self.object_value(schema, owner, depth)
        if kind == "array":
            items = schema.get("items", {"type": "string"})
            size = self.draw(st.integers(schema.get("minItems", 0), min(schema.get("maxItems", 3), 3)))
            return [self.value(items, prop, owner, depth + 1) for _ in range(size)]
        if kind == "string":
            if schema.get("pattern") == "^[0-9]+$":
                return str(self.draw(st.integers(0, 25)))
            low, high = schema.get("minLength", 0), min(schema.get("maxLength", 40), 40)
            return self.draw(st.text(min_size=low, max_size=max(low, high)))
        if kind == "integer":
            return self.draw(st.integers(schema.get("minimum", -5), schema.get("maximum", 100)))
        if kind == "number":
            return self.draw(st.floats(schema.get("minimum", -10), schema.get("maximum", 10)))
        if kind == "boolean":
            return self.draw(st.booleans())
        if kind == "null":
            return None
        return self.draw(st.one_of(st.text(max_size=10), st.integers(-3, 30), st.booleans(), st.none()))

    def object_value(self, schema: dict, owner: str | None, depth: int) -> dict:
        required = set(schema.get("required", []))
        for combinator in ("oneOf", "anyOf"):  # alternatives that only add required properties
            if combinator in schema:
                required |= set(self.draw(st.sampled_from(schema[combinator])).get("required", []))
        out = {}
        for prop, sub in schema.get("properties", {}).items():
            if prop in required or (not self.minimal and self.draw(st.integers(0, 2)) == 2):
                out[prop] = self.value(sub, prop, owner, depth + 1)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            key_strategy = self.overrides.get(f"{owner}.keys", st.text(min_size=1, max_size=12))
            for _ in range(self.draw(st.integers(1 if self.minimal else 0, 3))):
                out[self.draw(key_strategy)] = self.value(extra, None, owner, depth + 1)
        if self.hostile and self.draw(st.integers(0, 4)) == 4:
            out[self.draw(st.sampled_from(HOSTILE_STRINGS + ["__proto__", "constructor"]))] = \
                self.hostile_value(depth + 1)
        return out


def pick(items: list, fallback):
    """One draw of the same shape whatever ``items`` holds (Hypothesis replays an example draw for draw,
    so no draw may depend on what earlier requests created): an item of ``items`` now, else ``fallback``."""
    return st.integers(0, 255).map(lambda i: items[i % len(items)] if items else fallback)


def to_json(value) -> bytes:
    # ensure_ascii writes lone surrogates as \\ud800 escapes, which is valid JSON text that Python decodes
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode("ascii")


def encode_query(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k.encode('utf-8', 'surrogatepass'), safe='')}="
                    f"{quote(v.encode('utf-8', 'surrogatepass'), safe='')}" for k, v in pairs)


# -- the fuzzer -------------------------------------------------------------------------------
class Fuzzer:
    def __init__(self, apps: list, services, secrets: dict[str, str], server_strings: dict[str, str], caplog):
        self.db = services.db
        self.clients = [app.test_client(use_cookies=False) for app in apps]  # cookies are drawn, never carried over
        self.client = self.clients[0]
        self.secrets, self.server_strings, self.caplog = secrets, server_strings, caplog
        self.document = self.client.get("/api/openapi.json").get_json()
        self.components = self.document["components"]["schemas"]
        self.operations = [(method, path, op) for path, item in self.document["paths"].items()
                           for method, op in item.items()]
        self.companions = [o for o in self.operations if o[2]["operationId"] in COMPANIONS]
        self.serving_name = services.serving.current.embeddings.name
        self.statuses: dict[str, dict[int, int]] = {op["operationId"]: {} for _, _, op in self.operations}
        self.chunk_ids, self.source_names = stored_chunks(self.db)
        self.acknowledged: dict[str, int] = {}
        self.examples = 0
        self.start_example()

    def start_example(self) -> None:
        """Each example has owners, conversations and keys of its own, so that a replay of it (Hypothesis
        shrinking a failure) meets the same state as the run that failed."""
        self.examples += 1
        self.owner_tokens = [f"{token}-{self.examples:04d}" for token in OWNER_TOKENS]
        self.conversations: list[str] = []
        self.messages: list[str] = []
        self.live_keys: dict[str, str] = {}  # key -> id
        self.key_ids: list[str] = []
        self.revoked_keys: list[str] = []
        self.owners = {owner_key(token) for token in self.owner_tokens}  # and those the server handed out

    def snapshot(self) -> Ledger:
        return snapshot(self.db, self.owners | {api_key_owner(k) for k in self.key_ids}, self.key_ids)

    # drawing
    def draw_request(self, data, operation: tuple) -> Request:
        method, path, op = operation
        operation_id = op["operationId"]
        # half the requests are well-formed (a client that means it), so that the writes succeed and the
        # later requests act on real rows; the other half is hostile anywhere
        clean = not data.draw(st.booleans(), label="dirty")
        request = Request(operation_id, method.upper(), "")
        admin_op = any("adminToken" in r for r in op["security"])
        self.draw_auth(data, request, admin_op, clean)
        url = re.sub(r"{([^}]+)}", lambda m: self.path_value(data, op, m.group(1), request, clean), path)
        query = self.query_pairs(data, op, clean)
        request.url = url + ("?" + encode_query(query) if query else "")
        self.draw_identity(data, request, clean)
        if "requestBody" in op:
            content = op["requestBody"]["content"]
            if "multipart/form-data" in content:
                self.draw_upload(data, request)
            else:
                self.draw_json_body(data, request, content["application/json"]["schema"], admin_op, clean)
        return request

    def draw_auth(self, data, request: Request, admin_op: bool, clean: bool) -> None:
        if request.operation_id in NEVER_AUTHORIZED:
            choices = ["none", "wrong", "garbage", "api_key", "revoked_key", "embeddings"]
        elif clean:
            choices = ["admin"] if admin_op else ["none", "none", "api_key"]
        else:
            choices = ["none", "wrong", "garbage", "api_key", "revoked_key", "embeddings", "admin", "admin_variant"]
        if request.operation_id in ("createEmbeddings", "listEmbeddingModels") and clean:
            choices = ["embeddings", "admin"]
        choice = data.draw(st.sampled_from(choices), label="auth")
        value = None
        if choice in ("admin", "admin_variant"):
            value = f"Bearer {ADMIN_TOKEN}" if choice == "admin" else f"bearer   {ADMIN_TOKEN}  "
            request.admin = True
        elif choice == "wrong":
            value = data.draw(st.sampled_from([f"Bearer {ADMIN_TOKEN[:-1]}", f"Bearer {ADMIN_TOKEN}x",
                                               "Bearer wrong-token-0123456789", f"Basic {ADMIN_TOKEN}",
                                               ADMIN_TOKEN]))
        elif choice == "garbage":
            value = data.draw(st.sampled_from(["Bearer", "Bearer ", "Bearer \xe9\xff\xfe", "Bearer \x7f\x01",
                                               Named("'Bearer ' + 'a' * 5000", "Bearer " + "a" * 5000),
                                               "Bearer dtk_", "Negotiate x", " ", ""]))
            value = value.value if isinstance(value, Named) else value
        elif choice == "api_key":
            key = data.draw(pick(list(self.live_keys), None if clean else "dtk_never-created-key-0123"))
            value = f"Bearer {key}" if key else None
            if key in self.live_keys and not admin_op:  # admin routes do not read API keys
                request.api_key = key
        elif choice == "revoked_key":
            value = f"Bearer {data.draw(pick(self.revoked_keys, 'dtk_never-created-key-4567'))}"
        elif choice == "embeddings":
            value = f"Bearer {self.secrets['EMBEDDINGS_API_KEY']}"
        if value is not None:
            request.headers.append(("Authorization", value))

    def draw_identity(self, data, request: Request, clean: bool) -> None:
        # mostly the first owner, so that the well-formed requests act on conversations of their own
        tokens = [self.owner_tokens[0]] * 4 + self.owner_tokens[1:]
        token = data.draw(st.sampled_from(tokens if clean else [None, *tokens, *BAD_OWNER_TOKENS]), label="owner")
        where = data.draw(st.sampled_from(["header", "header", "cookie", "both"]))
        if token is not None:
            if where in ("header", "both"):
                request.headers.append(("X-Owner-Token", token))
            if where in ("cookie", "both"):
                other = token if where == "cookie" else data.draw(st.sampled_from(self.owner_tokens))
                request.headers.append(("Cookie", f"docstune_owner={other}"))
        for name, values, same in (("Origin", ORIGINS, "http://localhost"),
                                   ("Sec-Fetch-Site", FETCH_SITES, "same-origin")):
            value = data.draw(st.sampled_from([None, same] if clean else values))
            if value is not None:
                request.headers.append((name, value))

    def path_value(self, data, op, name: str, request: Request, clean: bool) -> str:
        param = next(p for p in op["parameters"] if p["name"] == name)
        slashes = "/" in param.get("description", "")
        known = {
            "conversation_id": self.conversations, "key_id": self.key_ids, "message_id": self.messages,
            "version": ["v0001", "v9999", "..", "active", "rollback"],
        }.get(name, [])
        strategies = [st.text(min_size=1, max_size=30), st.sampled_from(HOSTILE_STRINGS),
                      st.sampled_from([".", "..", "%", Named("'x' * 3000", "x" * 3000), "a b", "€", "%2F", "%00"])]
        known_strategy = pick(known, "unknown-id")
        value = data.draw(known_strategy if clean else st.one_of(*strategies, known_strategy), label=f"path {name}")
        value = value.value if isinstance(value, Named) else value
        if not slashes:
            value = value.replace("/", "_")  # a "/" in a plain segment would name another route
        if name == "source_id" and request.admin:
            value = "fuzz-" + value  # never a real source: deleting one would change the shared index
            assert value not in self.source_names
        value = value or "_"
        return quote(value.encode("utf-8", "surrogatepass"), safe="/" if slashes else "")

    def query_pairs(self, data, op, clean: bool) -> list[tuple[str, str]]:
        pairs = []
        for param in (p for p in op.get("parameters", []) if p["in"] == "query"):
            if not param.get("required") and data.draw(st.booleans()):
                continue
            if param["name"] == "id":
                known = pick(self.conversations, "none")
                value = data.draw(known if clean else st.one_of(known, st.sampled_from(HOSTILE_STRINGS),
                                                                st.text(max_size=20)))
            elif any(option.get("pattern") == "^[0-9]+$" for option in param["schema"].get("oneOf", [param["schema"]])):
                valid = st.integers(1, 200).map(str)
                value = data.draw(valid if clean else st.one_of(
                    st.integers(-3, 600).map(str), st.sampled_from(HOSTILE_STRINGS),
                    st.sampled_from(["9" * 30, "0" * 50 + "1", "1.5", "2e2"])))
            else:
                value = data.draw(st.one_of(st.text(max_size=20), st.sampled_from(HOSTILE_STRINGS)))
            pairs.append((param["name"], value))
        if not clean and data.draw(st.integers(0, 5)) == 5:
            pairs.append((data.draw(st.sampled_from(["limit", "latest", "id", "x", "\ud800", "a" * 300])),
                          data.draw(st.sampled_from(HOSTILE_STRINGS))))
        return pairs

    def overrides(self) -> dict:
        conversations = pick(self.conversations, "no-conversation")
        return {
            "conversation_id": conversations,
            "AnswerRequest.conversation_id": st.one_of(st.none(), conversations),
            "message_id": pick(self.messages, "no-message"),
            "question_index": st.integers(0, 3),
            "index": st.one_of(st.none(), st.none(), st.integers(0, 3)),
            "chunks": st.sampled_from([4, 2, "3", 0, 6]),
            "SearchRequest.chunks": st.sampled_from([4, 1, "2"]),
            "history": st.one_of(st.none(), st.just([{"prompt": "Refunds?", "response": "Within 30 days [1]."}]),
                                 st.just('[{"prompt": "Hi", "response": "Hello"}]')),
            "FeedbackRequest.keys": pick(self.chunk_ids, "no-chunk"),
            "api_key": st.one_of(pick(list(self.live_keys), None), pick(list(self.live_keys), None),
                                 pick(self.revoked_keys, "dtk_unknown-key-0123")),
            "question": st.sampled_from(["How long until a refund reaches my card?", "shipping to the US",
                                         "What is the office cat called?"]),
            "EmbeddingRequest.model": st.sampled_from(
                [None, "active", "v0001", "v9999", "../../x", "/etc", "/nonexistent/model", ".", "~",
                 self.serving_name, "sentence_transformers:../../x"]),
            "ApiKeyRequest.sources": st.just(None),
            "ApiKeyRequest.name": st.one_of(st.sampled_from(["docs widget", "Ünïcode näme", "ci"]),
                                            st.text(min_size=1, max_size=30)),
            "id": conversations,
        }

    def draw_json_body(self, data, request: Request, schema: dict, admin_op: bool, clean: bool) -> None:
        modes = ["minimal", "valid"] if clean else ["valid", "hostile", "hostile", "hostile", "raw", "none"]
        mode = data.draw(st.sampled_from(modes), label="body")
        values = SchemaValues(data, self.components, self.overrides(), hostile=mode == "hostile",
                              minimal=mode == "minimal")
        if mode == "none":
            body = None
        else:
            value = values.value(schema)
            if mode == "raw":
                body = data.draw(st.sampled_from([Named(repr(b[:40]) + (f" ({len(b)} bytes)" if len(b) > 40 else ""), b)
                                                  for b in raw_bodies(to_json(value))])).value
            else:
                request.json_value = value
                body = to_json(value)
        request.body = body
        if body is not None:
            content_type = data.draw(st.sampled_from(["application/json", "application/json; charset=utf-8"]
                                                     if clean else CONTENT_TYPES), label="type")
            if content_type is not None:
                request.headers.append(("Content-Type", content_type))
        if isinstance(request.json_value, dict) and request.json_value.get("api_key") not in (None, "") \
                and not admin_op:
            # a body's api_key wins over the header's (an admin route reads neither)
            key = request.json_value["api_key"]
            request.api_key = key if isinstance(key, str) and key in self.live_keys else None

    def draw_upload(self, data, request: Request) -> None:
        names = ["ok.exe", "noext", "a/b.md", "../x.md", "x\x00.md", "\u65e5\u672c\u8a9e.md", ".md", "..",
                 "notes.txt", "page.html", "CON.txt", "x" * 300 + ".md", "\ud800.md", " .md"]
        shape = data.draw(st.sampled_from(["files", "files", "no files", "json", "form"]), label="upload")
        if shape == "files":
            count = data.draw(st.integers(1, 3))
            files = []
            for _ in range(count):
                name = data.draw(st.one_of(st.sampled_from(names), st.text(max_size=12)))
                # with the right token only empty files (refused); real content would start an ingest job
                content = b"" if request.admin else data.draw(st.sampled_from([b"", b"# Hi\n\ntext", b"\x00\xff"]))
                files.append((io.BytesIO(content), name.encode("utf-8", "surrogatepass").decode("utf-8", "replace")))
            request.files = {data.draw(st.sampled_from(["file", "files"])): files}
        elif shape == "json":
            request.body = b'{"file": "x.md"}'
            request.headers.append(("Content-Type", "application/json"))
        elif shape == "form":
            request.files = {"file": "not a file", "other": "x"}

    # sending and checking
    def send(self, request: Request):
        log_start = len(self.caplog.records)
        kwargs = {"method": request.method, "headers": request.headers}
        if request.files is not None:
            kwargs["data"] = request.files
        elif request.body is not None:
            kwargs["data"] = request.body
        response = self.client.open(request.url, **kwargs)
        try:
            body = response.get_data()
        finally:
            response.close()
        logs = "\n".join(self.caplog.handler.format(r) for r in self.caplog.records[log_start:])
        return response, body, logs

    def check(self, request: Request, response, body: bytes, logs: str, op: dict) -> list[str]:
        problems = []
        status = response.status_code
        text = body.decode("utf-8", "replace")
        payload = None
        if response.mimetype == "application/json":
            try:
                payload = json.loads(body)
            except ValueError:
                problems.append("a JSON response that is not JSON")
        if status >= 500 and not self.llm_failure(request, status, payload):
            problems.append(f"{status}: {text[:300]}")
        documented = op["responses"].get(str(status))
        if documented is not None and "$ref" in documented:  # a group's error response, described once
            documented = self.document["components"]["responses"][documented["$ref"].rsplit("/", 1)[-1]]
        if documented is None:
            problems.append(f"status {status} is not in the description ({sorted(op['responses'])}): {text[:200]}")
        elif payload is not None and "application/json" in documented.get("content", {}):
            problems += self.schema_problems(documented["content"]["application/json"]["schema"], payload)
        if status == 200 and response.mimetype == "text/event-stream":
            for frame in self.frames(text, problems):
                problems += self.schema_problems({"$ref": "#/components/schemas/StreamEvent"}, frame)
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        for where, haystack in (("body", text), ("headers", headers)):
            problems += [f"the {name} in the response {where}" for name, secret in self.secrets.items()
                         if secret in haystack]
            if not request.admin:
                problems += [f"{name} ({value}) in the response {where}" for name, value in self.server_strings.items()
                             if value in haystack]
        problems += [f"the {name} in a log record" for name, secret in self.secrets.items() if secret in logs]
        if response.headers.get("X-Content-Type-Options") != "nosniff":
            problems.append("no X-Content-Type-Options: nosniff")
        return problems

    @staticmethod
    def llm_failure(request: Request, status: int, payload) -> bool:
        return (request.operation_id == "answer" and status in (502, 503, 504) and isinstance(payload, dict)
                and {"conversation_id", "message_id"} <= set(payload))

    @staticmethod
    def frames(text: str, problems: list) -> list[dict]:
        frames = []
        for block in filter(str.strip, text.split("\n\n")):
            if not block.startswith("data: "):
                problems.append(f"not an SSE frame: {block[:100]!r}")
                continue
            frames.append(json.loads(block[len("data: "):]))
        return frames

    def schema_problems(self, schema: dict, payload) -> list[str]:
        validator = Draft202012Validator({**schema, "components": self.document["components"]})
        return [f"the body does not match the description at {list(e.absolute_path)[:6]}: {e.message[:200]}"
                for e in list(validator.iter_errors(payload))[:2]]

    # the rows each acknowledged write changes
    def requester(self, request: Request, response, create: bool) -> str | None:
        if request.api_key is not None:
            return api_key_owner(self.live_keys[request.api_key])
        token = request.header("X-Owner-Token")
        if token is None:
            cookie = request.header("Cookie")
            token = cookie.split("=", 1)[1] if cookie else None
        if token:
            return owner_key(token)
        handed_out = response.headers.get("X-Owner-Token")
        return owner_key(handed_out) if create and handed_out else None

    def acknowledge(self, request: Request, response, body: bytes, expected: Ledger) -> list[str]:
        status, operation_id = response.status_code, request.operation_id
        payload = None
        if response.mimetype == "application/json":
            payload = json.loads(body)
        problems: list[str] = []
        if status < 300 or self.llm_failure(request, status, payload):
            self.acknowledged[operation_id] = self.acknowledged.get(operation_id, 0) + 1
        if operation_id in ("stream", "answer") and (status == 200 or self.llm_failure(request, status, payload)):
            if operation_id == "stream":
                frames = self.frames(body.decode("utf-8", "replace"), problems)
                ids = next((f for f in frames if f.get("message_id") and f.get("conversation_id", f.get("id"))),
                           None)
                if ids is None:
                    return [f"a 200 stream without the ids of the message it stored: {frames[:3]}"]
                conversation_id, message_id = ids.get("conversation_id") or ids["id"], ids["message_id"]
            else:
                conversation_id, message_id = payload["conversation_id"], payload["message_id"]
            owner = self.requester(request, response, create=True)
            self.owners.add(owner)
            if conversation_id not in expected.conversations:
                expected.conversations[conversation_id] = owner
                expected.names[conversation_id] = ANY_NAME
                expected.counts["conversations"] += 1
            elif expected.conversations[conversation_id] != owner:
                problems.append(f"a message added to conversation {conversation_id} of another owner")
            expected.messages[message_id] = conversation_id
            expected.counts["messages"] += 1
            self.messages.append(message_id)
            if conversation_id not in self.conversations:
                self.conversations.append(conversation_id)
        elif status >= 300:
            return problems
        elif operation_id == "feedback":
            voter = self.requester(request, response, create=False)
            rating = (payload["feedback"], payload["comment"], frozenset(payload["sources"].items()))
            expected.set_rating((payload["message_id"], voter), None if rating == (None, None, frozenset()) else rating)
        elif operation_id in ("renameConversation", "docsgptUpdateConversationName"):
            expected.names[payload["id"]] = payload["name"]
        elif operation_id in ("deleteConversation", "docsgptDeleteConversation"):
            if payload["id"] not in expected.conversations:
                return [f"deleted conversation {payload['id']}, which is not the requester's"]
            expected.drop_conversation(payload["id"])
        elif operation_id == "docsgptDeleteAllConversations":
            owner = self.requester(request, response, create=False)
            mine = [c for c, o in expected.conversations.items() if o == owner]
            if payload["deleted"] != len(mine):
                problems.append(f"deleted {payload['deleted']} conversations of {len(mine)}")
            for conversation_id in mine:
                expected.drop_conversation(conversation_id)
        elif operation_id == "createApiKey":
            expected.api_keys[payload["id"]] = payload["name"]
            expected.counts["api_keys"] += 1
            self.live_keys[payload["key"]] = payload["id"]
            self.key_ids.append(payload["id"])
        elif operation_id == "revokeApiKey":
            if expected.api_keys.pop(payload["id"], None) is not None or payload["id"] not in self.key_ids:
                expected.counts["api_keys"] -= 1
            for key, key_id in list(self.live_keys.items()):
                if key_id == payload["id"]:
                    del self.live_keys[key]
                    self.revoked_keys.append(key)
        elif operation_id == "importEvaluation":
            expected.counts["evaluation_questions"] += payload["added"]
        elif operation_id == "addReferenceAnswer":
            expected.counts["evaluation_questions"] += payload["added"]
        return problems

    def run_example(self, data, operation: tuple) -> None:
        """Ask a question and make API keys (the rows the operation acts on), then STEPS drawn requests: the
        operation's, or (1 in 4) a companion write's."""
        self.start_example()
        self.client = self.clients[data.draw(st.integers(0, len(self.clients) - 1), label="LLM")]
        expected = self.snapshot()
        for request in self.setup_requests(operation):
            expected = self.exchange(request, expected, "setup")
        for step in range(STEPS):
            chosen = operation
            if data.draw(st.integers(0, 3), label="companion") == 3:
                chosen = self.companions[data.draw(st.integers(0, len(self.companions) - 1))]
            expected = self.exchange(self.draw_request(data, chosen), expected, f"step {step}")

    def setup_requests(self, operation: tuple) -> list[Request]:
        """A conversation for the routes of owners, and two API keys (one revoked) for those that take keys.
        A search costs an embedding (the slowest part here): only a rating needs the chunks it retrieves."""
        owner = [("X-Owner-Token", self.owner_tokens[0]), ("Content-Type", "application/json")]
        admin = [("Authorization", f"Bearer {ADMIN_TOKEN}"), ("Content-Type", "application/json")]
        schemes = {name for requirement in operation[2]["security"] for name in requirement}
        requests = []
        if "ownerToken" in schemes:
            chunks = 4 if operation[2]["operationId"] == "feedback" else 0
            requests.append(Request("stream", "POST", "/stream", owner,
                                    to_json({"question": "When do refunds arrive?", "chunks": chunks})))
        if "apiKey" in schemes or "ApiKey" in operation[2]["operationId"]:
            make = Request("createApiKey", "POST", "/api/admin/api_keys", admin, to_json({"name": "fuzz key"}),
                           admin=True)
            requests += [make, make]
        return requests

    def exchange(self, request: Request, expected: Ledger, where: str) -> Ledger:
        """Send, check, and return the rows as they now are (the next request starts from them)."""
        op = next(o for _, _, o in self.operations if o["operationId"] == request.operation_id)
        response, body, logs = self.send(request)
        counts = self.statuses[request.operation_id]
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
        problems = self.check(request, response, body, logs, op)
        actual = expected
        if not problems:
            problems += self.acknowledge(request, response, body, expected)
            actual = self.snapshot()
            problems += differences(expected, actual)
        assert not problems, (f"{where}: {request.describe()}\n -> {response.status_code} {body[:300]!r}\n"
                              + "\n".join(problems))
        if request.operation_id == "createApiKey" and where == "setup" and len(self.key_ids) == 2:
            # the second key of the setup is revoked: the fuzz sends revoked keys too
            revoke = Request("revokeApiKey", "DELETE", f"/api/admin/api_keys/{self.key_ids[1]}",
                             [("Authorization", f"Bearer {ADMIN_TOKEN}")], admin=True)
            actual = self.exchange(revoke, actual, "setup")
        return actual


# -- the test -----------------------------------------------------------------------------
@pytest.fixture
def refused_port():
    """A port bound but never listening: a connection to it is refused at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


def fuzz_settings(port: int, provider: str) -> dict:
    host = f"127.0.0.1:{port}"
    return {
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "LLM_PROVIDER": provider,
        "OPENAI_API_KEY": SECRETS["OPENAI_API_KEY"],
        "OPENAI_BASE_URL": f"http://{LLM_USER}:{SECRETS['llm password']}@{host}/v1",
        "ANTHROPIC_API_KEY": SECRETS["ANTHROPIC_API_KEY"],
        "ANTHROPIC_BASE_URL": f"http://{LLM_USER}:{SECRETS['llm password']}@{host}",
        "EMBEDDINGS_API_KEY": SECRETS["EMBEDDINGS_API_KEY"],
        # read by the app's settings only (the shared container has its own connections): still never shown
        "REDIS_URL": f"redis://:{SECRETS['redis password']}@{host}/0",
        "QDRANT_URL": f"http://qdrant:{SECRETS['qdrant password']}@{host}",
        "QDRANT_API_KEY": SECRETS["QDRANT_API_KEY"],
        "LLM_MAX_RETRIES": 0,
        "LLM_TIMEOUT": 2,
        "LLM_DEADLINE": 5,
    }


def server_strings(chat_data_dir: Path, tmp_path_factory) -> dict[str, str]:
    strings = {
        "DATA_DIR": str(chat_data_dir),
        "DATA_DIR resolved": str(chat_data_dir.resolve()),
        "the repository": str(Path(application.__file__).resolve().parents[1]),
        "the test temp folder": str(tmp_path_factory.getbasetemp()),
        "the temp folder": str(Path(tempfile.gettempdir()).resolve()) + "/",
        "site-packages (the model folder)": sysconfig.get_paths()["purelib"],
        "the Python prefix": sys.prefix,
    }
    return {name: value for name, value in strings.items() if len(value) > 4}


def fuzz_operation(fuzzer: Fuzzer, operation: tuple) -> None:
    # no shrinking: the failure message names the request, and replays over a live database are slow
    @settings(derandomize=True, database=None, deadline=None, print_blob=False,
              max_examples=MORE_EXAMPLES.get(operation[2]["operationId"], EXAMPLES),
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(st.data())
    def fuzz(data):
        fuzzer.run_example(data, operation)

    fuzz()


def test_no_input_gets_a_5xx_a_secret_or_a_server_path_and_rows_follow_the_acknowledged_writes(
        make_app, chat_services, chat_data_dir, tmp_path_factory, refused_port, caplog):
    caplog.set_level(logging.INFO)
    apps = [make_app(**fuzz_settings(refused_port, provider)) for provider in ("openai_compatible", "anthropic")]
    # the LLM's address is no secret in the server's own log, but a client has no business knowing it
    private = {**server_strings(chat_data_dir, tmp_path_factory), "the LLM's address": f"127.0.0.1:{refused_port}"}
    fuzzer = Fuzzer(apps, chat_services, SECRETS, private, caplog)

    for operation in fuzzer.operations:  # every operation of the description, each its own Hypothesis run
        fuzz_operation(fuzzer, operation)
    print("statuses per operation:", json.dumps(fuzzer.statuses, sort_keys=True))  # shown with -s, or on failure
    for op in ("stream", "answer", "feedback", "createApiKey", "revokeApiKey", "renameConversation",
               "deleteConversation", "docsgptDeleteAllConversations", "search", "createEmbeddings"):
        assert fuzzer.acknowledged.get(op), f"no request to {op} was acknowledged: {fuzzer.statuses[op]}"
