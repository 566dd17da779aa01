"""What a pretrained masked LM knows of sentiment before any label: validation accuracy of `--prompt`
templates and class words with no fine-tuning at all.

    python3 -m experiments.prompt_zero_shot --run runs/pre --data-dir ../shared/data --dataset imdb

Each validation text goes into each template as `--prompt` puts it (`models.Prompted`: the words after
`{text}` follow its last token, never cut); the run's masked-LM head (mlm/mlm.keras) scores the class words
at the `[mask]`; a text is called positive when the second word's logit beats the first's ("raw"), or beats
it by more than the median margin over the texts ("median": the prior the fine-tuned head's bias learns,
taken here from the unlabelled texts' own scores, so no label is used). Validation split only. Appends one
JSON line per run to --results. Not used by train.py.
"""

import argparse
import json
import os

import numpy as np

TEMPLATES = ("{text} it was [mask] .", "[mask] movie . {text}", "it was [mask] ! {text}")
WORDS = ("terrible,great", "bad,good", "awful,excellent", "worst,best", "negative,positive")
DEFAULT_RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "prompt_zero_shot.jsonl")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, help="a train.py run with mlm/mlm.keras")
    parser.add_argument("--data-dir", default="data", help="the data, as for train.py")
    parser.add_argument("--dataset", default="imdb", help="imdb or rotten_tomatoes")
    parser.add_argument("--texts", type=int, default=2000, help="validation texts scored (a seeded sample)")
    parser.add_argument("--results", default=DEFAULT_RESULTS, help="JSON lines file to append the figures to")
    args = parser.parse_args()

    import keras

    from keras_bert_mlm import data, models, text
    from keras_bert_mlm.config import Config

    cfg = Config.from_json(os.path.join(args.run, "config.json"))
    validation = data.load_dataset(args.dataset, args.data_dir, cfg.imdb_val_size, cfg.seed, True)["validation"]
    validation = validation.sample(n=min(args.texts, len(validation)), random_state=0)
    vectorizer = text.make_vectorizer(text.load_vocabulary(os.path.join(args.run, "vocab.txt")), cfg.max_len)
    ids = text.vectorize(vectorizer, validation["text"])
    labels = validation["label"].to_numpy()
    mlm = keras.saving.load_model(os.path.join(args.run, "mlm", "mlm.keras"), compile=False)
    print(f"| template | words | raw % | median % |  ({args.dataset}, {len(ids)} validation texts)")
    rows = []
    for template in TEMPLATES:
        logits = None
        for words in WORDS:
            before, after, word_ids = text.prompt_ids(vectorizer, template, words, ["negative", "positive"])
            if logits is None:
                prompted, at_mask = models.Prompted(before, after, cfg.max_len)(ids)
                logits = np.concatenate([
                    np.asarray(mlm({"token_ids": prompted[s:s + 64], "mask_positions": at_mask[s:s + 64, None]}))[:, 0]
                    for s in range(0, len(ids), 64)])
            margin = logits[:, word_ids[1]] - logits[:, word_ids[0]]
            raw, median = (np.mean((margin > cut) == labels) * 100 for cut in (0.0, np.median(margin)))
            print(f"| `{template}` | {words} | {raw:.2f} | {median:.2f} |", flush=True)
            rows.append(dict(template=template, words=words, raw=round(raw, 2), median=round(median, 2)))
    record = dict(run=os.path.basename(os.path.normpath(args.run)), dataset=args.dataset, texts=len(ids), rows=rows)
    with open(args.results, "a") as f:
        f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
