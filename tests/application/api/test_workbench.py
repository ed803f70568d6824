"""The retrieval workbench (``POST /api/admin/workbench``): pipelines side by side over a really ingested
corpus, with each leg's rank and score, the heading path, what raters said, and every refusal."""
from __future__ import annotations

import shutil

import pytest

from tests.conftest import write_docs

TOKEN = "workbench-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
OWNER = {"X-Owner-Token": "someone-who-rates-answers"}
# "shipping" twice in the shipping chunk (BM25 counts it), "refund" once in the refund chunk, while the
# model finds the refund policy closest to the question: the lexical leg and the dense leg disagree on top
DISAGREEING = "shipping refund"


@pytest.fixture
def bench(make_settings, tmp_path):
    """A container on its own data folder (its own registry) with the three test documents, and a client."""
    from application import create_app
    from application.api import close_app
    from application.container import DocsTune

    services = DocsTune(make_settings(ADMIN_TOKEN=TOKEN, RATE_LIMIT_ENABLED=False, LLM_PROVIDER="extractive",
                                      JOBS_WORKER="off"))
    report = services.documents.ingest_paths([write_docs(tmp_path / "docs")])
    assert report.ok
    app = create_app(services.settings, services=services)
    yield app.test_client(), services
    close_app(app)
    services.close()


def compare(client, question=DISAGREEING, pipelines=({},), k=10, headers=ADMIN):
    return client.post("/api/admin/workbench", headers=headers,
                       json={"question": question, "k": k, "pipelines": list(pipelines)})


def ranked(result) -> list[str]:
    return [hit["text"].split()[0] for hit in result["hits"]]


def register_copy_of_the_bundled_model(services):
    """A registry version whose weights are the bundled model's: another fingerprint, no collection."""
    from plugins.sentence_transformers_backend import bundled_model_path
    from training.registry import ModelRegistry

    return ModelRegistry(services.settings.models_dir).register(bundled_model_path(), base_model="all-MiniLM-L6-v2")


def test_two_weights_rank_the_same_chunks_differently_and_show_each_legs_rank_and_score(bench):
    client, _ = bench
    response = compare(client, pipelines=[{"label": "lexical-heavy", "weight": 0.1}, {"weight": 0.9}])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["question"] == DISAGREEING
    low, high = body["pipelines"]
    assert low["label"] == "lexical-heavy" and high["label"] == "serving · hybrid:convex-minmax:0.9"
    assert (low["description"]["weight"], low["description"]["weight_source"]) == (0.1, "request")
    # the weight decides which leg's favourite comes first
    assert ranked(low)[0] == "Shipping" and ranked(high)[0] == "Customers"
    shipping = low["hits"][0]
    assert shipping["lexical_rank"] == 1 and shipping["dense_rank"] > 1
    assert shipping["lexical_score"] > 0 and shipping["dense_score"] is not None
    # the same chunk, the same leg scores, another fused score and rank under the other weight
    again = next(hit for hit in high["hits"] if hit["chunk_id"] == shipping["chunk_id"])
    assert (again["dense_score"], again["lexical_score"]) == (shipping["dense_score"], shipping["lexical_score"])
    assert again["rank"] > 1 and again["score"] != shipping["score"]
    assert [hit["rank"] for hit in high["hits"]] == list(range(1, len(high["hits"]) + 1))
    # what a hit shows: the document's title, its file name (never the server's folder), the heading path
    exceptions = next(hit for hit in high["hits"] if hit["text"].startswith("Exceptions"))
    assert (exceptions["title"], exceptions["source"], exceptions["headings"]) == (
        "Refund policy", "refunds.md", ["Exceptions"])
    assert exceptions["rated"] == {"likes": 0, "dislikes": 0, "relevant": 0, "irrelevant": 0}


def test_single_leg_modes_rank_by_their_leg_alone_and_still_show_the_other_legs_rank(bench):
    client, _ = bench
    dense, lexical = compare(client, pipelines=[{"mode": "dense"}, {"mode": "lexical"}]).get_json()["pipelines"]
    assert [hit["dense_rank"] for hit in dense["hits"]] == list(range(1, len(dense["hits"]) + 1))
    assert all(hit["score"] == hit["dense_score"] for hit in dense["hits"])
    assert [hit["lexical_rank"] for hit in lexical["hits"]] == list(range(1, len(lexical["hits"]) + 1))
    assert all(hit["score"] == hit["lexical_score"] for hit in lexical["hits"])
    # the office chunk shares no word with the question: the lexical leg never returns it
    office = next(hit for hit in dense["hits"] if hit["title"] == "Office life")
    assert office["lexical_rank"] is None and office["lexical_score"] is None
    assert "Office life" not in {hit["title"] for hit in lexical["hits"]}
    assert ranked(dense)[0] == "Customers" and ranked(lexical)[0] == "Shipping"


def test_a_pipeline_left_as_it_is_is_the_serving_pipeline_and_finds_what_a_search_finds(bench):
    client, services = bench
    result = compare(client, k=3).get_json()["pipelines"][0]
    serving = services.serving.info()
    assert result["description"]["serving"] is True and result["description"]["version"] is None
    assert result["description"]["pipeline"] == serving["retrieval"]["running"]
    assert result["description"]["weight_source"] == serving["retrieval"]["weight_source"] == "default"
    assert result["description"]["dense_leg"] == f"the serving collection {serving['collection']}"
    searched = client.post("/api/search", headers=OWNER, json={"question": DISAGREEING, "chunks": 3}).get_json()
    assert [(h["chunk_id"], h["score"]) for h in result["hits"]] == [(h["chunk_id"], h["score"]) for h in searched]
    assert compare(client, pipelines=[{"version": "serving"}], k=3).get_json()["pipelines"][0]["hits"] == result["hits"]


def test_a_registry_version_without_a_collection_is_encoded_in_memory_once_and_ranks_as_a_collection_would(bench):
    client, services = bench
    version = register_copy_of_the_bundled_model(services)
    pipelines = [{"mode": "dense"}, {"mode": "dense", "version": version.version}]
    first = compare(client, pipelines=pipelines)
    assert first.status_code == 200, first.get_json()
    serving, candidate = first.get_json()["pipelines"]
    chunks = len(candidate["hits"])
    assert candidate["description"]["serving"] is False and candidate["description"]["version"] == version.version
    assert candidate["description"]["fingerprint"] == version.fingerprint != serving["description"]["fingerprint"]
    assert candidate["description"]["encoded_now"] == chunks == 4
    assert candidate["description"]["weight_source"] == "default"  # no weight was fitted for the copy
    # the same weights: the in-memory cosine ranks and scores exactly as the vector store does
    assert [h["chunk_id"] for h in candidate["hits"]] == [h["chunk_id"] for h in serving["hits"]]
    for mine, theirs in zip(candidate["hits"], serving["hits"]):
        assert mine["dense_score"] == pytest.approx(theirs["dense_score"], abs=1e-5)
        assert mine["lexical_rank"] == theirs["lexical_rank"]  # the lexical leg is the serving collection's
    # cached: a second question encodes nothing; a new document is encoded alone
    again = compare(client, question="Who is Miso?", pipelines=pipelines[1:]).get_json()["pipelines"][0]
    assert again["description"]["encoded_now"] == 0 and again["hits"][0]["title"] == "Office life"
    services.documents.ingest_paths([write_docs(services.settings.data_dir / "more", {
        "parking.md": "# Parking\n\nStaff park their bikes in the basement garage next to the lift.\n"})])
    after = compare(client, question="where do I leave my bicycle", pipelines=pipelines[1:]).get_json()["pipelines"][0]
    assert after["description"]["encoded_now"] == 1 and after["hits"][0]["title"] == "Parking"
    # "active" with no version promoted, and the serving version's own name: the live collection
    assert compare(client, pipelines=[{"version": "active"}]).get_json()["pipelines"][0]["description"]["serving"]


def test_a_version_is_not_encoded_in_a_request_above_the_cap_nor_without_its_checkpoint(bench):
    from application.errors import Conflict
    from application.retrieval.workbench import compare as compare_pipelines

    client, services = bench
    version = register_copy_of_the_bundled_model(services)
    with pytest.raises(Conflict, match="4 chunks are stored; a version without a collection is compared on at most 3"):
        compare_pipelines(services, DISAGREEING, [{"version": version.version}], k=3, max_chunks=3)
    shutil.rmtree(version.model_path)
    response = compare(client, pipelines=[{}, {"version": version.version}])
    assert response.status_code == 409
    assert "checkpoint of v0001 is missing" in response.get_json()["error"]


def test_rated_counts_what_raters_said_about_the_answers_a_chunk_was_in(bench):
    client, _ = bench
    answer = client.post("/api/answer", headers=OWNER, json={"question": "How long do refunds take?",
                                                              "chunks": 2}).get_json()
    first, second = (source["chunk_id"] for source in answer["sources"])
    rated = client.post("/api/feedback", headers=OWNER, json={
        "message_id": answer["message_id"], "feedback": "like", "sources": {first: "relevant", second: "irrelevant"}})
    assert rated.status_code == 200, rated.get_json()
    other = client.post("/api/answer", headers={"X-Owner-Token": "another-rater"},
                        json={"question": "How long do refunds take?", "chunks": 1}).get_json()
    assert other["sources"][0]["chunk_id"] == first
    client.post("/api/feedback", headers={"X-Owner-Token": "another-rater"},
                json={"message_id": other["message_id"], "feedback": "dislike"})
    hits = {hit["chunk_id"]: hit["rated"] for hit in compare(client, question="refund").get_json()["pipelines"][0]["hits"]}
    assert hits[first] == {"likes": 1, "dislikes": 1, "relevant": 1, "irrelevant": 0}
    assert hits[second] == {"likes": 1, "dislikes": 0, "relevant": 0, "irrelevant": 1}
    assert all(rated == {"likes": 0, "dislikes": 0, "relevant": 0, "irrelevant": 0}
               for chunk_id, rated in hits.items() if chunk_id not in (first, second))


@pytest.mark.parametrize(("body", "status", "says"), [
    ({"question": "refund", "pipelines": []}, 400, "'pipelines' List should have at least 1 item"),
    ({"question": "refund", "pipelines": [{}, {}, {}, {}]}, 400, "'pipelines' List should have at most 3 items"),
    ({"question": "refund", "k": 51, "pipelines": [{}]}, 400, "'k' must be a whole number from 1 to 50"),
    ({"question": "   ", "pipelines": [{}]}, 400, "'question' is missing or empty"),
    ({"question": "refund", "pipelines": [{"weight": 1.5}]}, 400, "'pipelines[0].weight'"),
    ({"question": "refund", "pipelines": [{"mode": "semantic"}]}, 400, "'pipelines[0].mode' must be"),
    ({"question": "refund", "pipelines": [{"model": "v2"}]}, 400, "'pipelines[0].model' Extra inputs"),
    ({"question": "refund", "pipelines": [{"version": "v7"}]}, 404, "no model version 'v7' in the registry"),
    ({"question": "refund", "pipelines": [{"version": "../../etc"}]}, 404, "is not a version name"),
])
def test_bad_input_is_refused_with_a_json_error(bench, body, status, says):
    client, _ = bench
    response = client.post("/api/admin/workbench", headers=ADMIN, json=body)
    assert response.status_code == status, response.get_json()
    assert says in response.get_json()["error"]


def test_only_the_admin_may_compare(bench):
    client, _ = bench
    response = compare(client, headers=OWNER)
    assert response.status_code == 401 and "error" in response.get_json()


def test_while_the_lexical_vectors_are_incomplete_the_serving_pipeline_is_dense_and_a_lexical_one_is_a_409(
    make_settings, tmp_path
):
    from application import create_app
    from application.api import close_app
    from application.container import DocsTune

    built = DocsTune(make_settings(JOBS_WORKER="off"))
    built.documents.ingest_paths([write_docs(tmp_path / "docs")])
    built.close()
    # another tokenizer: the collection's lexical vectors are not its own until a re-index (not started here)
    services = DocsTune(make_settings(JOBS_WORKER="off", LEXICAL_TOKENIZER="bm25-en-nostem", ADMIN_TOKEN=TOKEN,
                                      RATE_LIMIT_ENABLED=False, LLM_PROVIDER="extractive"))
    app = create_app(services.settings, services=services)
    try:
        client = app.test_client()
        result = compare(client, pipelines=[{}]).get_json()["pipelines"][0]
        assert result["description"]["pipeline"] == "dense" and result["description"]["lexical_leg"] is None
        assert "the dense leg alone while the lexical vectors are incomplete" in result["description"]["weight_detail"]
        assert result["hits"] and all(hit["lexical_rank"] is None for hit in result["hits"])
        refused = compare(client, pipelines=[{"mode": "lexical"}])
        assert refused.status_code == 409 and "no complete lexical vectors yet" in refused.get_json()["error"]
    finally:
        close_app(app)
        services.close()
