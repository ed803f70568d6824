"""The service's fusion weight before any rating: fitted on the corpus's own pseudo-queries after an
ingest (a ``label_free`` job), replaced by a weight fitted on ratings, beaten by FUSION_WEIGHT."""
from tests.conftest import write_docs
from tests.training.test_label_free import coded_tickets

TOKEN = "label-free-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def as_files(chunks: dict[str, str]) -> dict[str, str]:
    return {f"{cid}.txt": text for cid, text in chunks.items()}  # one short file is one chunk


def ingest_job(services, folder) -> dict:
    job = services.jobs.submit("ingest", {"paths": [str(folder)]})
    assert job["status"] == "done", job
    return job


def label_free_jobs(services) -> list[dict]:
    return services.jobs.store.list(kind="label_free")


def test_an_ingest_of_enough_chunks_fits_the_label_free_weight_and_it_serves(make_services, tmp_path):
    from application import create_app
    from application.api import close_app

    services = make_services(JOBS_WORKER="immediate", ADMIN_TOKEN=TOKEN, RATE_LIMIT_ENABLED=False,
                             FUSION_LABEL_FREE="true")
    ingested = ingest_job(services, write_docs(tmp_path / "tickets", as_files(coded_tickets(104))))

    (job,) = label_free_jobs(services)
    assert ingested["result"]["label_free_job"] == job["id"] and job["status"] == "done", job
    result = job["result"]
    assert result["stored"] and result["questions"] == 104 and result["chunks"] == 104
    assert result["with_neighbours"] == 0  # one chunk a file: no chunk has a neighbour
    assert result["weight"] < 0.5  # the tickets are found by their codes: the lexical leg's share grows
    app = create_app(services.settings, services=services)
    try:
        retrieval = app.test_client().get("/api/admin/models", headers=ADMIN).get_json()["serving"]["retrieval"]
    finally:
        close_app(app)
    assert retrieval["weight_source"] == "label-free" and retrieval["weight"] == result["weight"]
    assert retrieval["weight_detail"] == "label-free: 104 corpus pseudo-queries"
    assert retrieval["fitted"]["kind"] == "label-free" and retrieval["running"].endswith(f":{result['weight']:g}")
    assert services.serving.retrieve("qv7k49 ticket", k=1).fusion.weight == result["weight"]

    # a few more chunks (within 10 %): the weight stays; a weight fitted on ratings replaces it for good
    ingest_job(services, write_docs(tmp_path / "more", {"extra.txt": "Ticket qv900k1 says the fax is jammed. "
                                                                     "The qv900k1 ticket was logged by the desk."}))
    assert len(label_free_jobs(services)) == 1
    rated = {"weight": 0.95, "method": "convex", "normalise": "minmax", "mode": "hybrid",
             "origin": "docstune tune (job 1234abcd): fitted on 30 held-out rated questions",
             "fitted_at": "2026-01-01T00:00:00+00:00"}
    services.serving.set_tuned_fusion(services.serving.current.collection, rated)
    fusion, origin = services.serving.serving_fusion(services.serving.current)
    assert (fusion.weight, origin["source"]) == (0.95, "fitted")
    ingest_job(services, write_docs(tmp_path / "many more", as_files(coded_tickets(150, start=200))))
    assert len(label_free_jobs(services)) == 1  # nothing refits over ratings
    assert services.serving.serving_fusion(services.serving.current)[0].weight == 0.95


def test_the_chunks_next_to_a_pseudo_querys_own_in_its_document_count_relevant(make_services, tmp_path):
    tickets = list(coded_tickets(1200).values())
    files = {f"batch{n:02d}.txt": "\n\n".join(tickets[n * 24:(n + 1) * 24]) for n in range(50)}
    services = make_services(JOBS_WORKER="immediate", FUSION_LABEL_FREE="true")
    ingest_job(services, write_docs(tmp_path / "batches", files))
    (job,) = label_free_jobs(services)
    result = job["result"]
    assert result["stored"] and 100 <= result["chunks"] < 24 * 50, result
    # every file is split into several chunks: each chunk has a neighbour, so each query has more than one
    assert result["with_neighbours"] == result["questions"] > 100


def test_fusion_weight_wins_and_the_label_free_weight_can_be_turned_off(make_services, make_settings):
    from application.retrieval.serving import ServingIndex

    services = make_services(JOBS_WORKER="off", FUSION_LABEL_FREE="true")
    label_free = {"weight": 0.3, "method": "convex", "normalise": "minmax", "mode": "hybrid", "kind": "label-free",
                  "origin": "label-free: 120 corpus pseudo-queries", "chunks": 120,
                  "fitted_at": "2026-01-01T00:00:00+00:00"}
    services.serving.set_tuned_fusion(services.serving.current.collection, label_free)
    index = services.serving.current
    assert services.serving.serving_fusion(index)[0].weight == 0.3

    def serving_with(**overrides):
        serving = ServingIndex(services.db, make_settings(**overrides), services.serving.store_handle, services.models)
        return serving.serving_fusion(index)

    fusion, origin = serving_with(FUSION_LABEL_FREE="true", FUSION_WEIGHT="0.8")
    assert (fusion.weight, origin["source"]) == (0.8, "FUSION_WEIGHT")
    fusion, origin = serving_with(FUSION_LABEL_FREE="false")
    assert (fusion.weight, origin["source"]) == (0.5, "default")
    assert "FUSION_LABEL_FREE=false leaves out the label-free weight 0.3" in origin["detail"]
    # fitted for minmax: it means nothing to max
    fusion, origin = serving_with(FUSION_LABEL_FREE="true", FUSION_NORMALISE="max")
    assert (fusion.weight, origin["source"]) == (0.5, "default")

    # a re-index with a weight fitted on ratings (a promoted version's) replaces a newer label-free one
    services.serving.set_tuned_fusion(index.collection, {**label_free, "fitted_at": "2030-01-01T00:00:00+00:00"})
    rated = {"weight": 0.7, "method": "convex", "normalise": "minmax", "mode": "hybrid",
             "origin": "fitted for v0002 at training", "fitted_at": "2026-01-01T00:00:00+00:00"}
    services.serving.reindex(tuned=rated)
    fusion, origin = services.serving.serving_fusion(services.serving.current)
    assert (fusion.weight, origin["source"], origin["detail"]) == (0.7, "fitted", "fitted for v0002 at training")


def test_below_the_minimum_of_chunks_the_measured_default_stays(make_services, tmp_path):
    from application.jobs.handlers import label_free_plan

    services = make_services(JOBS_WORKER="immediate", FUSION_LABEL_FREE="true")
    ingested = ingest_job(services, write_docs(tmp_path / "tickets", as_files(coded_tickets(60))))
    assert "label_free_job" not in ingested["result"] and label_free_jobs(services) == []
    fusion, origin = services.serving.serving_fusion(services.serving.current)
    assert (fusion.weight, origin["source"]) == (0.5, "default")
    due, reason = label_free_plan(services)
    assert not due and reason.startswith("60 chunks: below 100")


def test_a_label_free_weight_is_fitted_again_once_the_chunks_moved_by_over_ten_percent(make_services, tmp_path):
    from application.jobs.handlers import label_free_plan

    services = make_services(JOBS_WORKER="off", FUSION_LABEL_FREE="true")
    services.documents.ingest_paths([write_docs(tmp_path / "tickets", as_files(coded_tickets(108)))])
    assert label_free_plan(services) == (True, f"108 chunks and no fusion weight fitted for "
                                               f"{services.serving.current.collection} yet")
    services.serving.set_tuned_fusion(services.serving.current.collection, {
        "weight": 0.3, "method": "convex", "normalise": "minmax", "mode": "hybrid", "kind": "label-free",
        "origin": "label-free: 100 corpus pseudo-queries", "chunks": 100, "fitted_at": "2026-01-01T00:00:00+00:00"})
    assert label_free_plan(services) == (False, "the label-free weight was fitted on 100 chunks; "
                                                "108 now is within 10 %")
    services.documents.ingest_paths([write_docs(tmp_path / "more", as_files(coded_tickets(4, start=200)))])
    assert label_free_plan(services) == (True, "the chunk count moved from 100 to 112")
