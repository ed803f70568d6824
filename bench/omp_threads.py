"""Benchmark: what a second thread calling torch costs a single question's encode (libgomp teams).

Encodes 200 single questions with a bare SentenceTransformer (the bundled model), always from one pool
thread A, then from another thread B, then from A again. Found 2026-12-05 (docs/performance.md, "Two
threads running torch halve a question's speed"): A alone 6.7 ms a question; once B has run the model,
12.4–13.4 ms from either.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/omp_threads.py
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402
from plugins.sentence_transformers_backend import bundled_model_path  # noqa: E402
raw=SentenceTransformer(bundled_model_path())
a=ThreadPoolExecutor(1); b=ThreadPoolExecutor(1)
qs=[f"How do I configure option number {i} for the refund policy?" for i in range(200)]
def on(pool): return lambda q: pool.submit(raw.encode, q).result()
for name,f in [("thread A only", on(a)), ("thread A again", on(a)), ("thread B (A idle)", on(b)), ("thread A after B", on(a))]:
    for q in qs[:10]: f(q)
    t=time.perf_counter()
    for q in qs: f(q)
    print(name, f"{(time.perf_counter()-t)/len(qs)*1000:.2f} ms/q", flush=True)
