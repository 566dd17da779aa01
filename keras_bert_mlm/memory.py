"""Keep glibc from handing tensor-sized memory back to the kernel at every training step.

TensorFlow's tf.data sets glibc's `M_TRIM_THRESHOLD` (its log: "Memory patch applied:
M_TRIM_THRESHOLD=128 kb was set"), and setting it turns glibc's adaptive mmap threshold off: every
buffer over 128 KB is then mmapped and unmapped at each step, and its pages faulted in and zeroed
again. On the 2-core development machine (cpu-hour model, MLM steps, /tmp micro-benchmark) that
was 247,000 page faults a second and 40% of the CPU time in the kernel; the two thresholds set
before the first dataset took it to 55,000 and 9%, and doubled the speed (3,884 to 7,751 real
tokens/s), for a peak RSS of 2.7 GB instead of 2.1. End to end, as `train.py --preset cpu-hour`
timed its steps: pretraining 1.822 s/step without the settings, 1.274 with them; IMDB fine-tuning
1.322 and 0.828. Every command that runs a model calls it once TensorFlow is imported (its
import undoes settings made before it: measured, 4,212 tokens/s and 176,208 faults/s then). For
the cpu-hour classifier (batches of 32 x 256 tokens, /tmp micro-benchmark beside a running
train.py, so relative figures only): 1.688 s/step and 59,729 faults/s without the settings, 1.364
and 24,572 with the thresholds alone, 1.095 and 3,189 with mmap off too (peak RSS 1.3, 1.4, 1.5 GB).
"""

import ctypes
import ctypes.util

M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX = -2, -3, -4  # glibc's malloc.h


def keep_freed_memory(mmap_threshold=32 << 20, top_pad=64 << 20):
    """Serve allocations from the heap, not from mmap (above `mmap_threshold`, glibc's most, too: a
    classifier's attention scores at 256 tokens are 67 MB), and keep `top_pad` bytes free at a heap's
    top when trimming it. Returns whether it applied (False off glibc)."""
    import tensorflow  # noqa: F401 (first: importing it undoes these settings)

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.gnu_get_libc_version  # glibc only (musl, macOS, Windows: leave the allocator alone)
    except (OSError, AttributeError, TypeError):
        return False
    return all(libc.mallopt(option, value) for option, value in (
        (M_MMAP_THRESHOLD, mmap_threshold), (M_TOP_PAD, top_pad), (M_MMAP_MAX, 0)))
