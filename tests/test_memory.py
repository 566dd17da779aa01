import platform

from keras_bert_mlm import memory


def test_glibc_keeps_freed_memory_for_the_next_step():
    # mallopt answers 1 when glibc takes the setting; elsewhere the call is skipped (False).
    assert memory.keep_freed_memory() is (platform.libc_ver()[0] == "glibc")
