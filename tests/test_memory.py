import os
import platform
import subprocess
import sys

import pytest

from conftest import ROOT
from keras_bert_mlm import memory

GLIBC = platform.libc_ver()[0] == "glibc"

# Four threads allocate at once, then glibc lists its arenas (`malloc_info`: one <heap> each).
COUNT_ARENAS = """
import ctypes, sys, tempfile, threading
if sys.argv[1] == "import":
    import keras_bert_mlm
together = threading.Barrier(4)
def allocate():
    together.wait()
    kept = [bytearray(1 << 20) for _ in range(4)]
threads = [threading.Thread(target=allocate) for _ in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile("r") as f:
    stream = ctypes.c_void_p(libc.fopen(f.name.encode(), b"w"))
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    print(f.read().count("<heap nr="))
"""


def test_glibc_keeps_freed_memory_for_the_next_step():
    # mallopt answers 1 when glibc takes the setting; elsewhere the call is skipped (False).
    assert memory.keep_freed_memory() is GLIBC


@pytest.mark.skipif(not GLIBC, reason="glibc's arenas")
def test_importing_the_package_puts_every_thread_on_one_heap():
    def arenas(how, **env):
        env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env
        return int(subprocess.run([sys.executable, "-c", COUNT_ARENAS, how], cwd=ROOT, env=env, check=True,
                                  capture_output=True, text=True).stdout)

    assert arenas("plain") > 1  # glibc's own choice: an arena per thread that allocates at once
    assert arenas("import") == 1
    assert arenas("import", MALLOC_ARENA_MAX="4") > 1  # the user's setting wins
