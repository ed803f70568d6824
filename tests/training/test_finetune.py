import pytest

from tests.training.conftest import make_ir
from training.finetune import FinetuneConfig, build_train_datasets, finetune
from training.irjson import ir_dataset_from_dict
from training.records import LabelledPair, TrainingDataError, TrainingSet, Triplet

TINY = FinetuneConfig(loss="mnrl", epochs=1, batch_size=8, max_seq_length=64, show_progress=False)


def positives():
    ir = ir_dataset_from_dict(make_ir())
    return TrainingSet(positives=[(q, t) for q, _, t in ir.positive_pairs()][:24])


def test_a_fine_tuned_model_is_a_plain_sentence_transformers_folder_with_a_model_card(tmp_path, base_model_path):
    from sentence_transformers import SentenceTransformer

    result = finetune(base_model_path, positives(), tmp_path / "ft", TINY)
    model = SentenceTransformer(str(tmp_path / "ft"), local_files_only=True)
    assert model.encode(["a question"]).shape == (1, 384)
    assert model.max_seq_length == 256  # the short training length is not baked into the model
    card = (tmp_path / "ft" / "README.md").read_text()
    assert "mnrl" in card and base_model_path in card and "Training rows:** 24" in card
    assert result.train_rows == 24 and result.loss == "mnrl"
    assert [p.name for p in tmp_path.iterdir()] == ["ft"]


def test_an_interrupted_run_leaves_no_half_written_model(tmp_path, base_model_path, monkeypatch):
    from sentence_transformers import SentenceTransformerTrainer

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(SentenceTransformerTrainer, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        finetune(base_model_path, positives(), tmp_path / "ft", TINY)
    assert list(tmp_path.iterdir()) == []


def test_training_reports_every_step_and_a_callback_that_raises_stops_it_with_nothing_saved(tmp_path, base_model_path):
    steps = []
    finetune(base_model_path, positives(), tmp_path / "ft", TINY, progress=lambda done, total: steps.append((done, total)))
    assert steps == [(i, 3) for i in range(1, 4)]  # 24 rows, batches of 8, one epoch

    class Cancelled(Exception):
        pass

    def cancel_at_two(done, total):
        if done == 2:
            raise Cancelled

    with pytest.raises(Cancelled):
        finetune(base_model_path, positives(), tmp_path / "stopped", TINY, progress=cancel_at_two)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ft"]


def test_an_existing_output_folder_is_never_overwritten(tmp_path, base_model_path):
    (tmp_path / "ft").mkdir()
    with pytest.raises(TrainingDataError, match="already exists"):
        finetune(base_model_path, positives(), tmp_path / "ft", TINY)


def test_a_path_that_is_not_a_model_is_refused(tmp_path):
    with pytest.raises(TrainingDataError, match="not a sentence-transformers model"):
        finetune(tmp_path, positives(), tmp_path / "ft", TINY)


def test_each_loss_gets_the_columns_it_needs():
    data = TrainingSet(pairs=[LabelledPair("q", "c1", "good", 1), LabelledPair("q", "c2", "bad", 0)],
                       triplets=[Triplet("q2", "good2", "bad2")], positives=[("q3", "good3")])
    oc = build_train_datasets(data, "online_contrastive")["pairs"]
    assert oc.column_names == ["anchor", "text", "label"] and sorted(oc["label"]) == [0, 0, 1, 1, 1]
    mnrl = build_train_datasets(data, "mnrl")
    assert mnrl["triplets"].column_names == ["anchor", "positive", "negative"]
    assert sorted(mnrl["positives"]["anchor"]) == ["q", "q3"]
    assert build_train_datasets(data, "cosine")["pairs"].column_names == ["anchor", "text", "score"]


@pytest.mark.parametrize("loss", ["online_contrastive", "cosine"])
def test_a_pair_loss_without_negatives_says_what_to_do(loss):
    with pytest.raises(TrainingDataError, match=f"{loss} needs negative pairs.*use --loss mnrl"):
        build_train_datasets(positives(), loss)
