"""docstune ingest / sources / sync / documents with a git repository, a web site and a folder, as a person
runs them; bad sources fail with one line and exit code 1, keeping what was stored."""
import json

import pytest
from click.testing import CliRunner

from application.cli import main
from tests.conftest import write_docs
from tests.git_repo import GitRepo
from tests.web_site import html_page, serve_site


@pytest.fixture
def run(tmp_path):
    env = {"DATA_DIR": str(tmp_path / "data"), "EMBEDDINGS_NAME": "all-MiniLM-L6-v2", "WEB_DELAY_SECONDS": "0",
           "SYNC_DELETE_GRACE_HOURS": "0"}

    def invoke(*args, **extra_env):
        return CliRunner().invoke(main, list(args), env={**env, **extra_env}, catch_exceptions=False)

    return invoke


def test_a_git_repository_is_ingested_listed_synced_and_deleted(run, tmp_path):
    repo = GitRepo.create(tmp_path / "handbook")
    repo.write("docs/leave.md", "# Leave\n\n## Parental leave\n\nParental leave lasts twenty-six weeks.\n")
    repo.write("docs/travel.md", "# Travel\n\nTrain tickets are booked through the travel desk.\n")
    repo.write("docs/drafts/wip.md", "# Draft\n\nNot ready.\n")
    repo.write("app.py", "print(1)\n")
    repo.commit("first")
    result = run("ingest", "--git", str(repo.path), "--include", "docs/**", "--exclude", "docs/drafts/",
                 "--schedule", "daily")
    assert result.exit_code == 0, result.output
    assert "2 added" in result.output

    rows = json.loads(run("sources", "list", "--json").output)
    assert len(rows) == 1 and rows[0]["kind"] == "git" and rows[0]["document_count"] == 2
    assert rows[0]["schedule"] == "daily" and rows[0]["options"]["include"] == ["docs/**"]
    assert "git" in run("sources").output and "2 documents" in run("sources").output

    repo.write("docs/leave.md", "# Leave\n\n## Parental leave\n\nParental leave lasts thirty weeks.\n")
    repo.remove("docs/travel.md")
    repo.commit("second")
    result = run("sync")
    assert result.exit_code == 0, result.output
    assert "1 updated" in result.output and "1 removed" in result.output and "0 unchanged" in result.output
    hits = json.loads(run("search", "How long is parental leave?", "-k", "1", "--json").output)
    assert "thirty weeks" in hits[0]["text"] and hits[0]["headings"] == ["Parental leave"]

    result = run("sources", "set", rows[0]["id"], "--schedule", "weekly")
    assert result.exit_code == 0 and "schedule weekly" in result.output
    result = run("sources", "delete", rows[0]["id"])
    assert result.exit_code == 0 and "1 documents" in result.output
    assert json.loads(run("documents", "list", "--json").output) == []


def test_a_web_page_is_ingested_from_the_command_line(run):
    with serve_site() as site:
        site.pages["/docs/install"] = html_page("Installing", "<h2>Disk</h2><p>The kestrel agent needs 3 GB of "
                                                "free disk space.</p>")
        result = run("ingest", site.url("/docs/install"), "--mode", "page", WEB_ALLOW_PRIVATE="true")
    assert result.exit_code == 0, result.output
    assert "1 added" in result.output
    hits = json.loads(run("search", "How much disk does the kestrel agent need?", "-k", "1", "--json").output)
    assert "3 GB" in hits[0]["text"] and hits[0]["uri"].endswith("/docs/install")


@pytest.mark.parametrize("args, message", [
    (["ftp://example.com/docs"], "http"),
    (["http://169.254.169.254/latest/meta-data/"], "WEB_ALLOW_PRIVATE"),
    (["--git", "/no/such/repository"], "neither a git URL nor an existing local repository"),
    (["https://example.com/", "--mode", "page", "--depth", "-1"], "-1"),
])
def test_a_bad_source_is_one_error_line_and_keeps_what_was_stored(run, tmp_path, args, message):
    assert run("ingest", str(write_docs(tmp_path / "docs"))).exit_code == 0
    result = run("ingest", *args)
    assert result.exit_code != 0
    assert message in result.output.strip().splitlines()[-1]
    assert len(json.loads(run("documents", "list", "--json").output)) == 3


def test_a_git_repository_that_does_not_exist_fails_the_sync_with_one_line(run, tmp_path):
    empty = tmp_path / "not-a-repo"
    empty.mkdir()
    result = run("ingest", "--git", str(empty))
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: ") and "Traceback" not in result.output
    rows = json.loads(run("sources", "list", "--json").output)
    assert rows[0]["status"] == "failed" and rows[0]["last_error"]


def test_an_ingest_of_enough_chunks_fits_the_label_free_fusion_weight_or_queues_it(run, tmp_path):
    from tests.training.test_label_free import coded_tickets

    folder = write_docs(tmp_path / "tickets", {f"{cid}.txt": text for cid, text in coded_tickets(104).items()})
    result = run("ingest", str(folder), JOBS_WORKER="immediate", FUSION_LABEL_FREE="true")
    assert result.exit_code == 0, result.output
    assert "104 added" in result.output
    line = next(line for line in result.output.splitlines() if line.startswith("Fusion weight:"))
    assert "the label-free weight" in line and "serves now" in line, line

    # the server's worker (JOBS_WORKER=thread, the default) runs it when the chunks change again
    more = write_docs(tmp_path / "more", {f"{cid}.txt": text for cid, text in coded_tickets(40, start=300).items()})
    result = run("ingest", str(more), FUSION_LABEL_FREE="true")
    assert result.exit_code == 0, result.output
    assert "the server's worker fits one on this corpus's own questions" in result.output
    jobs = json.loads(run("jobs", "--kind", "label_free", "--json").output)
    assert [job["status"] for job in jobs] == ["queued", "done"]
