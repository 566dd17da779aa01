"""The minimal-edit probe: the rules on hand-written reviews (keras_bert_mlm.edit_rules), the edit set built
from validation and training reviews only (keras_bert_mlm.edits), and the command on a tiny run."""

import json
import os

import pandas as pd
import pytest

from conftest import assert_user_error, run_script
from keras_bert_mlm import edits
from keras_bert_mlm.config import UserError
from keras_bert_mlm.edit_rules import edits_of


def edit(text, label, kind):
    """The edit of `kind` of `text`, or None."""
    found = [e for e in edits_of(text, label) if e["kind"] == kind]
    return found[0] if found else None


@pytest.mark.parametrize("text, label, kind, expected", [
    ("The acting was great and the film is a good one.", 1, "negation",
     "The acting was not great and the film is not a good one."),
    ("I loved it.", 1, "negation", "I did not love it."),
    ("The plot was not good and the ending isn't great.", 0, "negation",
     "The plot was good and the ending is great."),
    ("A wonderful cast, the best score, I loved it.", 1, "antonym", "An awful cast, the worst score, I hated it."),
    ("Boring and pathetic.", 0, "antonym", "Gripping and amazing."),
    ("A superb film. Highly recommended. 8/10", 1, "verdict", "A lousy film. Not recommended. 3/10"),
    ("Bad film. I would not recommend it. 1 out of 10", 0, "verdict", "Good film. I would recommend it. 10 out of 10"),
    ("The movie was good and the ending bad.", 0, "intensifier", None),  # mixed: nothing
    ("Good acting, bad jokes.", 1, "antonym", None),
    ("The movie was good.", 1, "intensifier", "The movie was really good."),
    ("This movie was bad, as John said.", 0, "neutral", "This film was bad, as James said."),
])
def test_each_kind_of_edit_on_a_hand_written_review(text, label, kind, expected):
    found = edit(text, label, kind)
    assert (found and found["text"]) == expected


def test_flips_change_the_label_keeps_keep_it_and_the_words_changed_are_counted():
    records = edits_of("The story was great and the cast is excellent. I loved it. 9/10", 1)
    assert {r["kind"] for r in records} == {"negation", "verdict", "intensifier"}  # no neutral word to change
    for r in records:
        assert r["label"] == (0 if r["flips"] else 1)
        assert r["flips"] == (r["kind"] in ("negation", "antonym", "verdict"))
    assert edit("The story was great and the cast is excellent. I loved it. 9/10", 1, "negation")["words_changed"] == 6


def test_reviews_the_rules_cannot_fully_flip_are_skipped():
    assert edits_of("It was great, but the ending was terrible.", 1) == []  # both polarities
    assert edits_of("It was great. " + "Then the plot goes on and on. " * 20, 1) == []  # one hit in 150 words
    assert edits_of("It was great, a waste of a cast though.", 1) == []  # "waste": no antonym in the lexicon
    assert edits_of("The plot was 5/10 and the acting good.", 1) == []  # a lukewarm rating
    assert edit("Good acting.", 1, "negation") is None  # no copula or subject to negate "good" after


def reviews(n=40):
    """`n` reviews, half positive: every fourth has no sentiment word, so yields no edit."""
    texts = [("The film was great. I loved it." if i % 2 else "The film was dull and the plot was bad.")
             if i % 4 else "The film is about a town." for i in range(n)]
    return texts, [i % 2 for i in range(n)]


def test_the_edit_set_is_seeded_and_capped_per_kind():
    texts, labels = reviews()
    first, again = edits.build_edits(texts, labels, seed=1), edits.build_edits(texts, labels, seed=1)
    assert first == again
    assert [r["source_index"] for r in edits.build_edits(texts, labels, seed=2)] != [r["source_index"] for r in first]
    capped = edits.build_edits(texts, labels, seed=1, per_kind=3)
    assert max(pd.Series([r["kind"] for r in capped]).value_counts()) == 3
    for r in first:
        assert texts[r["source_index"]] != r["text"]
        assert r["source_index"] % 4  # a review without sentiment words is never edited


class NoTest(dict):
    """Splits whose test split cannot be read."""

    def __getitem__(self, name):
        assert name != "test", "the edit set read the test split"
        return super().__getitem__(name)


def test_test_reviews_are_never_used_and_the_training_draw_is_lifts():
    texts, labels = reviews()
    frame = pd.DataFrame({"text": texts, "label": labels})
    splits = NoTest(train=frame, validation=frame.iloc[:20], test=frame.assign(text="testonlyword"))
    sources = edits.edit_sources(splits, seed=42, per_kind=500, train_draw=10)
    assert set(sources) == {"validation", "train"}
    assert len(sources["validation"][0]) == 20 and len(sources["train"][0]) == 10
    for reviews_, records in sources.values():
        assert all(reviews_["text"][r["source_index"]] != r["text"] for r in records)


def test_scores_count_flips_against_the_new_label_and_changes_against_the_original():
    frame = pd.DataFrame({"text": ["The film was great.", "It was bad."], "label": [1, 0]})
    records = edits.build_edits(frame["text"].tolist(), frame["label"].to_numpy(), seed=0)
    texts = edits.texts_to_score(records)
    # A model that answers positive on everything: right on the originals half the time, never changes.
    figures = edits.score(pd.Series([0.9] * len(texts)).to_numpy(), frame, records)
    assert figures["original"] == {"n": 2, "accuracy": 0.5}
    assert figures["flips"]["changed"] == 0.0 and figures["keeps"]["changed"] == 0.0
    assert figures["flips"]["accuracy"] == 0.5  # the edits of the negative review become positive


def test_checked_edits_keep_the_flips_a_reader_confirmed_and_every_keep(tmp_path):
    texts, labels = reviews()
    records = edits.build_edits(texts, labels, seed=1)
    flips = [r for r in records if r["flips"]]
    path = tmp_path / "checked.jsonl"
    path.write_text("".join(json.dumps({"key": edits.edit_key(r), "holds": i == 0}) + "\n"
                            for i, r in enumerate(flips[:2])))
    kept = edits.checked_only(records, str(path))
    assert [r for r in kept if r["flips"]] == [r for r in flips if edits.edit_key(r) == edits.edit_key(flips[0])]
    assert [r for r in kept if not r["flips"]] == [r for r in records if not r["flips"]]
    path.write_text(json.dumps({"key": "0" * 16, "holds": True}) + "\n")
    with pytest.raises(UserError, match="none of its edits"):
        edits.checked_only(records, str(path))
    path.write_text("not json\n")
    with pytest.raises(UserError, match="--checked"):
        edits.checked_only(records, str(path))


def test_the_shipped_checked_set_is_well_formed():
    rows = [json.loads(line) for line in open(os.path.join(os.path.dirname(__file__), "..", "experiments",
                                                           "edits-checked.jsonl"))]
    assert rows and all(set(r) == {"key", "kind", "label", "holds", "text"} for r in rows)
    assert {r["kind"] for r in rows} <= set(edits.edit_rules.FLIPS)
    verdicts = {}
    for r in rows:  # the same edit of the same text, met twice, was judged alike
        assert verdicts.setdefault(r["key"], r["holds"]) == r["holds"]


def test_a_missing_data_dir_or_run_is_one_error(tmp_path):
    with pytest.raises(UserError, match="--data-dir"):
        edits.main(["--artifacts", str(tmp_path), "--data-dir", str(tmp_path / "nowhere")])
    with pytest.raises(UserError, match="no config.json"):
        edits.split_settings(str(tmp_path))


@pytest.mark.slow
def test_the_command_scores_a_run_and_the_bag_of_bigrams(tiny_run, data_dir, tmp_path):
    result = run_script("-m", "keras_bert_mlm.edits", "--artifacts", tiny_run, "--data-dir", data_dir,
                        "--per-source", "10", "--bigrams", "--offline")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "savedmodel  validation  flips" in result.stdout and "bigrams" in result.stdout
    with open(os.path.join(tiny_run, "edits.json")) as f:
        record = json.load(f)
    for scorer in ("savedmodel", "bigrams"):
        for source in ("validation", "train"):
            figures = record["scores"][scorer][source]
            assert 0 < figures["flips"]["n"] <= 30 and 0 < figures["keeps"]["n"] <= 20
            assert 0 <= figures["flips"]["accuracy"] <= 1
    missing = run_script("-m", "keras_bert_mlm.edits", "--artifacts", tiny_run, "--data-dir", data_dir,
                         "--savedmodel", str(tmp_path / "none"), "--offline")
    assert_user_error(missing, str(tmp_path / "none"))


def test_an_excerpt_keeps_the_evaluative_sentences_and_is_what_gets_edited():
    review = "It opens in Paris.<br /><br />The acting was great. A long chase follows! I loved it."
    assert edits.excerpt(review) == "The acting was great. I loved it."
    records = edits.build_edits([review], [1], seed=0, excerpts=True)
    assert {r["original"] for r in records} == {"The acting was great. I loved it."}
    assert edit("The acting was great. I loved it.", 1, "negation")["text"] in {r["text"] for r in records}


def test_idioms_are_no_sentiment_words():
    assert edit("Good luck finding it. The film is great.", 1, "antonym")["text"] == \
        "Good luck finding it. The film is terrible."
