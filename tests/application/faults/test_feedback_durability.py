"""Feedback is never lost: clients rate answers from several threads while the server is
killed (SIGKILL to gunicorn's master and worker: no shutdown code runs) and started again
on the same DATA_DIR and port. Every rating the server acknowledged (2xx) is in the
database afterwards, whole: verdict, comment and source mark of one and the same request.

Until the kill each client rates one set of its messages, from then on another set, so
the first set's final state is exactly what the killed server had acknowledged (nothing
after the restart overwrites it), and the second set's is what the restarted one did."""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.application.faults.helpers import OWNER_PREFIX, ServerProcess, ingest_docs, read_rows

CLIENTS = 6
QUESTIONS = {  # the messages each client rates before the kill, and after it
    "before": ["How long until a refund reaches my card?", "How long does shipping to the United States take?",
               "What is the office cat called?"],
    "after": ["Can gift cards be refunded?", "When is lunch served?", "How much does express shipping cost?"],
}


def expected_rating(client: int, post: int) -> tuple[str, str, str]:
    """(verdict, comment, source mark) of one post: all three tell which post it was."""
    even = post % 2 == 0
    return ("like" if even else "dislike"), f"client {client} post {post}", ("relevant" if even else "irrelevant")


class Client(threading.Thread):
    """Rates its own messages in a loop, one request at a time; a request that fails to connect
    (the server is down) or whose response is cut off counts as not acknowledged and the loop
    goes on with the next post."""

    def __init__(self, number: int, url: str, messages: dict[str, list[dict]], phase: list[str],
                 stop: threading.Event):
        super().__init__(daemon=True)
        self.number, self.url, self.messages, self.phase, self.stop = number, url, messages, phase, stop
        self.owner = {"X-Owner-Token": f"{OWNER_PREFIX}durable-{number}"}
        self.sent: dict[str, set[int]] = defaultdict(set)  # message id -> posts sent
        self.acked: dict[str, int] = {}  # message id -> the last acknowledged post
        self.acks = 0
        self.connection_errors = 0
        self.refused: list[tuple[int, str]] = []  # answered, but not 2xx

    def run(self) -> None:
        session = requests.Session()
        try:
            self._post_until_stopped(session)
        finally:
            session.close()

    def _post_until_stopped(self, session) -> None:
        post = 0
        while not self.stop.is_set():
            messages = self.messages[self.phase[0]]
            message = messages[post % len(messages)]
            verdict, comment, mark = expected_rating(self.number, post)
            body = {"message_id": message["message_id"], "feedback": verdict, "comment": comment,
                    "sources": {message["chunk_id"]: mark}}
            self.sent[message["message_id"]].add(post)
            try:
                # a long timeout: a request is never abandoned while the server may still run it
                # (one waiting in the listen backlog of a server that is starting is answered)
                response = session.post(f"{self.url}/api/feedback", json=body, headers=self.owner, timeout=120)
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                # no connection, or the kill cut the response off after its headers: either way
                # not acknowledged (the write may still have committed; the check allows that)
                self.connection_errors += 1
                time.sleep(0.05)
            else:
                if 200 <= response.status_code < 300:
                    self.acked[message["message_id"]] = post
                    self.acks += 1
                else:
                    self.refused.append((response.status_code, response.text))
            post += 1


def create_messages(url: str, client: int) -> dict[str, list[dict]]:
    owner = {"X-Owner-Token": f"{OWNER_PREFIX}durable-{client}"}
    messages = {"before": [], "after": []}
    for phase, question in ((phase, q) for phase, questions in QUESTIONS.items() for q in questions):
        response = requests.post(f"{url}/api/answer", json={"question": question, "chunks": 2}, headers=owner,
                                 timeout=60)
        assert response.status_code == 200, response.text
        answer = response.json()
        messages[phase].append({"message_id": answer["message_id"], "conversation_id": answer["conversation_id"],
                         "chunk_id": answer["sources"][0]["chunk_id"]})
    return messages


def wait_for_acks(clients: list[Client], at_least: int, phase: str, seconds: float) -> None:
    """Until ``at_least`` acknowledgements in all, and every client's ``phase`` messages each acknowledged
    once (a slow client on a loaded machine must not leave one of them unrated when the phase ends)."""
    deadline = time.monotonic() + seconds

    def done() -> bool:
        return (sum(c.acks for c in clients) >= at_least
                and all(m["message_id"] in c.acked for c in clients for m in c.messages[phase]))

    while not done() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_every_acknowledged_feedback_survives_a_killed_and_restarted_server(tmp_path):
    data_dir = tmp_path / "data"
    ingest_docs(data_dir, tmp_path / "docs")
    server = ServerProcess(data_dir, SERVE_THREADS="4").start()
    clients: list[Client] = []
    stop = threading.Event()
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            messages = list(pool.map(lambda n: create_messages(server.url, n), range(CLIENTS)))

        phase = ["before"]
        clients = [Client(n, server.url, messages[n], phase, stop) for n in range(CLIENTS)]
        for client in clients:
            client.start()
        wait_for_acks(clients, 100, "before", seconds=60)
        phase[0] = "after"  # no new post for the first set: what it holds now must survive the kill
        server.kill()  # in the middle of the posts
        acks_at_kill = sum(c.acks for c in clients)
        server.start()  # same DATA_DIR, same port; the clients retry meanwhile
        wait_for_acks(clients, acks_at_kill + 100, "after", seconds=60)
        stop.set()
        for client in clients:
            client.join(timeout=150)
            assert not client.is_alive()

        acks = sum(c.acks for c in clients)
        assert acks_at_kill >= 100 and acks >= acks_at_kill + 100, (acks_at_kill, acks)
        assert sum(c.connection_errors for c in clients) > 0  # the clients went on posting through the outage
        assert [r for c in clients for r in c.refused] == []

        # read every rating back through the API of the restarted server
        for client in clients:
            for message in client.messages["before"] + client.messages["after"]:
                conversation = requests.get(f"{server.url}/api/conversations/{message['conversation_id']}",
                                            headers=client.owner, timeout=30).json()
                rating = conversation["messages"][0]["feedback"]
                last_acked = client.acked.get(message["message_id"])
                assert last_acked is not None, (client.number, message)  # every message was rated
                assert rating is not None, (client.number, message, last_acked)
                post = int(rating["comment"].rsplit(" ", 1)[1])
                # the last acknowledged post, or one sent after it whose answer the kill swallowed
                assert post >= last_acked and post in client.sent[message["message_id"]], (post, last_acked)
                verdict, comment, mark = expected_rating(client.number, post)
                assert (rating["feedback"], rating["comment"], rating["sources"]) == (
                    verdict, comment, {message["chunk_id"]: mark})  # one request's rating, whole
    finally:
        stop.set()
        server.stop()

    database = data_dir / "docstune.db"
    if database.exists():  # SQLite (PostgreSQL runs keep the database on the server)
        assert read_rows(database, "PRAGMA integrity_check") == [("ok",)]
        assert read_rows(database, "PRAGMA journal_mode") == [("wal",)]
        from application.db import Database

        db = Database(f"sqlite:///{database}")
        try:
            with db.engine.connect() as connection:
                # FULL: a commit is on disk before it is acknowledged, even if the machine (not only
                # the process) goes down; WAL's NORMAL could lose the last commits on a power cut
                assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        finally:
            db.dispose()
