"""Every setting DocsTune reads, in one typed place (pydantic-settings).

Values come from the environment and an optional ``.env`` file in the working
directory; names follow DocsGPT's where DocsGPT has one. The README lists them
all with their defaults.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from application.errors import DocsTuneError
from plugins.batching import DEFAULT_BATCH_MAX, DEFAULT_BATCH_WAIT_MS, DEFAULT_CACHE_SIZE, DEFAULT_QUEUE_MAX
from plugins.lexical import DEFAULT_LEXICAL, LEXICAL_TOKENIZERS
from plugins.onnx_runtime import BACKENDS as EMBEDDINGS_BACKENDS
from training.evaluation_set import EVALUATION_SHARE, EVALUATION_SHARE_START, growth_share
from training.gate import DEFAULT_MIN_QUESTIONS
from training.gate import DEFAULT_STATISTIC as DEFAULT_GATE_STATISTIC
from training.gate import STATISTICS as GATE_STATISTICS
from training.finetune import LOSSES
from training.fusion import FUSION_METHODS, NORMALISATIONS, RETRIEVAL_MODES, FusionSettings


# the dense share of a hybrid search with no fitted weight. Measured (bench/retrieval_table.py, convex
# minmax 0.5): MRR@10 0.735 on the Lyft 10-K set (its best fixed weight 0.759) and 0.714 on the Debian
# FAQ set (best 0.730): the best average over two dev sets of opposite kinds, within 0.05 of each best
DEFAULT_FUSION_WEIGHT = 0.5
# chunks that get synthetic questions per retrain (RETRAIN_SYNTHETIC_CHUNKS): with ~400 ratings the round
# stays within 5 min on a 2-core CPU (bench/retrain_time.py, docs/training.md "The synthetic budget")
SYNTHETIC_CHUNKS_PER_ROUND = 300


class SettingsError(DocsTuneError, ValueError):
    """A setting (environment, .env) has a value DocsTune cannot use; the message names each one."""


# shorter is guessable; the token `docstune serve` generates has 43 characters
ADMIN_TOKEN_MIN_CHARS = 16


def _shown_input(error: dict) -> str:
    """A bad setting's value for the one-line error; never that of a token, key or password."""
    name = str(error["loc"][0]) if error.get("loc") else ""
    return "(hidden)" if name.upper().endswith(("TOKEN", "KEY", "PASSWORD")) else repr(error.get("input"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    def __init__(self, **values):
        # one readable line per bad setting (the CLI prints it, the server stops with it), not pydantic's dump
        try:
            super().__init__(**values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc'])}={_shown_input(error)}: {error['msg']}"
                for error in exc.errors()
            )
            raise SettingsError(f"Invalid setting: {problems}. See README.md, \"Settings\".") from None

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
    embeddings_backend: Literal[EMBEDDINGS_BACKENDS] = Field(
        "torch",
        alias="EMBEDDINGS_BACKEND",
        description="torch; onnx or onnx-int8 (CPU, ONNX Runtime; exported once into DATA_DIR/onnx-cache; "
        "a switch re-indexes)",
    )
    # concurrent questions share the model: one worker encodes those that arrive together as one batch
    embed_batch_wait_ms: float = Field(
        DEFAULT_BATCH_WAIT_MS, alias="EMBED_BATCH_WAIT_MS", ge=0, le=1000,
        description="How long a question waits for others to share its encode (only while questions overlap)",
    )
    embed_batch_max: int = Field(
        DEFAULT_BATCH_MAX, alias="EMBED_BATCH_MAX", ge=1, le=1024,
        description="Questions per shared encode; 1 turns the batcher off (each question encodes on its own thread)",
    )
    embed_queue_max: int = Field(
        DEFAULT_QUEUE_MAX, alias="EMBED_QUEUE_MAX", ge=1,
        description="Questions that may wait for the model; more wait 10 s for room, then get a 503",
    )
    query_cache_size: int = Field(
        DEFAULT_CACHE_SIZE, alias="QUERY_CACHE_SIZE", ge=0, description="Vectors of recent questions kept; 0: none"
    )

    # -- vector store --------------------------------------------------------------
    vector_store: Literal["qdrant"] = Field("qdrant", alias="VECTOR_STORE")
    qdrant_url: str | None = Field(None, alias="QDRANT_URL", description="Qdrant server; unset = embedded Qdrant Edge")
    qdrant_api_key: str | None = Field(None, alias="QDRANT_API_KEY")
    qdrant_path: Path | None = Field(None, alias="QDRANT_PATH", description="Embedded Qdrant Edge folder; default <DATA_DIR>/qdrant")
    qdrant_timeout: int = Field(30, alias="QDRANT_TIMEOUT", ge=1, description="Seconds per Qdrant server request")

    # -- retrieval: dense + lexical legs, fused (training.fusion) ----------------------
    retrieval_mode: Literal[RETRIEVAL_MODES] = Field(
        "hybrid", alias="RETRIEVAL_MODE", description="dense, lexical (BM25) or hybrid (both, fused)"
    )
    fusion_method: Literal[FUSION_METHODS] = Field(
        "convex", alias="FUSION_METHOD", description="convex (normalised scores), rrf, wrrf or dbsf"
    )
    fusion_weight: float | None = Field(
        None, alias="FUSION_WEIGHT", ge=0.0, le=1.0,
        description="The dense share of a hybrid search, 0..1; unset: the serving version's fitted weight, "
        "else the measured default",
    )
    fusion_normalise: Literal[NORMALISATIONS] = Field(
        "minmax", alias="FUSION_NORMALISE", description="minmax beat max by +0.035 MRR@10 on the FAQ set, level on Lyft"
    )
    fusion_label_free: bool = Field(
        True, alias="FUSION_LABEL_FREE",
        description="Before any weight fitted on ratings: serve one fitted on the corpus's own pseudo-queries, "
        "a query's neighbouring chunks relevant too (refitted in the background when the chunk count moves by "
        "over 10 %; from 100 chunks on). Through the product's own chunking it stayed above the better single "
        "leg on four dev sets (docs/retrieval.md); false: the fixed 0.5",
    )
    label_free_max_questions: int = Field(
        2000, alias="LABEL_FREE_MAX_QUESTIONS", ge=100,
        description="Pseudo-queries the label-free weight is fitted on at most (a sample of that many chunks)",
    )
    fusion_rrf_k: int = Field(60, alias="FUSION_RRF_K", ge=1)
    fusion_candidates: int = Field(50, alias="FUSION_CANDIDATES", ge=1, le=1000, description="Candidates per leg")
    lexical_tokenizer: Literal[tuple(LEXICAL_TOKENIZERS)] = Field(
        DEFAULT_LEXICAL, alias="LEXICAL_TOKENIZER", description="How chunks become BM25 sparse vectors"
    )

    def fusion(self, weight: float | None = None) -> FusionSettings:
        """The retrieval settings; ``weight`` (a fitted one) applies when FUSION_WEIGHT is unset."""
        chosen = self.fusion_weight if self.fusion_weight is not None else weight
        return FusionSettings(mode=self.retrieval_mode, method=self.fusion_method,
                              weight=DEFAULT_FUSION_WEIGHT if chosen is None else chosen,
                              normalise=self.fusion_normalise, rrf_k=self.fusion_rrf_k,
                              candidates=self.fusion_candidates)

    # -- ingestion -----------------------------------------------------------------
    chunk_tokens: int | None = Field(
        None, alias="CHUNK_TOKENS", ge=16, description="Chunk size in model tokens; default: what the model reads"
    )
    chunk_overlap_tokens: int = Field(32, alias="CHUNK_OVERLAP_TOKENS", ge=0)
    ingest_batch_size: int = Field(64, alias="INGEST_BATCH_SIZE", ge=1, description="Chunks embedded per batch")
    ingest_max_rows: int = Field(
        100_000, alias="INGEST_MAX_ROWS", ge=1, description="Rows read per sheet, CSV or JSONL file; the rest is reported"
    )
    ingest_max_unpacked_bytes: int = Field(
        256 << 20, alias="INGEST_MAX_UNPACKED_BYTES", ge=1 << 20,
        description="An Office file or e-book (a zip) that unpacks to more is refused as a possible zip bomb",
    )
    ocr_enabled: bool = Field(True, alias="OCR_ENABLED", description="Read pages and images without text by tesseract")
    ocr_languages: str = Field("eng", alias="OCR_LANGUAGES", description="tesseract languages, e.g. eng+deu")
    ocr_max_pages: int = Field(50, alias="OCR_MAX_PAGES", ge=0, description="Pages OCR'd per document")
    ocr_timeout_seconds: float = Field(120.0, alias="OCR_TIMEOUT_SECONDS", gt=0, description="OCR time per document")

    # -- sources: web sites, git repositories, re-sync --------------------------------
    web_max_pages: int = Field(200, alias="WEB_MAX_PAGES", ge=1, description="Pages read per web source and sync")
    web_max_depth: int = Field(3, alias="WEB_MAX_DEPTH", ge=0, description="Links followed from a crawl root")
    web_delay_seconds: float = Field(1.0, alias="WEB_DELAY_SECONDS", ge=0, description="Pause between requests to a site")
    web_timeout_seconds: float = Field(20.0, alias="WEB_TIMEOUT_SECONDS", gt=0, description="Seconds per request")
    web_max_bytes: int = Field(10 << 20, alias="WEB_MAX_BYTES", ge=1024, description="Largest page or file fetched")
    web_max_redirects: int = Field(5, alias="WEB_MAX_REDIRECTS", ge=0)
    web_user_agent: str = Field(
        "DocsTune/0.1 (document ingestion; +https://github.com/docstune/docstune)", alias="WEB_USER_AGENT"
    )
    web_allow_private: bool = Field(
        False, alias="WEB_ALLOW_PRIVATE",
        description="Allow web sources on loopback, private and link-local addresses (an intranet)",
    )
    git_timeout_seconds: float = Field(300.0, alias="GIT_TIMEOUT_SECONDS", gt=0, description="Per git clone/fetch")
    sync_delete_grace_hours: float = Field(
        24.0, alias="SYNC_DELETE_GRACE_HOURS", ge=0,
        description="A document gone upstream is removed after this long (it keeps serving meanwhile)",
    )

    def parse_limits(self):
        from application.ingest.parsers import ParseLimits

        return ParseLimits(max_rows=self.ingest_max_rows, max_unpacked_bytes=self.ingest_max_unpacked_bytes,
                           ocr=self.ocr_enabled, ocr_languages=self.ocr_languages, ocr_max_pages=self.ocr_max_pages,
                           ocr_timeout_seconds=self.ocr_timeout_seconds)

    def web_limits(self, **overrides):
        from application.ingest.web import WebLimits

        values = dict(max_pages=self.web_max_pages, max_depth=self.web_max_depth, delay_seconds=self.web_delay_seconds,
                      timeout_seconds=self.web_timeout_seconds, max_bytes=self.web_max_bytes,
                      max_redirects=self.web_max_redirects, user_agent=self.web_user_agent,
                      allow_private=self.web_allow_private)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return WebLimits(**values)

    @field_validator("database_url", "qdrant_url", "qdrant_api_key", "embeddings_device", "fusion_weight",
                     "upload_extensions", mode="before")
    @classmethod
    def _empty_is_unset(cls, value):
        return None if value == "" else value

    @property
    def database_url_resolved(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'docstune.db').resolve()}"

    def create_data_dir(self) -> Path:
        """DATA_DIR, created for its owner only (0700): it holds the database, the admin token, the uploads and
        the models. A folder that already exists keeps the mode its operator gave it."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.data_dir

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
            "query_batch_wait_ms": self.embed_batch_wait_ms,
            "query_batch_max": self.embed_batch_max,
            "query_queue_max": self.embed_queue_max,
            "query_cache_size": self.query_cache_size,
            "backend": self.embeddings_backend,
            "onnx_cache_dir": self.data_dir / "onnx-cache",
        }

    # -- chat ----------------------------------------------------------------------
    llm_provider: Literal["anthropic", "openai_compatible", "extractive"] | None = Field(
        None,
        alias="LLM_PROVIDER",
        description="anthropic, openai_compatible or extractive; default: anthropic if ANTHROPIC_API_KEY is set, "
        "else extractive (offline, no LLM)",
    )
    anthropic_api_key: str | None = Field(None, alias="ANTHROPIC_API_KEY")
    anthropic_model: str = Field("claude-sonnet-5-5", alias="ANTHROPIC_MODEL")
    anthropic_base_url: str | None = Field(None, alias="ANTHROPIC_BASE_URL", description="default: the SDK's own")
    openai_base_url: str = Field(
        "http://127.0.0.1:8080/v1", alias="OPENAI_BASE_URL", description="llama.cpp, Ollama (:11434/v1), vLLM ..."
    )
    openai_api_key: str | None = Field(None, alias="OPENAI_API_KEY")
    openai_model: str = Field("local-model", alias="OPENAI_MODEL")
    llm_timeout: float = Field(
        60.0, alias="LLM_TIMEOUT", gt=0, description="Seconds to wait for the LLM's next word (each silence)"
    )
    llm_deadline: float = Field(
        120.0, alias="LLM_DEADLINE", gt=0, description="Seconds one answer may stream in all (at most this + LLM_TIMEOUT)"
    )
    llm_max_retries: int = Field(2, alias="LLM_MAX_RETRIES", ge=0, description="Retries on 429/5xx/connection errors")
    llm_max_tokens: int = Field(1024, alias="LLM_MAX_TOKENS", ge=1)
    prompt_file: Path | None = Field(None, alias="PROMPT_FILE", description="default: application/prompts/answer.txt")
    admin_token: str | None = Field(
        None, alias="ADMIN_TOKEN", description="Bearer token of admin routes; default: <DATA_DIR>/admin_token"
    )
    trusted_proxies: int = Field(
        0, alias="TRUSTED_PROXIES", ge=0,
        description="Reverse proxies / load balancers in front of the app whose X-Forwarded-For/-Proto/-Host "
        "to believe (client address for rate limits, https for cookies); 0: none, use the socket's address",
    )
    rate_limit_enabled: bool = Field(True, alias="RATE_LIMIT_ENABLED")
    rate_limit_storage_uri: str = Field("memory://", alias="RATE_LIMIT_STORAGE_URI", description="e.g. redis://...")
    rate_limit_answer: str = Field("30 per minute", alias="RATE_LIMIT_ANSWER", description="/stream, /api/answer, /api/search")
    rate_limit_feedback: str = Field("120 per minute", alias="RATE_LIMIT_FEEDBACK")
    rate_limit_default: str = Field("300 per minute", alias="RATE_LIMIT_DEFAULT", description="other public routes")
    rate_limit_admin: str = Field(
        "600 per minute", alias="RATE_LIMIT_ADMIN",
        description="admin routes, together (the admin UI polls every 0.7-1.5 s while work is in progress)",
    )
    rate_limit_admin_failures: str = Field(
        "10 per minute", alias="RATE_LIMIT_ADMIN_FAILURES",
        description="wrong admin tokens and API keys (401s) per client address; past it every route but the "
        "health checks answers that address 429 until the window ends",
    )
    max_content_length: int = Field(1 << 20, alias="MAX_CONTENT_LENGTH", ge=1024, description="Bytes per JSON request")
    max_question_chars: int = Field(4000, alias="MAX_QUESTION_CHARS", ge=1)
    max_chunks: int = Field(20, alias="MAX_CHUNKS", ge=1, description="Largest top-k a client may ask for")
    history_max_messages: int = Field(10, alias="HISTORY_MAX_MESSAGES", ge=0)
    upload_max_bytes: int = Field(25 << 20, alias="UPLOAD_MAX_BYTES", ge=1, description="Bytes per uploaded file")
    upload_max_files: int = Field(20, alias="UPLOAD_MAX_FILES", ge=1)
    upload_extensions: str | None = Field(
        None, alias="UPLOAD_EXTENSIONS", description="Accepted document types; default: every supported one"
    )
    serve_host: str = Field("127.0.0.1", alias="SERVE_HOST")
    serve_port: int = Field(7091, alias="SERVE_PORT", ge=0, le=65535)
    serve_threads: int = Field(8, alias="SERVE_THREADS", ge=1)
    cors_allowed_origins: str = Field(
        "", alias="CORS_ALLOWED_ORIGINS",
        description="Other sites whose pages may call the chat API (DocsGPT's widget, its React app): comma-separated "
        "origins like https://docs.example.com, or * for any site when the request carries an API key; "
        "default: none (same origin only)",
    )

    @property
    def cors_origins(self) -> tuple[str, ...]:
        """``CORS_ALLOWED_ORIGINS`` as origins without a trailing slash (``*`` stays as it is)."""
        return tuple(o.strip().rstrip("/") for o in self.cors_allowed_origins.split(",") if o.strip())

    @field_validator("llm_provider", "anthropic_api_key", "anthropic_base_url", "openai_api_key", "admin_token", "prompt_file", mode="before")
    @classmethod
    def _chat_empty_is_unset(cls, value):
        return None if value == "" else value

    @field_validator("admin_token")
    @classmethod
    def _admin_token_long_enough(cls, value):
        if value is not None and len(value.strip()) < ADMIN_TOKEN_MIN_CHARS:
            raise ValueError(
                f"the admin token must be at least {ADMIN_TOKEN_MIN_CHARS} characters long (this one has "
                f"{len(value.strip())}); set a longer one (python -c 'import secrets; print(secrets.token_urlsafe(32))'), "
                "or unset ADMIN_TOKEN and `docstune serve` generates one"
            )
        return value

    @field_validator("rate_limit_admin", "rate_limit_admin_failures")
    @classmethod
    def _a_rate_limit(cls, value):
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError("must be a rate limit like '10 per minute' or '100/hour'") from None
        return value

    @property
    def llm_provider_resolved(self) -> str:
        return self.llm_provider or ("anthropic" if self.anthropic_api_key else "extractive")

    @property
    def upload_extension_set(self) -> frozenset[str]:
        if not self.upload_extensions:
            from application.ingest.parsers import SUPPORTED_EXTENSIONS

            return frozenset(SUPPORTED_EXTENSIONS)
        return frozenset("." + e.strip().lower().lstrip(".") for e in self.upload_extensions.split(",") if e.strip())

    @property
    def admin_token_file(self) -> Path:
        return self.data_dir / "admin_token"

    # -- answer evaluation (docstune eval-answers) ---------------------------------------
    judge_provider: Literal["auto", "anthropic", "openai_compatible", "none"] = Field(
        "auto", alias="JUDGE_PROVIDER",
        description="The LLM judge of eval-answers; auto: anthropic when ANTHROPIC_API_KEY is set, else "
        "openai_compatible when LLM_PROVIDER=openai_compatible or OPENAI_BASE_URL is set, else none",
    )
    judge_model: str | None = Field(None, alias="JUDGE_MODEL", description="default: ANTHROPIC_MODEL / OPENAI_MODEL")
    judge_retries: int = Field(2, alias="JUDGE_RETRIES", ge=0,
                               description="Retries of a judge call that was rate limited or timed out")
    judge_retry_seconds: float = Field(5.0, alias="JUDGE_RETRY_SECONDS", ge=0,
                                       description="First wait before such a retry (doubles each time)")
    llm_prices: dict[str, tuple[float, float]] = Field(
        {"anthropic/claude-haiku": (1.0, 5.0), "anthropic/claude-sonnet": (3.0, 15.0),
         "anthropic/claude-opus": (5.0, 25.0), "extractive": (0.0, 0.0)},
        alias="LLM_PRICES",
        description="USD per million input and output tokens, by LLM name or its beginning (JSON, e.g. "
        '{"anthropic/claude-sonnet": [3, 15], "openai_compatible/llama3.1": [0, 0]}); eval-answers\' cost and '
        "the estimate of synthetic questions",
    )
    eval_users: int = Field(100, alias="EVAL_USERS", ge=1, description="Traffic of eval-answers' monthly cost: users")
    eval_questions_per_day: float = Field(10.0, alias="EVAL_QUESTIONS_PER_DAY", gt=0,
                                          description="... and questions per user per day (30-day months)")
    bertscore_model: Path | None = Field(
        None, alias="BERTSCORE_MODEL",
        description="A local transformer folder for BERTScore F1 (e.g. roberta-large); default: the token "
        "embeddings of the serving sentence-transformers model",
    )

    @field_validator("llm_prices", mode="before")
    @classmethod
    def _prices_as_json(cls, value):
        if isinstance(value, str):
            import json

            try:
                return json.loads(value)
            except ValueError:
                raise ValueError('must be JSON like {"anthropic/claude-sonnet": [3, 15]}') from None
        return value

    def price_of(self, llm_name: str) -> tuple[float, float] | None:
        """(USD per million input tokens, per million output tokens) of an LLM, by the longest matching name."""
        matches = [name for name in self.llm_prices if llm_name == name or llm_name.startswith(name)]
        return self.llm_prices[max(matches, key=len)] if matches else None

    # -- training ------------------------------------------------------------------
    synth_questions_per_chunk: int = Field(
        2, alias="SYNTH_QUESTIONS_PER_CHUNK", ge=1, description="Synthetic questions written per chunk"
    )
    synth_model: str | None = Field(
        None, alias="SYNTH_MODEL",
        description="LLM model for synthetic questions; default: ANTHROPIC_MODEL, or OPENAI_MODEL for an "
        "OpenAI-compatible server",
    )
    synth_batch_size: int = Field(
        8, alias="SYNTH_BATCH_SIZE", ge=1, le=50, description="Chunks per request to the LLM for synthetic questions"
    )
    synth_concurrency: int = Field(
        4, alias="SYNTH_CONCURRENCY", ge=1, le=32, description="Requests for synthetic questions sent at once"
    )
    gate_metric: str = Field("mrr@10", alias="GATE_METRIC", description="Metric a candidate model must improve")
    gate_min_improvement: float = Field(0.01, alias="GATE_MIN_IMPROVEMENT", description="Least rise of GATE_METRIC")
    gate_tolerance: float = Field(
        0.01, alias="GATE_TOLERANCE", ge=0,
        description="Most any other headline metric may fall (never less than one question's worth, 1/n)"
    )
    gate_min_questions: int = Field(
        DEFAULT_MIN_QUESTIONS, alias="GATE_MIN_QUESTIONS", ge=1,
        description="Fewer evaluation questions than this and the verdict is 'not enough evidence'")
    gate_confidence: float = Field(
        0.95, alias="GATE_CONFIDENCE", gt=0.5, lt=1,
        description="Confidence of the paired bootstrap interval the gate decides on")
    gate_statistic: Literal[GATE_STATISTICS] = Field(
        DEFAULT_GATE_STATISTIC, alias="GATE_STATISTIC",
        description="Paired test that must agree with the interval: wilcoxon (signed-rank) or sign (the old gate)")
    evaluation_share: float = Field(
        EVALUATION_SHARE, alias="EVALUATION_SHARE", gt=0, lt=1,
        description="Share of chunks whose rated questions join the frozen evaluation set (never trained on)")
    evaluation_share_start: float = Field(
        EVALUATION_SHARE_START, alias="EVALUATION_SHARE_START", gt=0, lt=1,
        description="The share while the evaluation set holds fewer than GATE_MIN_QUESTIONS questions "
                    "(when above EVALUATION_SHARE): ratings are few at first")

    def evaluation_share_for(self, held: int) -> float:
        """The share a growth of an evaluation set holding ``held`` questions assigns by."""
        return growth_share(held, self.evaluation_share, self.evaluation_share_start, self.gate_min_questions)

    def gate(self, **overrides):
        """The gate's settings (``training.gate.GateConfig``); an override that is None is left out."""
        from training.gate import GateConfig

        chosen = {"metric": self.gate_metric, "min_improvement": self.gate_min_improvement,
                  "tolerance": self.gate_tolerance, "min_questions": self.gate_min_questions,
                  "confidence": self.gate_confidence, "statistic": self.gate_statistic}
        chosen.update({k: v for k, v in overrides.items() if v is not None})
        return GateConfig(**chosen)

    def training_options(self):
        """What the settings fix for every training run (``training.pipeline.TrainingOptions``)."""
        from training.pipeline import TrainingOptions

        return TrainingOptions(loss=self.retrain_loss, batch_size=self.retrain_batch_size,
                               max_seq_length=self.retrain_max_seq_length, device=self.embeddings_device)

    def synthetic_options(self):
        """Whether every retrain adds synthetic questions, and for how many chunks at most
        (``training.pipeline.SyntheticOptions``); a request's own option wins."""
        from training.pipeline import SyntheticOptions

        return SyntheticOptions(self.retrain_include_synthetic, self.retrain_synthetic_chunks)

    @property
    def synth_cache_dir(self) -> Path:
        """The LLM's synthetic questions, cached by chunk hash."""
        return self.data_dir / "synthetic_cache"

    # -- jobs and swaps --------------------------------------------------------------
    redis_url: str | None = Field(
        None, alias="REDIS_URL", description="Job queue on Redis (pip install redis); unset = SQLite file in DATA_DIR"
    )
    jobs_worker: Literal["thread", "off", "immediate"] = Field(
        "thread",
        alias="JOBS_WORKER",
        description="thread: the server runs jobs in its own threads; off: a separate `docstune worker` runs them; "
        "immediate: run each job at once in the caller (tests, debugging)",
    )
    jobs_poll_seconds: float = Field(0.5, alias="JOBS_POLL_SECONDS", gt=0, description="Longest wait of an idle worker")
    jobs_nice: int = Field(
        10, alias="JOBS_NICE", ge=0, le=19,
        description="Niceness of the threads that run jobs (retrain, re-index, ingest) on Linux, so that background "
        "work yields the cores to the chat; 0 keeps the server's priority",
    )
    jobs_stale_seconds: int = Field(
        300, alias="JOBS_STALE_SECONDS", ge=10,
        description="A running job of another host with no heartbeat for this long is marked failed",
    )
    swap_keep_previous: int = Field(
        1, alias="SWAP_KEEP_PREVIOUS", ge=0, description="Earlier collections kept for a rollback"
    )
    index_refresh_seconds: float = Field(
        5.0, alias="INDEX_REFRESH_SECONDS", ge=0,
        description="How often a process checks whether another one moved the alias (0: every search)",
    )
    retrain_min_new_feedback: int = Field(
        0, alias="RETRAIN_MIN_NEW_FEEDBACK", ge=0,
        description="Start a retrain once this many messages were rated since the last one; 0 = off",
    )
    retrain_check_minutes: int = Field(
        10, alias="RETRAIN_CHECK_MINUTES", ge=1, le=60, description="How often the retrain policy is checked"
    )
    retrain_max_seq_length: int | None = Field(
        None, alias="RETRAIN_MAX_SEQ_LENGTH", ge=8,
        description="Tokens read per text while training (retrain and docstune train); unset = the data's default")
    retrain_batch_size: int | None = Field(
        None, alias="RETRAIN_BATCH_SIZE", ge=2,
        description="Training batch size (retrain and docstune train); unset = the data's default")
    retrain_loss: Literal[LOSSES] | None = Field(
        None, alias="RETRAIN_LOSS",
        description="Loss of every retrain (scheduled or requested) and docstune train; unset or auto = the data's "
        "measured default (mnrl for ratings)")
    retrain_include_synthetic: bool = Field(
        True, alias="RETRAIN_INCLUDE_SYNTHETIC",
        description="Every retrain also trains on synthetic questions about the stored chunks (docs/training.md: "
        "the one lever that gains); a request's include_synthetic wins")
    retrain_synthetic_chunks: int = Field(
        SYNTHETIC_CHUNKS_PER_ROUND, alias="RETRAIN_SYNTHETIC_CHUNKS", ge=1,
        description="Chunks that get synthetic questions per retrain, those the serving model ranks worst first "
        "(the round's time budget, docs/training.md)")
    embeddings_api_key: str | None = Field(
        None, alias="EMBEDDINGS_API_KEY", description="Bearer key of /v1/embeddings; unset = the admin token only"
    )
    embeddings_max_inputs: int = Field(256, alias="EMBEDDINGS_MAX_INPUTS", ge=1)
    embeddings_max_input_chars: int = Field(8192, alias="EMBEDDINGS_MAX_INPUT_CHARS", ge=1)

    @field_validator("redis_url", "embeddings_api_key", mode="before")
    @classmethod
    def _jobs_empty_is_unset(cls, value):
        return None if value == "" else value

    @field_validator("retrain_loss", mode="before")
    @classmethod
    def _automatic_loss(cls, value):
        return None if value in ("", "auto") else value

    @property
    def jobs_db_file(self) -> Path:
        """huey's SQLite queue (the default without REDIS_URL)."""
        return self.data_dir / "jobs.db"


@lru_cache
def get_settings() -> Settings:
    return Settings()
