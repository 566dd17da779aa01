"""keras_bert_mlm: pretrain a small BERT, fine-tune it, ship SavedModels that take raw strings.

Importing the package first puts every thread on glibc's main heap (`memory.one_arena`): it must
happen before NumPy's and TensorFlow's threads start. In `train.py` it took pretraining's steps from a quarter
of their CPU time in the kernel to none (docs/speed.md). Set MALLOC_ARENA_MAX to keep glibc's own choice.
"""

from .memory import one_arena

one_arena()
