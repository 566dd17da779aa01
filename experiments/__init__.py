"""Validation-only studies behind docs/experiments.md; run each from the repository root as
`python3 -m experiments.NAME --help`."""


def within_vocabulary(ids, vocab_size):
    """Token ids numbered for a larger vocabulary (`pretrain_levers`' cached ids.npy), as a vocabulary of the
    `vocab_size` commonest words reads them: `TextVectorization` numbers words by frequency, so the words past it
    are the ones it lacks, and they become [UNK].

    >>> within_vocabulary([[5, 120, 0]], 100).tolist()
    [[5, 1, 0]]
    """
    import numpy as np

    from keras_bert_mlm.text import UNK_ID

    ids = np.asarray(ids)
    return np.where(ids >= vocab_size, UNK_ID, ids)
