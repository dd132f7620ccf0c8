"""The artifact folder: a faithful round trip, and a specific error for every way it can be broken."""

from __future__ import annotations

import inspect
import json
import shutil
import subprocess

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import seqzoo
import seqzoo.hub
from seqzoo.artifact import git_sha, save_pretrained
from seqzoo.data.synthetic import SeriesScaler
from seqzoo.errors import ArtifactError, InputError
from seqzoo.tasks import ForecastingTask

WINDOWS = np.random.default_rng(0).normal(size=(7, 10))


@pytest.fixture
def artifact(tmp_path):
    task = ForecastingTask(
        arch="gru", arch_kwargs={"hidden_size": 8}, preprocessing=SeriesScaler(10, 1.5, 3.0).to_config()
    )
    return save_pretrained(task, tmp_path / "art", name="gru.test", metrics={"test_mae": 0.25}), task


def test_round_trip_keeps_weights_preprocessing_and_metrics(artifact):
    folder, task = artifact
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    loaded = seqzoo.load(folder)
    assert not loaded.training
    assert loaded.preprocessing == task.preprocessing
    assert np.array_equal(loaded.predict(WINDOWS), task.predict(WINDOWS))
    assert json.loads((folder / "config.json").read_text())["metrics"] == {"test_mae": 0.25}


def test_predictions_are_in_raw_units(artifact):
    folder, _ = artifact
    model = seqzoo.load(folder)
    shifted = model.predict(WINDOWS * 3.0 + 1.5)  # the same normalised input...
    model.preprocessing = SeriesScaler(10, 0.0, 1.0).to_config()
    plain = model.predict(WINDOWS)
    np.testing.assert_allclose(shifted, plain * 3.0 + 1.5, rtol=1e-5)  # ...gives the same output, rescaled


def test_missing_config_names_the_file(artifact):
    folder, _ = artifact
    (folder / "config.json").unlink()
    with pytest.raises(ArtifactError, match=r"config\.json: missing"):
        seqzoo.load(folder)


@pytest.mark.parametrize("cut", [0, 7, 100, -16])
def test_truncated_weights_name_the_file(artifact, cut):
    folder, _ = artifact
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:cut])  # only the first 0, 7 or 100 bytes, or all but the last 16
    with pytest.raises(ArtifactError, match=r"model\.safetensors: corrupt or truncated"):
        seqzoo.load(folder)


def test_corrupt_header_names_the_file(artifact):
    folder, _ = artifact
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[8:20] = b"not json!!!!"
    weights.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"model\.safetensors"):
        seqzoo.load(folder)


def test_weights_of_another_size_are_rejected(artifact, tmp_path):
    folder, _ = artifact
    other = ForecastingTask(
        arch="gru", arch_kwargs={"hidden_size": 16}, preprocessing=SeriesScaler(10, 0.0, 1.0).to_config()
    )
    save_pretrained(other, tmp_path / "other")
    (folder / "model.safetensors").write_bytes((tmp_path / "other" / "model.safetensors").read_bytes())
    with pytest.raises(ArtifactError, match=r"mis-sized \['net\.encoder"):
        seqzoo.load(folder)


@pytest.mark.parametrize(
    "edit,match",
    [
        (lambda c: c.update(format_version=99), "format_version 99 is not supported"),
        (lambda c: c.pop("preprocessing"), r"missing keys \['preprocessing'\]"),
        (lambda c: c.update(surprise=1), r"unexpected keys \['surprise'\]"),
        (lambda c: c["architecture"].update(name="transformer"), "cannot build"),
        (lambda c: c["preprocessing"].update(kind="pickle"), "unknown preprocessing kind"),
        (lambda c: c["task"]["kwargs"].update(predict_delta="no"), "predict_delta must be true or false"),
        (lambda c: c["task"].update(name="classification"), r"unknown arguments \['loss', 'predict_delta'"),
        (lambda c: c["task"]["kwargs"].update(pretrained="gru.jena"), r"unknown arguments \['pretrained'\]"),
    ],
)
def test_bad_config_is_a_specific_error_for_both_loaders(artifact, edit, match):
    """`seqzoo.load` (the LightningModule) and `seqzoo.predictor` (serving) refuse the same folders."""
    folder, _ = artifact
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    (folder / "config.json").write_text(json.dumps(config))
    for loader in (seqzoo.load, seqzoo.predictor):
        with pytest.raises(ArtifactError, match=match):
            loader(folder)


def test_the_task_arguments_serving_accepts_are_each_task_classs_own():
    """`inference.TASK_ARGUMENTS` lets serving check a config without importing the task classes."""
    from seqzoo.inference import TASK_ARGUMENTS, TRAINING_ARGUMENTS
    from seqzoo.tasks import task_class
    from seqzoo.tasks.base import FINETUNE_ARGS as not_saved

    for name, own in TASK_ARGUMENTS.items():
        taken = set(inspect.signature(task_class(name)).parameters) - {"arch", "arch_kwargs", "preprocessing"}
        assert taken - set(not_saved) == {*own, *TRAINING_ARGUMENTS}, name


def test_config_that_is_not_json_is_an_error(artifact):
    folder, _ = artifact
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        seqzoo.load(folder)


def test_saving_over_an_artifact_replaces_it_completely(artifact, tmp_path):
    folder, _ = artifact
    (folder / "recipe.yaml").write_text("stale: true\n")
    newer = ForecastingTask(arch="lstm", preprocessing=SeriesScaler(10, 0.0, 1.0).to_config())
    save_pretrained(newer, folder)
    assert not (folder / "recipe.yaml").exists()
    assert seqzoo.load(folder).hparams.arch == "lstm"
    assert [p.name for p in tmp_path.iterdir()] == ["art"]  # no temporary folders left behind


def test_refuses_to_replace_a_folder_that_is_not_an_artifact(tmp_path):
    (tmp_path / "notes.txt").write_text("precious")
    task = ForecastingTask(arch="gru", preprocessing=SeriesScaler(10, 0.0, 1.0).to_config())
    with pytest.raises(ArtifactError, match="refusing to replace"):
        task.save_pretrained(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "precious"


def test_a_project_folder_holding_a_config_json_is_never_replaced(tmp_path):
    """Saving swaps in a whole new folder: a folder with anything but artifact files would lose it."""
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    files = {"config.json": '{"app": 1}', "train.py": "print(1)", "src/lib.py": "x = 1"}
    for name, text in files.items():
        (project / name).write_text(text)
    task = ForecastingTask(arch="gru", preprocessing=SeriesScaler(10, 0.0, 1.0).to_config())
    with pytest.raises(ArtifactError, match=r"refusing to replace .*project: .* holds src, train\.py, which"):
        task.save_pretrained(project)
    assert {name: (project / name).read_text() for name in files} == files
    artifact = task.save_pretrained(tmp_path / "artifact")
    (artifact / "notes.txt").write_text("mine")  # beside a real artifact, the same
    with pytest.raises(ArtifactError, match="holds notes.txt"):
        task.save_pretrained(artifact)
    (artifact / "notes.txt").unlink()
    task.save_pretrained(artifact)  # an artifact's own files are replaced, as before
    with pytest.raises(ArtifactError, match="is a file; give a folder"):
        task.save_pretrained(artifact / "config.json")
    assert seqzoo.load(artifact).hparams.arch == "gru"


def test_hidden_entries_are_carried_into_the_new_folder_and_write_leftovers_dropped(tmp_path):
    """A Hub clone's .git, an OS's .DS_Store: kept, as copies, when the artifact is saved again; the
    temporary file of an interrupted model.onnx write is garbage and goes."""
    task = ForecastingTask(arch="gru", preprocessing=SeriesScaler(10, 0.0, 1.0).to_config())
    folder = task.save_pretrained(tmp_path / "art")
    (folder / ".git" / "refs").mkdir(parents=True)
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (folder / ".DS_Store").write_bytes(b"\x00\x01")
    (folder / ".model.onnx.k2j4x").write_bytes(b"half an onnx file")
    task.save_pretrained(folder)
    assert (folder / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert (folder / ".git" / "refs").is_dir()
    assert (folder / ".DS_Store").read_bytes() == b"\x00\x01"
    assert not (folder / ".model.onnx.k2j4x").exists()
    assert seqzoo.load(folder).hparams.arch == "gru"


def test_a_loaded_model_saved_unchanged_keeps_its_card_and_provenance(tmp_path):
    """A copy is the same model: same name, metrics, data and where it came from, byte for byte."""
    source = seqzoo.hub.pretrained_path("gru.synthetic")
    copy = seqzoo.load("gru.synthetic").save_pretrained(tmp_path / "copy")
    for name in ("config.json", "recipe.yaml"):
        assert (copy / name).read_bytes() == (source / name).read_bytes(), name
    weights = [load_file(folder / "model.safetensors") for folder in (copy, source)]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    card = (copy / "README.md").read_text()
    assert "# gru.synthetic" in card and "| Test MAE | 0.0639734 |" in card and "seed\n42" in card
    renamed = json.loads(
        seqzoo.load(copy)
        .save_pretrained(tmp_path / "renamed", name="mine")
        .joinpath("config.json")
        .read_text()
    )
    assert (
        renamed["name"] == "mine"
        and renamed["metrics"] == json.loads((source / "config.json").read_text())["metrics"]
    )


@pytest.mark.parametrize("change", ["weights", "preprocessing"])
def test_a_loaded_model_that_changed_gets_a_new_card(tmp_path, change):
    """Trained further (or given other statistics), its metrics and recipe no longer describe it."""
    model = seqzoo.load("gru.synthetic")
    if change == "weights":
        with torch.no_grad():
            model.net.head.bias.add_(0.01)
    else:
        model.preprocessing = {**model.preprocessing, "mean": model.preprocessing["mean"] + 1.0}
    config = json.loads(model.save_pretrained(tmp_path / "changed").joinpath("config.json").read_text())
    assert config["name"] is None and config["metrics"] == {}
    assert (
        config["provenance"]["created"]
        != seqzoo.load("gru.synthetic").artifact_config["provenance"]["created"]
    )


def test_destinations_are_the_folders_users_mean_and_unsafe_ones_are_refused(tmp_path, monkeypatch):
    task = ForecastingTask(arch="gru", preprocessing=SeriesScaler(10, 0.0, 1.0).to_config())
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert task.save_pretrained("~/models/gru") == tmp_path / "home" / "models" / "gru"
    assert seqzoo.load("~/models/gru").hparams.arch == "gru"
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    task.save_pretrained(tmp_path / "link")  # written through the link: the link stays one
    assert (tmp_path / "link").is_symlink() and (tmp_path / "target" / "config.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "link", "target"]  # nothing left over
    (tmp_path / "file").write_text("x")
    with pytest.raises(ArtifactError, match=r"file is a file; cannot write the artifact into .*file/model"):
        task.save_pretrained(tmp_path / "file" / "model")
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path / "empty")
    for here in (".", tmp_path / "empty", tmp_path):
        with pytest.raises(ArtifactError, match="the current working folder or holds it"):
            task.save_pretrained(here)
    assert (tmp_path / "empty").is_dir() and not any((tmp_path / "empty").iterdir())


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
def test_a_model_moved_to_another_float_dtype_saves_float32_weights_that_load(tmp_path, dtype):
    task = ForecastingTask(arch="gru", preprocessing=SeriesScaler(10, 0.0, 1.0).to_config()).to(dtype)
    loaded = seqzoo.load(task.save_pretrained(tmp_path / "art"))
    for key, value in task.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value.float()), key


def test_checkpoints_load_as_float32_whatever_the_default_dtype():
    window = np.sin(np.arange(10.0) / 3).reshape(1, 10)
    expected = seqzoo.load("gru.synthetic").predict(window)
    torch.set_default_dtype(torch.float64)
    try:
        for load in (seqzoo.load, seqzoo.predictor):
            model = load("gru.synthetic")
            assert {p.dtype for p in model.parameters()} == {torch.float32}
            np.testing.assert_array_equal(model.predict(window), expected)
    finally:
        torch.set_default_dtype(torch.float32)


def test_float64_weights_beyond_float32s_range_are_refused_as_such(tmp_path):
    task = ForecastingTask(arch="gru", preprocessing=SeriesScaler(10, 0.0, 1.0).to_config()).double()
    with torch.no_grad():
        task.net.head.bias.fill_(1e300)
    with pytest.raises(ArtifactError, match=r"\['net.head.bias'\] exceed float32's range"):
        task.save_pretrained(tmp_path / "art")
    assert not (tmp_path / "art").exists()


def test_non_finite_weights_are_refused(tmp_path):
    task = ForecastingTask(arch="gru", preprocessing=SeriesScaler(10, 0.0, 1.0).to_config())
    task.net.head.bias.data.fill_(float("nan"))
    with pytest.raises(ArtifactError, match="non-finite"):
        task.save_pretrained(tmp_path / "nan")
    assert not (tmp_path / "nan").exists()


@pytest.mark.parametrize(
    "bad,match",
    [
        (np.zeros((3, 9)), r"shape \(n, 10\); got shape \(3, 9\)"),
        (np.zeros(10), r"x\.reshape\(1, -1\)"),
        (np.full((2, 10), np.nan), "NaN"),
        (np.array([["a"] * 10]), "dtype"),
        ([[1, 2], [3]], "array"),
        (np.full((1, 10), 1e300), "too large"),
    ],
)
def test_bad_predict_input_is_an_input_error(artifact, bad, match):
    folder, _ = artifact
    with pytest.raises(InputError, match=match):
        seqzoo.load(folder).predict(bad)


def test_empty_input_gives_empty_output(artifact):
    folder, _ = artifact
    assert seqzoo.load(folder).predict(np.zeros((0, 10))).shape == (0,)


def test_missing_folder_is_an_error_with_suggestions():
    with pytest.raises(seqzoo.UnknownNameError, match="gru.synthetic"):
        seqzoo.load("gru.synthetik")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")
def test_provenance_marks_a_working_tree_that_differs_from_its_commit(tmp_path):
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    assert git_sha(tmp_path) is None  # not a checkout yet
    git("init", "-q")
    (tmp_path / "model.py").write_text("hidden = 32\n")
    git("add", "model.py")
    git("commit", "-q", "-m", "first")
    head = git("rev-parse", "HEAD")
    assert git_sha(tmp_path) == head and len(head) == 40
    (tmp_path / "model.py").write_text("hidden = 64\n")  # an edit the commit does not hold
    assert git_sha(tmp_path) == f"{head}-dirty"
    git("checkout", "-q", "model.py")
    (tmp_path / "new_recipe.yaml").write_text("lr: 1\n")  # an untracked file the training may have used
    assert git_sha(tmp_path) == f"{head}-dirty"
    (tmp_path / ".gitignore").write_text("new_recipe.yaml\nruns/\n")
    git("add", ".gitignore")
    git("commit", "-q", "-m", "ignore outputs")
    assert git_sha(tmp_path) == git("rev-parse", "HEAD")  # ignored files do not count
