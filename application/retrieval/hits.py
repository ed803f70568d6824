"""The hit type: one retrieved chunk, with what a citation needs."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class SearchHit:
    """One retrieved chunk, with what a citation needs."""

    chunk_id: str
    source_id: str
    text: str
    score: float
    rank: int
    title: str
    uri: str
    page: int | None
    position: int
    # each leg's own score (None: that leg did not return the chunk, or did not run); ``score`` is the fused one
    dense_score: float | None = None
    lexical_score: float | None = None
    # the heading path below the title, outermost first; where to look beyond the page ("slide 3")
    headings: list[str] = field(default_factory=list)
    location: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)
