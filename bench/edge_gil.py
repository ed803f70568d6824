"""Does a Qdrant Edge search release the GIL, and what does its payload cost?

On a copy of a bench/load.py DATA_DIR's Qdrant Edge folder (the folder lock allows one process): 400
``search_legs`` (dense + BM25, depth 4) from one thread, then split over two threads; a pure-Python counter's
rate alone and while the searches run (about 1x: the search releases the GIL; well under 1x: it holds it);
then depth 4 and 50 with and without payloads. Random unit-free query vectors, one BM25 question.

    .venv/bin/python bench/edge_gil.py bench/results/load-data/20000-96-sqlite-synthetic6000
"""
from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path, help="a DATA_DIR made by bench/load.py (its qdrant/ folder is copied)")
    parser.add_argument("--searches", type=int, default=400)
    args = parser.parse_args()

    import application.vectorstore.edge as edge_store
    from plugins.lexical import load_lexical

    copy = Path(tempfile.mkdtemp(prefix="edge-gil-")) / "qdrant"
    shutil.copytree(args.data_dir / "qdrant", copy)
    store = edge_store.EdgeVectorStore.open(copy)
    collection = next(p.name for p in (copy / "shards").iterdir() if p.name.startswith("chunks__"))
    rng = random.Random(0)
    queries = [[rng.gauss(0, 1) for _ in range(384)] for _ in range(args.searches)]
    sparse = load_lexical().embed_query("revenue growth of rideshare drivers insurance costs")

    def run(batch, depth=4):
        for query in batch:
            store.search_legs(collection, query, sparse, depth)

    requests = (edge_store._dense_request, edge_store._lexical_request)

    def payloads(wanted: bool) -> None:
        """Make search_legs ask for payloads (as it did before 2026-12-05) or not (as it does now)."""
        edge_store._dense_request = lambda v, k, s, payload=True: requests[0](v, k, s, payload=wanted)
        edge_store._lexical_request = lambda v, k, s, payload=True: requests[1](v, k, s, payload=wanted)

    def spin(stop, count):
        while not stop.is_set():
            count[0] += 1

    def counter_rate(seconds: float, during=None) -> float:
        """A pure-Python counter's increments per second, alone or while ``during()`` runs."""
        stop, count = threading.Event(), [0]
        spinner = threading.Thread(target=spin, args=(stop, count))
        spinner.start()
        started = time.perf_counter()
        during() if during else time.sleep(seconds)
        rate = count[0] / (time.perf_counter() - started)
        stop.set()
        spinner.join()
        return rate

    alone = counter_rate(1.0)
    for label, wanted in (("payload", True), ("no payload", False)):
        payloads(wanted)
        for depth in (4, 50):
            run(queries[:20], depth)
            started = time.perf_counter()
            run(queries, depth)
            one = time.perf_counter() - started
            threads = [threading.Thread(target=run, args=(queries[i::2], depth)) for i in range(2)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            two = time.perf_counter() - started
            beside = counter_rate(0, lambda: run(queries, depth))
            print(f"depth {depth:>2}, {label:10}: {one * 1000 / len(queries):.3f} ms a search; the {len(queries)} "
                  f"searches over two threads {two:.2f} s against {one:.2f} s on one; a Python counter beside them "
                  f"runs at {beside / alone:.2f}x its speed alone")
    store.close()
    shutil.rmtree(copy.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
