"""glibc housekeeping for a long-running server: heap arenas, returning freed pages, thread names
(no Streamlit here: the training worker thread calls it too)."""
from __future__ import annotations


def _libc():
    try:
        import ctypes
        import ctypes.util

        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


LIBC = _libc()


def release_memory() -> None:
    """Give freed heap pages back to the OS (glibc); a no-op elsewhere. Called after big jobs
    such as a training run, so a busy server's resident memory does not only ever grow."""
    if LIBC is not None and hasattr(LIBC, "malloc_trim"):
        LIBC.malloc_trim(0)


def limit_arenas(n: int = 2) -> None:
    """Every visitor's script runs in its own thread; glibc gives busy threads their own heap
    arenas (up to 8 per core), which keeps freed memory resident. A few arenas are plenty."""
    if LIBC is not None and hasattr(LIBC, "mallopt"):
        LIBC.mallopt(-8, n)  # M_ARENA_MAX


MMAP_THRESHOLD = 4 * 2**20


def fixed_mmap_threshold(n: int = MMAP_THRESHOLD) -> None:
    """Serve every allocation of `n` bytes or more (tensors of a batch's activations, an embedding's
    gradient) from its own memory map, which free() returns to the OS at once. glibc otherwise
    raises this threshold as big blocks are freed (up to 32 MB), after which such tensors come from
    the heap, and batches of changing shapes leave it fragmented: resident memory grew by 300 MB
    over 20 s of training an LSTM on IMDB reviews, and did not come back."""
    import os

    if os.environ.get("RNN_PLAYGROUND_MMAP_THRESHOLD") == "dynamic":  # glibc's own (for measurements)
        return
    if LIBC is not None and hasattr(LIBC, "mallopt"):
        LIBC.mallopt(-3, n)  # M_MMAP_THRESHOLD (setting it also turns the dynamic threshold off)


def name_thread(name: str) -> None:
    """Give the calling OS thread a name (at most 15 bytes) that `top -H`, `ps -L` and
    /proc/<pid>/task/<tid>/comm show; Python 3.11 names only its own Thread objects."""
    if LIBC is not None and hasattr(LIBC, "prctl"):
        LIBC.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME
