"""How close an answer is to its reference: BERTScore F1 where a model's token embeddings are at hand,
else the cosine of the two texts' sentence embeddings.

BERTScore (Zhang et al., 2020) matches every token of one text with its most similar token of the
other (cosine of contextual embeddings): precision averages over the answer's tokens, recall over the
reference's, F1 combines them. Here the embeddings are the last layer of ``BERTSCORE_MODEL`` (any
local transformer folder) or, by default, of the serving sentence-transformers model, without IDF
weights or baseline rescaling, so values are comparable between configurations of one report,
not with published BERTScore numbers. The report names the method.

Both compare the answer's *words*: the extractive answerer's intro line and the ``[n]`` citation
markers are taken out first (:func:`answer_text`).
"""
from __future__ import annotations

import re
from typing import Sequence

from application.llm.extractive import INTRO, WEAK_MATCH
from application.llm.prompt import strip_citations

_MARKUP = re.compile(r"^\s*(?:[-*+>]\s+|\|)|\|\s*$|^\s*\|?[\s:|-]+\|?\s*$", re.MULTILINE)


def answer_text(answer: str) -> str:
    """The words of an answer: no intro line of the offline answerer, no citation markers, no list or table marks."""
    for lead in (INTRO, WEAK_MATCH):
        if answer.startswith(lead):
            answer = answer[len(lead):]
    answer = strip_citations(answer)
    return " ".join(_MARKUP.sub(" ", answer).split())


class Similarity:
    """Scores (answer, reference) pairs; ``method`` says how (it goes into the report)."""

    def __init__(self, model, method: str, token_level: bool):
        self._model = model
        self.method = method
        self.token_level = token_level

    @classmethod
    def build(cls, settings, embeddings, label: str = "the serving model") -> "Similarity":
        """BERTScore with ``BERTSCORE_MODEL``, else with the token embeddings of ``embeddings`` (the serving
        model) when it is a sentence-transformers model, else the cosine of ``embeddings``' vectors."""
        if settings.bertscore_model:
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(str(settings.bertscore_model), device="cpu")
            return cls(model, f"BERTScore F1 (last layer of {settings.bertscore_model.name}, no IDF, not rescaled)", True)
        model = getattr(embeddings, "model", None)
        if model is not None and hasattr(model, "encode") and hasattr(model, "tokenizer"):
            return cls(model, f"BERTScore F1 (token embeddings of {label}, no IDF, not rescaled)", True)
        return cls(embeddings, f"cosine of {label} embeddings", False)

    def scores(self, answers: Sequence[str], references: Sequence[str]) -> list[dict | None]:
        """Per pair ``{"similarity": the method's score, "cosine": cosine of the sentence embeddings}``
        (None where either text is empty), in one batch."""
        pairs = [(answer_text(a), r.strip()) for a, r in zip(answers, references)]
        wanted = [i for i, (a, r) in enumerate(pairs) if a and r]
        out: list[dict | None] = [None] * len(pairs)
        if not wanted:
            return out
        texts = [pairs[i][0] for i in wanted] + [pairs[i][1] for i in wanted]
        half = len(wanted)
        if self.token_level:
            tokens = self._model.encode(texts, output_value="token_embeddings", convert_to_numpy=False,
                                        show_progress_bar=False)
            vectors = self._model.encode(texts, normalize_embeddings=True, show_progress_bar=False).tolist()
        else:
            vectors = self._model.embed_documents(texts)
        for n, i in enumerate(wanted):
            cosine = _cosine(vectors[n], vectors[n + half])
            primary = _bertscore_f1(tokens[n], tokens[n + half]) if self.token_level else cosine
            out[i] = {"similarity": round(primary, 6), "cosine": round(cosine, 6)}
        return out


def _bertscore_f1(candidate, reference) -> float:
    import torch

    # [CLS] and [SEP] (the first and last token) carry no word of the text
    a = candidate[1:-1] if len(candidate) > 2 else candidate
    b = reference[1:-1] if len(reference) > 2 else reference
    a = torch.nn.functional.normalize(a.float(), dim=-1)
    b = torch.nn.functional.normalize(b.float(), dim=-1)
    similarity = a @ b.T
    precision = similarity.max(dim=1).values.mean().item()
    recall = similarity.max(dim=0).values.mean().item()
    return 0.0 if precision + recall <= 0 else 2 * precision * recall / (precision + recall)


def _cosine(a, b) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    norm = (sum(x * x for x in a) ** 0.5) * (sum(y * y for y in b) ** 0.5)
    return dot / norm if norm else 0.0
