"""The redaction helper: passwords and keys never survive it; hosts and server folders survive it only
at the level meant for the log and the admin; a document is shown by its name, never its folder."""
from __future__ import annotations

import pytest

from application.redaction import Redactor, redact_url, shown_uri

TEXT = ("Error 111 connecting to 10.0.0.5:6379 (redis://:pw@10.0.0.5:6379/0). Cannot reach Qdrant at "
        "http://qdrant.internal:6333: name qdrant.internal not known; key abcdefgh-key; file /srv/data/jobs.db")


@pytest.fixture
def redactor():
    return Redactor.build(urls={"REDIS_URL": "redis://:pw@10.0.0.5:6379/0", "QDRANT_URL": "http://qdrant.internal:6333"},
                          keys={"QDRANT_API_KEY": "abcdefgh-key"}, paths={"DATA_DIR": "/srv/data"})


def test_redact_url_hides_the_password_and_keeps_the_rest():
    assert redact_url("redis://:secret@host:6379/0") == "redis://:***@host:6379/0"
    assert redact_url("http://user:p%40ss@llm:8080/v1") == "http://user:***@llm:8080/v1"
    assert redact_url("http://llm:8080/v1") == "http://llm:8080/v1"


def test_for_the_log_and_the_admin_passwords_and_keys_go_and_addresses_stay(redactor):
    shown = redactor.hide_secrets(TEXT)

    assert "redis://:***@10.0.0.5:6379/0" in shown and ":pw@" not in shown
    assert "abcdefgh-key" not in shown and "key ***" in shown
    assert "http://qdrant.internal:6333" in shown and "/srv/data/jobs.db" in shown
    # a key too short to look for would match ordinary words: it is left alone
    assert Redactor.build(keys={"SHORT": "k"}).hide_secrets("a kind key") == "a kind key"


def test_for_anyone_else_no_address_is_left_either(redactor):
    shown = redactor.hide_addresses(TEXT)

    assert shown == ("Error 111 connecting to <REDIS_URL> (<REDIS_URL>). Cannot reach Qdrant at <QDRANT_URL>: name "
                     "<QDRANT_URL> not known; key ***; file <DATA_DIR>/jobs.db")


def test_a_url_is_found_however_a_message_writes_it():
    redactor = Redactor.build(urls={"OPENAI_BASE_URL": "http://user:SECRETPW@llm-box:8080/v1/"})
    for written in ("http://user:SECRETPW@llm-box:8080/v1/chat/completions", "http://user:***@llm-box:8080/v1",
                    "http://llm-box:8080", "llm-box:8080", "SECRETPW"):
        shown = redactor.hide_addresses(f"failed: {written}.")
        assert "SECRETPW" not in shown and "llm-box" not in shown, shown


def test_the_settings_secrets_are_all_known(make_settings):
    settings = make_settings(OPENAI_BASE_URL="http://u:pw-openai-1@a:1/v1", OPENAI_API_KEY="sk-openai-123",
                             ANTHROPIC_API_KEY="sk-ant-123456", QDRANT_URL="http://q:6333", QDRANT_API_KEY="qdrant-123",
                             REDIS_URL="redis://:redis-pw-1@r:6379/0", EMBEDDINGS_API_KEY="emb-key-123")
    redactor = Redactor.of(settings, admin_token="admin-token-123")
    text = " ".join(["pw-openai-1", "sk-openai-123", "sk-ant-123456", "qdrant-123", "redis-pw-1", "emb-key-123",
                     "admin-token-123", str(settings.data_dir.resolve() / "jobs.db")])

    assert redactor.hide_secrets(text).split()[:7] == ["***"] * 7
    assert redactor.hide_addresses(text).split()[-1] == "<DATA_DIR>/jobs.db"


@pytest.mark.parametrize(("uri", "shown"), [
    ("/srv/docs/policies/refunds.md", "refunds.md"),
    ("file:///srv/docs/refunds.md", "refunds.md"),
    ("upload://notes.md", "upload://notes.md"),
    ("https://user:pw@docs.example.com/a/b?x=1", "https://docs.example.com/a/b?x=1"),
    ("docs/refunds.md", "docs/refunds.md"),
    ("", ""),
])
def test_a_document_is_shown_by_its_name_not_its_folder(uri, shown):
    assert shown_uri(uri) == shown


def test_every_encoding_of_a_secret_we_send_is_hidden():
    # an upstream's error page may quote our request back: its Authorization header, the URL as sent
    import base64

    redactor = Redactor.build(urls={"OPENAI_BASE_URL": "http://user:p%40ss-w0rd@llm:8080/v1"},
                              keys={"OPENAI_API_KEY": "sk-key/with+odd=chars"})
    basic = base64.b64encode(b"user:p@ss-w0rd").decode()
    text = (f"headers: Authorization: Basic {basic}; token {basic}; password p@ss-w0rd, p%40ss-w0rd; "
            f"Authorization: Bearer sk-key/with+odd=chars; ?key=sk-key%2Fwith%2Bodd%3Dchars")

    for shown in (redactor.hide_secrets(text), redactor.hide_addresses(text)):
        for secret in (basic, "p@ss-w0rd", "p%40ss-w0rd", "sk-key/with+odd=chars", "sk-key%2Fwith%2Bodd%3Dchars"):
            assert secret not in shown, shown
        assert "Authorization: ***" in shown and "Bearer ***" in shown


def test_the_basic_auth_of_a_short_password_is_hidden_too():
    import base64

    basic = "Basic " + base64.b64encode(b"u:pw").decode()
    shown = Redactor.build(urls={"OPENAI_BASE_URL": "http://u:pw@llm/v1"}).hide_addresses(f"sent {basic}")

    assert shown == "sent ***"
