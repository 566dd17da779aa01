import numpy as np
import pandas as pd

import fixtures
from keras_bert_mlm import data, teacher


def test_the_nbsvm_teacher_labels_unlabelled_reviews_with_probabilities(tmp_path):
    data_dir = fixtures.make_data_dir(str(tmp_path), n_train=400, n_unsup=100)
    reviews = data.read_imdb(data.find_source("imdb", data_dir))
    unlabelled = reviews.loc[reviews["split"] == "unsup", "text"]
    train = data.imdb_splits(reviews, 8, 0)["train"]
    p = teacher.soft_labels(train, unlabelled, seed=0)
    assert p.shape == (100,) and ((0 < p) & (p < 1)).all() and p.std() > 0.01  # probabilities, not decisions
    positive = unlabelled.str.contains(" !<br").to_numpy()  # the fixture's reviews end in "!" when positive
    # Agreement with the fixture's sentiment: chance is 0.5; 0.99 measured (the tf-idf teacher before it: 0.78).
    assert ((p > 0.5) == positive).mean() >= 0.9 and p[positive].mean() > p[~positive].mean()


def test_rotten_tomatoes_teacher_learns_from_imdb_reviews_when_told(tmp_path):
    imdb = data.read_imdb(data.find_source("imdb", fixtures.make_data_dir(str(tmp_path), n_train=400)))
    imdb_train = data.imdb_splits(imdb, 8, 0)["train"]
    # Sentences whose labels say nothing (filler words only, labels alternating), and sentences to label that
    # carry the fixture's sentiment words: only IMDB's reviews can teach the teacher those.
    rng = np.random.default_rng(0)
    rt = {"train": pd.DataFrame({"text": [" ".join(rng.choice(fixtures.FILLER, 8)) for _ in range(40)],
                                 "label": np.arange(40) % 2})}
    positive = np.arange(60) % 2 == 1
    sentences = [f"the film was {fixtures.POSITIVE[i % 8] if p else fixtures.NEGATIVE[i % 8]}"
                 for i, p in enumerate(positive)]
    agreement = {}  # of the teacher's labels with the sentences' sentiment, with and without IMDB's reviews
    for name, reads in (("with", imdb_train), ("without", None)):
        rt["unlabelled"] = pd.DataFrame({"text": sentences, "label": np.nan})
        teacher.label_unlabelled("rotten_tomatoes", rt, 0, reads)
        agreement[name] = ((rt["unlabelled"]["label"].to_numpy() > 0.5) == positive).mean()
    assert agreement["with"] >= 0.9 and agreement["without"] <= 0.7, agreement


def test_the_teacher_compiles_without_xla_even_where_keras_would_turn_it_on(a_gpu_visible):
    texts = ["a great film", "an awful film", "great fun", "awful and dull"]
    model, _ = teacher.nbsvm(texts, [1, 0, 1, 0], seed=0)
    assert model.jit_compile is False
