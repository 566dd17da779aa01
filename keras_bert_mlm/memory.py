"""Keep glibc from handing tensor-sized memory back to the kernel at every training step.

TensorFlow's tf.data sets glibc's `M_TRIM_THRESHOLD` (its log: "Memory patch applied"), and
setting it turns glibc's adaptive mmap threshold off: every buffer over 128 KB is then mmapped and
unmapped at each step, and its pages faulted in and zeroed again. `keep_freed_memory` serves those
buffers from the heap instead, for a few hundred MB more peak memory. Every command that runs a
model calls it once TensorFlow is imported: importing TensorFlow undoes settings made before it.

glibc also gives threads arenas of their own, whose heaps hold at most 64 MB: a larger buffer that
one of TensorFlow's threads asks for (an XLA step's scratch space, the masked-LM logits) is mmapped
whatever the settings above. `one_arena`, which importing this package calls before any thread
exists, sends every thread to the main heap. What both save is measured in docs/speed.md.
"""

import ctypes
import os

M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -2, -3, -4, -8  # glibc's malloc.h


def _glibc():
    """The C library when it is glibc, else None (musl, macOS, Windows: leave the allocator alone)."""
    try:
        libc = ctypes.CDLL(None)  # what this process has loaded: no `ldconfig` run, as find_library would
        libc.gnu_get_libc_version  # glibc has it; musl and the others do not
        return libc
    except (OSError, AttributeError, TypeError):
        return None


def one_arena():
    """One malloc arena for every thread, unless `MALLOC_ARENA_MAX` says otherwise. It holds only for
    threads that have not yet allocated, so it must run before NumPy or TensorFlow start theirs. Returns
    whether it applied."""
    libc = _glibc()
    if libc is None or "MALLOC_ARENA_MAX" in os.environ:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, 1))


def keep_freed_memory(mmap_threshold=32 << 20, top_pad=512 << 20):
    """Serve allocations from the heap, not from mmap (above `mmap_threshold`, glibc's most, too: a
    classifier's attention scores at 256 tokens are 67 MB), and keep `top_pad` bytes free at a heap's
    top when trimming it: a packed pretraining step frees a few hundred MB at once (the masked-LM logits
    and their gradient alone are 2 x 74 MB), which a smaller pad hands back to the kernel and faults in
    again at the next step. Returns whether it applied (False off glibc)."""
    import tensorflow  # noqa: F401 (first: importing it undoes these settings)

    libc = _glibc()
    if libc is None:
        return False
    return all(libc.mallopt(option, value) for option, value in (
        (M_MMAP_THRESHOLD, mmap_threshold), (M_TOP_PAD, top_pad), (M_MMAP_MAX, 0)))
