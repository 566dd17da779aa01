"""Keep glibc from handing tensor-sized memory back to the kernel at every training step.

TensorFlow's tf.data sets glibc's `M_TRIM_THRESHOLD` (its log: "Memory patch applied"), and
setting it turns glibc's adaptive mmap threshold off: every buffer over 128 KB is then mmapped and
unmapped at each step, and its pages faulted in and zeroed again. `keep_freed_memory` serves those
buffers from the heap instead, for a few hundred MB more peak memory. Every command that runs a
model calls it once TensorFlow is imported: importing TensorFlow undoes settings made before it.
What it saves is measured in docs/speed.md.
"""

import ctypes
import ctypes.util

M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX = -2, -3, -4  # glibc's malloc.h


def keep_freed_memory(mmap_threshold=32 << 20, top_pad=512 << 20):
    """Serve allocations from the heap, not from mmap (above `mmap_threshold`, glibc's most, too: a
    classifier's attention scores at 256 tokens are 67 MB), and keep `top_pad` bytes free at a heap's
    top when trimming it: a packed pretraining step frees a few hundred MB at once (the masked-LM logits
    and their gradient alone are 2 x 74 MB), which a smaller pad hands back to the kernel and faults in
    again at the next step. Returns whether it applied (False off glibc)."""
    import tensorflow  # noqa: F401 (first: importing it undoes these settings)

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.gnu_get_libc_version  # glibc only (musl, macOS, Windows: leave the allocator alone)
    except (OSError, AttributeError, TypeError):
        return False
    return all(libc.mallopt(option, value) for option, value in (
        (M_MMAP_THRESHOLD, mmap_threshold), (M_TOP_PAD, top_pad), (M_MMAP_MAX, 0)))
