"""Small, realistic data made by the tests themselves: a help centre of a note-taking app."""
from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# chunk id -> (text, two questions it answers)
HELP_CENTRE = {
    "billing-1": (
        "Nimbus Notes Pro costs 8 dollars per month or 80 dollars per year. The yearly plan is billed once, "
        "on the day you upgrade. Prices include VAT for customers in the European Union.",
        ["How much does the Pro plan cost?", "Is VAT included in the yearly price?"],
    ),
    "billing-2": (
        "You can get a refund within 14 days of a payment. Open Settings, then Billing, and press Request refund. "
        "The money is returned to the card you paid with in three to five business days.",
        ["Can I get my money back after paying?", "How long does a refund take to arrive?"],
    ),
    "account-1": (
        "To reset a forgotten password, press Forgot password on the sign-in page and enter your e-mail address. "
        "The reset link expires after one hour. Links from older e-mails stop working once a new one is sent.",
        ["I forgot my password, what do I do?", "How long is the password reset link valid?"],
    ),
    "account-2": (
        "Two-factor authentication adds a six digit code from an authenticator app to every sign-in. "
        "Turn it on under Settings, Security. Keep the ten recovery codes somewhere safe in case you lose your phone.",
        ["How do I enable two-factor authentication?", "What if I lose the phone with my authenticator app?"],
    ),
    "sync-1": (
        "Notes sync between devices every thirty seconds while the app is open. A note edited on two devices "
        "at once keeps both versions, and the older one is saved as a conflict copy.",
        ["How often do notes synchronise?", "What happens when I edit the same note on two devices?"],
    ),
    "sync-2": (
        "Offline mode keeps every notebook on the device so you can read and edit without a connection. "
        "Changes are uploaded the next time the device is online. Offline mode is available on the Pro plan only.",
        ["Can I use the app without internet?", "Which plan do I need for offline notebooks?"],
    ),
    "export-1": (
        "Export a notebook as Markdown, PDF or HTML from the notebook menu. Attachments are put in a folder "
        "next to the exported file. Exports of more than one gigabyte are sent by e-mail as a download link.",
        ["Which formats can I export notes to?", "What happens with very large exports?"],
    ),
    "export-2": (
        "Importing from Evernote reads ENEX files, keeps tags and creation dates, and turns each Evernote "
        "notebook into a Nimbus notebook. Encrypted Evernote notes cannot be imported and are skipped.",
        ["Can I move my notes over from Evernote?", "Are encrypted Evernote notes imported?"],
    ),
    "share-1": (
        "Share a note with a public link from the Share button. Anyone with the link can read the note but not "
        "edit it. You can revoke the link at any time, after which it shows a not found page.",
        ["How do I share a note with someone who has no account?", "Can I disable a shared link later?"],
    ),
    "share-2": (
        "Shared notebooks let a team edit together. The owner invites members by e-mail and chooses whether each "
        "member can edit or only comment. Up to 50 members can join one shared notebook.",
        ["How many people can collaborate on a notebook?", "Can I give someone comment-only access?"],
    ),
    "storage-1": (
        "Free accounts have 2 gigabytes of storage and Pro accounts have 100 gigabytes. A single attachment "
        "may be at most 200 megabytes. Deleted notes stay in the trash for 30 days and count towards storage.",
        ["How much storage does a free account get?", "What is the largest file I can attach?"],
    ),
    "storage-2": (
        "Notes in the trash are removed for good after 30 days. To restore a note, open Trash and press Restore; "
        "the note returns to its original notebook, or to Inbox if that notebook was deleted.",
        ["How do I recover a deleted note?", "When are notes in the trash permanently deleted?"],
    ),
    "search-1": (
        "Search looks in note titles, text, tags and the text inside images and PDF attachments. Put words in "
        "quotes to find an exact phrase, and use tag:work to search one tag only.",
        ["Does search find text inside PDFs?", "How do I search for an exact phrase?"],
    ),
    "api-1": (
        "The REST API needs a personal access token, created under Settings, Developer. Tokens can be read only "
        "or read and write. Requests are limited to 600 per hour per token.",
        ["How do I get an API token?", "What is the API rate limit?"],
    ),
    "privacy-1": (
        "Notes are encrypted at rest with AES-256 and in transit with TLS. Nimbus staff cannot read your notes "
        "unless you give support access for a ticket, which ends automatically after seven days.",
        ["Are my notes encrypted?", "Can support staff read my notes?"],
    ),
    "mobile-1": (
        "The Android and iOS apps support widgets for a quick note and for today's checklist. Voice notes are "
        "transcribed on the device and the recording is attached to the note.",
        ["Is there a home screen widget on mobile?", "Are voice notes transcribed?"],
    ),
}


def chunk_texts() -> dict[str, str]:
    return {cid: text for cid, (text, _) in HELP_CENTRE.items()}


def make_ir() -> dict:
    queries, relevant = {}, {}
    for cid, (_, questions) in HELP_CENTRE.items():
        for i, q in enumerate(questions):
            queries[f"{cid}-q{i}"] = q
            relevant[f"{cid}-q{i}"] = [cid]
    return {"queries": queries, "corpus": chunk_texts(), "relevant_docs": relevant}


def retrieved(*ids, cited=()):
    texts = chunk_texts()
    return [
        {"chunk_id": cid, "text": texts[cid], "rank": i + 1, "score": 0.9 - i / 10, "cited": cid in cited}
        for i, cid in enumerate(ids)
    ]


def make_feedback_records() -> list[dict]:
    """One rated message per question: likes cite the right chunk; every third is a dislike with marks."""
    ids = list(HELP_CENTRE)
    records = []
    n = 0
    for i, (cid, (_, questions)) in enumerate(HELP_CENTRE.items()):
        for j, question in enumerate(questions):
            wrong = [ids[(i + 3) % len(ids)], ids[(i + 7) % len(ids)]]
            n += 1
            record = {
                "message_id": f"m{n}",
                "question": question,
                "voter": f"user{n % 5}",
                "voted_at": f"2025-01-{1 + n % 28:02d}T10:00:00+00:00",
                "comment": None,
                "model_fingerprint": "all-minilm-l6-v2-000000000000",
            }
            if n % 3 == 0:
                record.update(verdict="dislike", retrieved=retrieved(wrong[0], cid, wrong[1]),
                              sources={cid: "relevant", wrong[0]: "irrelevant"})
            else:
                record.update(verdict="like", retrieved=retrieved(cid, *wrong, cited=(cid,)), sources={})
            records.append(record)
    return records


def write_jsonl(path, records) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


@pytest.fixture
def feedback_file(tmp_path):
    return write_jsonl(tmp_path / "feedback.jsonl", make_feedback_records())


@pytest.fixture
def ir_file(tmp_path):
    path = tmp_path / "help_ir.json"
    path.write_text(json.dumps(make_ir()), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="session")
def base_model_path():
    from plugins.sentence_transformers_backend import bundled_model_path

    return bundled_model_path()


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A fresh DATA_DIR for the CLI, with settings re-read."""
    from application.settings import get_settings

    data = tmp_path / "data"
    monkeypatch.setenv("DATA_DIR", str(data))
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("EMBEDDINGS_NAME", raising=False)
    get_settings.cache_clear()
    yield data
    get_settings.cache_clear()


#: what configures an LLM: each test of the synthetic questions starts with none of it
LLM_VARIABLES = ("LLM_PROVIDER", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL", "OPENAI_BASE_URL",
                 "OPENAI_API_KEY", "OPENAI_MODEL", "SYNTH_MODEL", "SYNTH_BATCH_SIZE", "SYNTH_CONCURRENCY",
                 "LLM_MAX_RETRIES", "LLM_PRICES", "PROMPT_FILE")


@pytest.fixture
def environment(tmp_path, monkeypatch):
    """A fresh DATA_DIR and no LLM configured; ``configure(**variables)`` sets some (settings re-read)."""
    from application.settings import get_settings

    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    for name in LLM_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def configure(**variables):
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    configure()
    yield configure
    get_settings.cache_clear()
