"""An error that quotes what the client sent shows it as sent: redacting a secret *inside the echo* would answer
a right guess differently from a wrong one (``No prompt '***'``), an oracle for the admin token, the keys and
the server's folders. The server's own words are still redacted."""
from __future__ import annotations

from tests.application.api.conftest import ADMIN_TOKEN


def same_answer(right, wrong, secret: str, guess: str) -> bool:
    """Whether the two answers differ only by the echoed input (a guess of the same length)."""
    assert len(secret) == len(guess)
    return (right.status_code, right.get_data(as_text=True).replace(secret, guess)) == \
        (wrong.status_code, wrong.get_data(as_text=True))


def test_a_right_guess_of_the_admin_token_is_answered_like_a_wrong_one(client):
    guess = "g" * len(ADMIN_TOKEN)

    right = client.get("/api/get_single_prompt", query_string={"id": ADMIN_TOKEN})
    wrong = client.get("/api/get_single_prompt", query_string={"id": guess})

    assert wrong.status_code == 404 and guess in wrong.get_json()["error"]
    assert same_answer(right, wrong, ADMIN_TOKEN, guess), (right.get_json(), wrong.get_json())


def test_a_message_id_equal_to_the_data_dir_is_answered_like_any_other(client, chat_data_dir):
    secret = str(chat_data_dir)
    guess = "/" + "g" * (len(secret) - 1)

    right = client.post("/api/feedback", json={"message_id": secret, "feedback": "like"})
    wrong = client.post("/api/feedback", json={"message_id": guess, "feedback": "like"})

    assert wrong.status_code in (400, 404) and guess in wrong.get_json()["error"]
    assert same_answer(right, wrong, secret, guess), (right.get_json(), wrong.get_json())


def test_the_servers_own_words_are_still_redacted_around_an_echo():
    from flask import Flask

    from application.api.errors import redacted_around_echoes
    from application.errors import echoed
    from application.redaction import Redactor

    redactor = Redactor.build(keys={"ADMIN_TOKEN": ADMIN_TOKEN}, paths={"DATA_DIR": "/srv/data"})
    with Flask(__name__).test_request_context():
        message = f"No file {echoed(repr('/srv/data'))} in /srv/data (key {ADMIN_TOKEN})"
        shown = redacted_around_echoes(message, redactor.hide_addresses)

    assert shown == "No file '/srv/data' in <DATA_DIR> (key ***)"
