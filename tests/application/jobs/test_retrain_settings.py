"""The RETRAIN_* settings every retrain uses (scheduled or requested), the synthetic budget, and the
estimate of the time left that a retrain shows."""
import pytest

from tests.application.jobs.conftest import ADMIN, rate_answers  # noqa: F401

SETTINGS = {"RETRAIN_LOSS": "online_contrastive", "RETRAIN_SYNTHETIC_CHUNKS": 5, "RETRAIN_MAX_SEQ_LENGTH": 32}


@pytest.mark.parametrize("corpus_app", [SETTINGS], indirect=True)
def test_a_scheduled_retrain_trains_with_the_settings_loss_and_synthetic_budget(corpus_app):
    client, services = corpus_app
    rate_answers(client, 4)  # RETRAIN_MIN_NEW_FEEDBACK=3 (the fixture): the policy starts one

    job = services.jobs.check_retrain_policy()

    assert job is not None and job["status"] == "done", job
    assert "loss" not in job["params"] and "include_synthetic" not in job["params"]  # nothing asked: the settings
    result = job["result"]
    assert result["plan"]["loss"] == "online_contrastive" and result["plan"]["max_seq_length"] == 32
    assert result["plan"]["include_synthetic"] is True and result["plan"]["synthetic_chunks"] == 5
    selection = result["data"]["synthetic_selection"]
    # 24 stored chunks, the evaluation set's left out: more candidates than the budget, so 5 are chosen
    assert selection["candidates"] > 5 and selection["chosen"] == 5 and selection["budget"] == 5
    assert result["data"]["synthetic_positives"] == 10  # SYNTH_QUESTIONS_PER_CHUNK=2 for each chosen chunk


@pytest.mark.parametrize("corpus_app", [SETTINGS], indirect=True)
def test_a_request_option_wins_over_the_settings(corpus_app):
    client, services = corpus_app
    rate_answers(client, 4)

    accepted = client.post("/api/admin/retrain", headers=ADMIN,
                           json={"loss": "mnrl", "include_synthetic": False, "epochs": 1})
    job = client.get(f"/api/jobs/{accepted.get_json()['job_id']}", headers=ADMIN).get_json()

    assert job["status"] == "done", job
    plan, data = job["result"]["plan"], job["result"]["data"]
    assert plan["loss"] == "mnrl" and plan["include_synthetic"] is False and plan["max_seq_length"] == 32
    assert "synthetic_positives" not in data and "synthetic_selection" not in data
    assert client.post("/api/admin/retrain", headers=ADMIN, json={"synthetic_chunks": 0}).status_code == 400


def test_the_retrain_settings_refuse_an_unknown_loss_and_take_auto_as_the_default(make_settings):
    from application.settings import SettingsError

    with pytest.raises(SettingsError, match="RETRAIN_LOSS='triplet'"):
        make_settings(RETRAIN_LOSS="triplet")
    settings = make_settings(RETRAIN_LOSS="auto")
    assert settings.training_options().loss is None  # the data's measured default
    assert settings.synthetic_options().include is True  # on unless turned off


class Recorded:
    """A ``JobContext`` as far as ``training_progress`` uses it: what it would show."""

    def __init__(self):
        self.messages = []

    def progress(self, done, total, message=None):
        self.messages.append((done, total, message))


def test_the_time_left_leaves_out_what_came_before_the_training_and_the_first_steps_warm_up():
    from application.jobs.handlers import training_progress

    now = [0.0]
    context = Recorded()
    report = training_progress(context, "training", every=0, clock=lambda: now[0])
    now[0] = 110.0  # mining and loading took 110 s before the trainer started
    report(0, 100)
    now[0] = 114.0  # the first step: 4 s with the trainer's setup
    report(1, 100)
    now[0] = 124.0  # then 2 s a step
    report(6, 100)

    assert context.messages[0] == (0, 100, "training: the trainer starts")
    assert context.messages[1][2] == "training: step 1 of 100, about 7 min left"  # 4 s × 99, not 114 s × 99
    assert context.messages[2][2] == "training: step 6 of 100, about 3 min left"  # 2 s × 94 = 188 s
    now[0] = 310.0
    report(100, 100)
    assert context.messages[-1] == (100, 100, "training: step 100 of 100, evaluating")
