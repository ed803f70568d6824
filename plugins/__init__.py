"""Embedding backends (the bottom layer: knows nothing of Flask, SQL or Qdrant)."""
from plugins.base import EmbeddingBackend, EmbeddingModelError
from plugins.registry import get_registry, load_embeddings

__all__ = ["EmbeddingBackend", "EmbeddingModelError", "get_registry", "load_embeddings"]
