"""A small IR JSON set (a few FAQ entries) and a container to evaluate answers with."""
import json

import pytest


CORPUS = {
    "refunds": "Refunds are paid within 14 days of the request, to the card that paid.",
    "shipping": "Shipping to Norway takes three working days; parcels go by post.",
    "returns": "You may return an unused item within 30 days of delivery for a full refund.",
    "warranty": "Every appliance carries a two-year warranty against manufacturing faults.",
    "support": "Support answers email from 9 to 17 on working days.",
}
QUESTIONS = {
    "q1": "How long do refunds take?",
    "q2": "How long does shipping to Norway take?",
    "q3": "How long is the warranty on appliances?",
}
RELEVANT = {"q1": ["refunds"], "q2": ["shipping"], "q3": ["warranty"]}


@pytest.fixture
def faq_set(tmp_path):
    path = tmp_path / "faq.json"
    path.write_text(json.dumps({"queries": QUESTIONS, "corpus": CORPUS, "relevant_docs": RELEVANT}))
    return path


@pytest.fixture
def make_app(make_settings):
    from application.container import DocsTune

    built = []

    def make(**overrides):
        app = DocsTune(make_settings(**overrides))
        built.append(app)
        return app

    yield make
    for app in built:
        app.close()
