from tests.training.conftest import chunk_texts
from training.finetune import load_model
from training.hard_negatives import add_hard_negatives
from training.records import TrainingSet


def test_positives_without_a_negative_get_a_mined_one_that_is_neither_the_positive_nor_another_answer(base_model_path):
    texts = chunk_texts()
    data = TrainingSet(positives=[
        ("How long does a refund take to arrive?", texts["billing-2"]),
        ("How long does a refund take to arrive?", texts["billing-1"]),  # a second right answer
        ("How do I recover a deleted note?", texts["storage-2"]),
    ])
    model = load_model(base_model_path, max_seq_length=64)
    mined = add_hard_negatives(model, data, list(texts.values()))
    assert len(mined.triplets) == 3 and mined.positives == []
    for t in mined.triplets:
        assert t.negative in texts.values() and t.negative != t.positive
        if t.query.startswith("How long does a refund"):
            assert t.negative not in (texts["billing-1"], texts["billing-2"])
    # the closest wrong chunk by the model's own scores, not a random one
    query, positive = "How do I recover a deleted note?", texts["storage-2"]
    candidates = [t for t in texts.values() if t != positive]
    scores = model.similarity(model.encode([query]), model.encode(candidates))[0].tolist()
    positive_score = float(model.similarity(model.encode([query]), model.encode([positive]))[0][0])
    allowed = [(s, t) for s, t in zip(scores, candidates) if s <= positive_score * 0.95]
    recover = next(t for t in mined.triplets if t.query == query)
    assert recover.negative == max(allowed)[1]
