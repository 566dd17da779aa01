import json
import os

from keras_bert_mlm import plots


def test_a_run_s_pictures_are_redrawn_only_when_their_files_changed(tmp_path):
    out = str(tmp_path)
    os.makedirs(os.path.join(out, "mlm"))
    history = os.path.join(out, "mlm", "history.csv")
    with open(history, "w") as f:
        f.write("epoch,loss,masked_accuracy,val_loss,val_masked_accuracy\n0,5.0,0.1,4.9,0.12\n1,4.0,0.2,4.1,0.18\n")
    with open(os.path.join(out, "validation.json"), "w") as f:
        json.dump({"mlm": {}}, f)
    picture = os.path.join(out, "plots", "mlm.png")

    def drawn():
        return os.stat(picture).st_mtime_ns

    plots.plot_run(out)
    first = drawn()
    plots.plot_run(out)  # nothing changed since: kept
    assert drawn() == first
    os.utime(picture, ns=(1, 1))  # as if drawn before the history was written: drawn again
    plots.plot_run(out)
    assert drawn() > 1
    future = drawn() + 10**12
    os.utime(picture, ns=(future, future))
    plots.plot_run(out, redraw=True)  # what `python3 -m keras_bert_mlm.plots OUT` does
    assert drawn() != future
