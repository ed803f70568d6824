"""A third-party backend registered through the entry point group, with nothing installed:
the test writes a plugin module and its dist-info on sys.path, exactly what pip would leave."""
import sys
import textwrap

import pytest

from plugins.registry import ENTRY_POINT_GROUP, clear_instances, get_registry, load_embeddings

TINY_PLUGIN = textwrap.dedent(
    '''
    import hashlib, math, re, threading
    from plugins.base import EmbeddingBackend

    class HashingEmbeddings(EmbeddingBackend):
        """Bag of hashed words, 64-d: tiny, deterministic, no weights."""
        def __init__(self, name, **options):
            self.name = name
        def _vector(self, text):
            v = [0.0] * 64
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                v[int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1.0
            norm = math.sqrt(sum(x * x for x in v)) or 1.0
            return [x / norm for x in v]
        def embed_documents(self, texts):
            return [self._vector(t) for t in texts]
        def embed_query(self, text):
            return self._vector(text)
        dimension = 64
        max_seq_length = 128
        fingerprint = "tiny-hashing-v1"

    # a test can hold a re-index in the middle: the gated model's third batch of 4+ texts waits
    # for HOLD (HELD says it is waiting); smaller calls (an ingestion meanwhile) never wait
    HOLD, HELD = threading.Event(), threading.Event()

    class GatedHashingEmbeddings(HashingEmbeddings):
        fingerprint = "tiny-hashing-gated-v1"
        calls = 0
        def embed_documents(self, texts):
            if len(texts) >= 4:
                GatedHashingEmbeddings.calls += 1
                if GatedHashingEmbeddings.calls >= 3 and not HOLD.is_set():
                    HELD.set()
                    HOLD.wait(120)
            return super().embed_documents(texts)

    def register_embedding_models(register):
        register("tiny-hashing", lambda name, **options: HashingEmbeddings(name, **options))
        register("tiny-hashing-gated", lambda name, **options: GatedHashingEmbeddings(name, **options))
    '''
)


@pytest.fixture
def tiny_plugin(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    (site / "docstune_tiny.py").write_text(TINY_PLUGIN)
    dist = site / "docstune_tiny-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: docstune-tiny\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\ntiny = docstune_tiny:register_embedding_models\n")
    monkeypatch.syspath_prepend(str(site))
    get_registry(refresh=True)
    yield "tiny-hashing"
    sys.modules.pop("docstune_tiny", None)
    monkeypatch.undo()
    get_registry(refresh=True)
    clear_instances()


def test_builtin_backend_registers_through_the_same_hook():
    registry = get_registry(refresh=True)
    assert registry.resolve("all-MiniLM-L6-v2").plugin.startswith("plugins.sentence_transformers_backend")


def test_an_entry_point_plugin_is_found_and_used_end_to_end(tiny_plugin, make_settings, docs_dir):
    from application.container import DocsTune

    assert get_registry().resolve(tiny_plugin).plugin == "docstune_tiny:register_embedding_models"
    services = DocsTune(make_settings(EMBEDDINGS_NAME=tiny_plugin))
    try:
        report = services.documents.ingest_paths([docs_dir])
        assert len(report.added) == 3 and not report.failed
        assert services.serving.current.collection == "chunks__tiny-hashing-v1"
        assert services.vector_store.vector_size(services.serving.current.collection) == 64
        hits = services.serving.search("office cat keyboards", k=2)
        assert hits[0].title == "Office life"
    finally:
        services.close()


def test_unknown_names_list_what_is_registered(tiny_plugin):
    from plugins import EmbeddingModelError

    with pytest.raises(EmbeddingModelError) as excinfo:
        load_embeddings("no-such-model")
    assert "tiny-hashing" in str(excinfo.value) and "all-MiniLM-L6-v2" in str(excinfo.value)
