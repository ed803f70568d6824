"""Every setting DocsTune reads, in one typed place (pydantic-settings).

Values come from the environment and an optional ``.env`` file in the working
directory; names follow DocsGPT's where DocsGPT has one. The README lists them
all with their defaults.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # -- storage -------------------------------------------------------------------
    data_dir: Path = Field(Path("./data"), alias="DATA_DIR", description="Where every local file of DocsTune lives.")
    database_url: str | None = Field(
        None, alias="DATABASE_URL", description="SQLAlchemy URL; default: sqlite:///<DATA_DIR>/docstune.db"
    )

    # -- embeddings ----------------------------------------------------------------
    embeddings_name: str = Field(
        "all-MiniLM-L6-v2",
        alias="EMBEDDINGS_NAME",
        description="A local sentence-transformers folder, or a name a plugin registers (default: bundled model).",
    )
    embeddings_device: str | None = Field(None, alias="EMBEDDINGS_DEVICE", description="cpu, cuda, mps; default: auto")
    embeddings_batch_size: int = Field(32, alias="EMBEDDINGS_BATCH_SIZE", ge=1)
    embeddings_query_prefix: str = Field("", alias="EMBEDDINGS_QUERY_PREFIX", description='e.g. "query: " for e5')
    embeddings_document_prefix: str = Field("", alias="EMBEDDINGS_DOCUMENT_PREFIX", description='e.g. "passage: "')

    # -- vector store --------------------------------------------------------------
    vector_store: Literal["qdrant"] = Field("qdrant", alias="VECTOR_STORE")
    qdrant_url: str | None = Field(None, alias="QDRANT_URL", description="Qdrant server; unset = local mode")
    qdrant_api_key: str | None = Field(None, alias="QDRANT_API_KEY")
    qdrant_path: Path | None = Field(None, alias="QDRANT_PATH", description="Local-mode folder; default <DATA_DIR>/qdrant")
    qdrant_timeout: int = Field(30, alias="QDRANT_TIMEOUT", ge=1, description="Seconds per Qdrant server request")

    # -- ingestion -----------------------------------------------------------------
    chunk_tokens: int | None = Field(
        None, alias="CHUNK_TOKENS", ge=16, description="Chunk size in model tokens; default: what the model reads"
    )
    chunk_overlap_tokens: int = Field(32, alias="CHUNK_OVERLAP_TOKENS", ge=0)
    ingest_batch_size: int = Field(64, alias="INGEST_BATCH_SIZE", ge=1, description="Chunks embedded per batch")

    @field_validator("database_url", "qdrant_url", "qdrant_api_key", "embeddings_device", mode="before")
    @classmethod
    def _empty_is_unset(cls, value):
        return None if value == "" else value

    @property
    def database_url_resolved(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'docstune.db').resolve()}"

    @property
    def qdrant_path_resolved(self) -> Path:
        return self.qdrant_path or self.data_dir / "qdrant"

    @property
    def models_dir(self) -> Path:
        """Registry of fine-tuned versions (see ``training.registry``)."""
        return self.data_dir / "models"

    def embedding_options(self) -> dict:
        return {
            "device": self.embeddings_device,
            "batch_size": self.embeddings_batch_size,
            "query_prefix": self.embeddings_query_prefix,
            "document_prefix": self.embeddings_document_prefix,
        }


@lru_cache
def get_settings() -> Settings:
    return Settings()
