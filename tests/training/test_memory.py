"""Freed memory goes back to the operating system (``training.memory.release_memory``)."""
import ctypes.util
import os

from training.memory import release_memory


def resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def test_memory_a_stage_freed_is_returned_and_not_kept_at_its_peak():
    assert ctypes.util.find_library("c")  # glibc here (Debian): malloc_trim exists
    release_memory()  # what earlier tests freed would otherwise be reused without the RSS growing
    before = resident_mb()
    # many small blocks, as a trainer's tensors and Python objects leave the heap: glibc keeps them
    blocks = [bytearray(4096) for _ in range(60_000)]  # ~240 MB in small (non-mmap) allocations
    grown = resident_mb()
    assert grown - before > 150
    del blocks[:-1]  # every block but the last, so the heap's top stays in use
    assert release_memory() is True
    assert resident_mb() - before < 60
