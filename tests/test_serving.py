"""seqzoo.predictor: the Lightning-free serving path answers exactly as seqzoo.load, refuses what load
refuses, and a process using it never imports Lightning."""

from __future__ import annotations

import copy
import json
import pickle
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import seqzoo
from benchmarks.serving import raw_window
from seqzoo.errors import ArtifactError, InputError
from seqzoo.serving import Predictor

ROOT = Path(__file__).resolve().parents[1]
TEXT = {
    "word_tokenizer": ["A wonderful film.", "Two hours I will never get back.", "Meh, dull."],  # "meh": [UNK]
    "addition_chars": ["16+75", "999+1", "0+0", "5+123"],
}


def raw_input(model) -> object:
    """A few raw inputs of the kind the model's card shows."""
    kind = model.preprocessing["kind"]
    if kind == "series_window":
        return np.sin(np.arange(4 * model.preprocessing["window"]) / 3).reshape(4, -1)
    if kind == "jena_weather":
        return raw_window(model)
    return TEXT[kind]


def assert_same_answers(got: object, expected: object) -> None:
    if isinstance(expected, pd.Series):
        pd.testing.assert_series_equal(got, expected, check_exact=True)
    elif isinstance(expected, np.ndarray):
        np.testing.assert_array_equal(got, expected)
    else:
        assert got == expected


@pytest.mark.parametrize("name", seqzoo.list_pretrained())
def test_the_predictor_answers_exactly_as_the_lightning_module(name):
    served, task = seqzoo.predictor(name), seqzoo.load(name)
    assert isinstance(served, Predictor) and not served.training
    raw = raw_input(served)
    assert_same_answers(served.predict(raw), task.predict(raw))
    assert served.num_parameters == task.num_parameters
    assert served.artifact_config["metrics"] == task.artifact_config["metrics"]


def readings_beyond_one_window(model, extra: int) -> pd.DataFrame:
    """One window of raw readings and `extra` rows more, at 10-minute steps: `extra + 1` rolling forecasts."""
    frame = raw_window(model)
    longer = pd.concat([frame, frame.iloc[:extra]], ignore_index=True)  # times must keep 10-minute steps
    longer["Date Time"] = pd.date_range("2024-06-01", periods=len(longer), freq="10min").strftime(
        "%d.%m.%Y %H:%M:%S"
    )
    return longer


def test_rolling_jena_forecasts_match_and_the_batch_size_changes_nothing():
    served, task = seqzoo.predictor("gru.jena"), seqzoo.load("gru.jena")
    longer = readings_beyond_one_window(served, 30)
    rolling = served.predict(longer, rolling=True, batch_size=7)
    assert len(rolling) == 31
    pd.testing.assert_series_equal(rolling, task.predict(longer, rolling=True), check_exact=False, rtol=1e-6)


def forecasts_in_train_mode_from_threads(model, batch_size: int, calls: int) -> tuple[pd.Series, list]:
    """`model`'s rolling forecasts as it answers in eval mode, then what 4 threads calling it `calls`
    times each got once it was put in train mode."""
    longer = readings_beyond_one_window(model, 40)
    expected = model.predict(longer, rolling=True, batch_size=batch_size)
    model.train()
    answers: list[pd.Series] = []

    def serve() -> None:
        for _ in range(calls):
            answers.append(model.predict(longer, rolling=True, batch_size=batch_size))

    threads = [threading.Thread(target=serve) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return expected, answers


def test_a_predictor_put_in_training_mode_predicts_without_dropout_from_any_thread():
    """A predictor only answers: `predict` puts it back in eval mode and leaves it there. Switching to
    eval and back on every call raced between threads: one thread's restore turned dropout on in the
    middle of another's forecasts."""
    served = seqzoo.predictor("gru_dropout.jena")
    expected, answers = forecasts_in_train_mode_from_threads(served, batch_size=4, calls=2)
    assert len(answers) == 8 and all(answer.equals(expected) for answer in answers)
    assert not served.training and not served.net.training


def test_a_task_module_in_training_mode_predicts_without_dropout_from_any_thread_and_trains_on():
    """`seqzoo.load(...)` in the middle of training (train mode) answers in eval mode for the call
    and is back in train mode after. From several threads, each call restoring the mode on its own
    turned dropout on under another thread's forward pass; the last call out restores it now."""
    task = seqzoo.load("gru_dropout.jena")
    expected, answers = forecasts_in_train_mode_from_threads(task, batch_size=2, calls=3)
    assert len(answers) == 12 and sum(not answer.equals(expected) for answer in answers) == 0
    assert task.training and task.net.training


def test_bad_inputs_are_the_same_input_errors_as_with_load():
    served = seqzoo.predictor("gru.synthetic")
    with pytest.raises(InputError, match=r"shape \(n, 10\)"):
        served.predict(np.zeros((2, 9)))
    for bad in (0, True, 2.0):
        with pytest.raises(InputError, match="batch_size must be an integer >= 1"):
            served.predict(np.zeros((2, 10)), batch_size=bad)
    windows = np.sin(np.arange(30.0) / 3).reshape(3, 10)  # a numpy integer is an integer
    np.testing.assert_array_equal(served.predict(windows, batch_size=np.int64(2)), served.predict(windows))
    with pytest.raises(InputError, match=r"unknown predict options \['rolling'\]"):
        served.predict(np.zeros((2, 10)), rolling=True)
    jena = seqzoo.predictor("gru.jena")
    with pytest.raises(InputError, match="^predict option rolling must be a bool, got str 'false'$"):
        jena.predict(raw_window(jena), rolling="false")


def test_an_ensemble_folder_is_refused_with_a_pointer_to_load(tmp_path):
    folder = seqzoo.ensemble(["gru.synthetic", "lstm.synthetic"]).save_pretrained(tmp_path / "pair")
    with pytest.raises(InputError, match="is an ensemble; load it with seqzoo.load"):
        seqzoo.predictor(folder)


def copy_of(name: str, tmp_path: Path) -> Path:
    folder = tmp_path / name
    shutil.copytree(seqzoo.hub.resolve(name), folder)
    return folder


def edit_config(folder: Path, edit) -> None:
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    (folder / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize(
    "label,edit,message",
    [
        ("unknown task", lambda c: c["task"].update(name="ranking"), "task must be one of"),
        ("one class", lambda c: c["task"]["kwargs"].update(num_classes=1), "num_classes must be an integer"),
        ("wider network", lambda c: c["architecture"]["kwargs"].update(hidden_size=33), "mis-sized"),
        ("bigger vocabulary", lambda c: c["architecture"]["kwargs"].update(vocab_size=20003), "vocabulary"),
    ],
)
def test_artifacts_that_do_not_describe_their_weights_are_artifact_errors(tmp_path, label, edit, message):
    folder = copy_of("gru.imdb", tmp_path)
    edit_config(folder, edit)
    with pytest.raises(ArtifactError, match=message):
        seqzoo.predictor(folder)


def test_a_serving_process_never_imports_lightning_or_torchmetrics():
    """Every task kind in one fresh process: the reason the predictor exists is the start-up it saves."""
    code = (
        "import sys, numpy as np, seqzoo\n"
        "from benchmarks.serving import raw_window\n"
        "m = seqzoo.predictor('gru.jena'); print(m.predict(raw_window(m)))\n"
        "print(seqzoo.predictor('gru.synthetic').predict(np.zeros((1, 10))))\n"
        "print(seqzoo.predictor('lstm.imdb').predict(['A wonderful film.']))\n"
        "print(seqzoo.predictor('seq2seq_attention.addition').predict(['16+75']))\n"
        "print(sorted({k.split('.')[0] for k in sys.modules} & {'lightning', 'pytorch_lightning', "
        "'torchmetrics', 'lightning_utilities'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "[]", done.stdout
    assert lines[-2] == "['91']"


def test_a_predictor_moves_with_to_and_keeps_answering():
    window = np.sin(np.arange(10.0) / 3).reshape(1, 10)
    before = seqzoo.predictor("gru.synthetic")
    served = seqzoo.predictor("gru.synthetic").to(torch.float32).to("cpu")
    assert served.device == torch.device("cpu")
    np.testing.assert_array_equal(served.predict(window), before.predict(window))


@pytest.mark.parametrize("name", ["gru.synthetic", "gru.jena", "lstm.imdb", "seq2seq_attention.addition"])
def test_a_pickled_or_copied_predictor_answers_with_its_own_network(name):
    """A process pool pickles what it sends; a copy, or a quantized model, must run its own weights."""
    served = seqzoo.predictor(name)
    raw = raw_input(served)
    expected = served.predict(raw)
    for twin in (pickle.loads(pickle.dumps(served)), copy.deepcopy(served)):
        assert_same_answers(twin.predict(raw), expected)
    copied = copy.deepcopy(served)
    with torch.no_grad():
        for weight in copied.net.parameters():
            weight.zero_()
    assert_same_answers(served.predict(raw), expected)  # the original is untouched
    answers = copied.predict(raw)  # with zeroed weights every answer changes
    assert type(answers) is type(expected)
    if isinstance(expected, list):
        assert all(a != e for a, e in zip(answers, expected, strict=True)), answers
    else:
        assert not np.isclose(np.asarray(answers), np.asarray(expected)).any()


def test_an_onnx_runtime_predictor_pickles_as_its_model_bytes():
    served = seqzoo.predictor("gru.synthetic", runtime="onnxruntime")
    raw = raw_input(served)
    twin = pickle.loads(pickle.dumps(served))
    assert twin.net.session is not served.net.session and twin.num_parameters == served.num_parameters
    np.testing.assert_array_equal(twin.predict(raw), served.predict(raw))


def assert_close_answers(got: object, expected: object, tolerance: float) -> None:
    """Equal answers to addition questions; numbers within `tolerance` (absolute) of each other."""
    if isinstance(expected, pd.Series):
        pd.testing.assert_series_equal(got, expected, check_exact=False, rtol=0, atol=tolerance)
    elif isinstance(expected, list):
        assert got == expected
    else:  # forecasts (an array, or one number for one raw Jena window) and probabilities
        np.testing.assert_allclose(got, expected, rtol=0, atol=tolerance)


@pytest.mark.parametrize("name", seqzoo.list_pretrained())
def test_a_model_in_float64_answers_as_in_float32(name):
    """The encoded inputs follow the weights' dtype, so `.to(torch.float64)` (or `.double()`) works."""
    raw = raw_input(seqzoo.predictor(name))
    expected = seqzoo.predictor(name).predict(raw)
    assert_close_answers(seqzoo.predictor(name).to(torch.float64).predict(raw), expected, 1e-4)


@pytest.mark.parametrize("load", [seqzoo.predictor, seqzoo.load], ids=["predictor", "load"])
@pytest.mark.parametrize(
    ("name", "tolerance"),
    [("gru.jena", 0.5), ("lstm.imdb", 0.02), ("gru.synthetic", 0.01)],  # degC, P, value
)
def test_a_model_in_half_precision_answers_close_to_float32(load, name, tolerance):
    raw = raw_input(load(name))
    expected = load(name).predict(raw)
    for half in (torch.bfloat16, torch.float16):
        assert_close_answers(load(name).to(half).predict(raw), expected, tolerance)
