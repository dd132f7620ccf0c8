"""The `seqzoo` command as a user runs it: list, export, evaluate, fit/test/predict, errors."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import seqzoo
from seqzoo.checkpoint import load_checkpoint
from seqzoo.data.synthetic import SeriesScaler, SyntheticDataModule, windows_of
from seqzoo.evaluation import evaluate
from seqzoo.tasks import ClassificationTask

from .conftest import ROOT, SEQZOO, quiet_trainer, run_seqzoo


@pytest.fixture(scope="module")
def classifier_checkpoint(tmp_path_factory) -> Path:
    """A real Lightning checkpoint of a small classifier, fitted one epoch in-process on random windows
    (IMDB data may be absent)."""
    torch.manual_seed(0)
    scaler = SeriesScaler(10, 0.0, 1.0).to_config()
    task = ClassificationTask(arch="gru", arch_kwargs={"hidden_size": 8}, num_classes=2, preprocessing=scaler)
    x = torch.randn(32, 10, 1)
    trainer = quiet_trainer(1)
    trainer.fit(task, DataLoader(TensorDataset(x, (x.sum((1, 2)) > 0).long()), batch_size=8))
    path = tmp_path_factory.mktemp("classifier") / "classifier.ckpt"
    trainer.save_checkpoint(path)
    return path


def test_list_prints_every_catalogue_entry():
    out = run_seqzoo("list").stdout
    for name in seqzoo.list_pretrained():
        assert name in out
    assert "test_mae" in out


def test_list_filters_and_prints_json():
    rows = json.loads(run_seqzoo("list", "lstm.syn*", "--json").stdout)
    assert [r["name"] for r in rows] == ["lstm.synthetic"]
    assert rows[0]["params"] > 0 and rows[0]["value"] > 0
    assert run_seqzoo("list", "gru").stdout.strip() == (
        "no pretrained checkpoint matches 'gru'; patterns are shell wildcards, e.g. 'gru.*'"
    )  # a bare architecture printed an empty table
    assert json.loads(run_seqzoo("list", "gru", "--json").stdout) == []


def test_export_then_load_and_predict(trained_checkpoint, tmp_path):
    out = tmp_path / "exported"
    run_seqzoo("export", str(trained_checkpoint), str(out), "--name", "gru.mine")
    config = json.loads((out / "config.json").read_text())
    assert config["metrics"]["test_mae"] > 0
    assert config["provenance"]["recipe_path"] == "recipes/synthetic/gru.yaml"
    assert config["provenance"]["seed"] == 42
    assert "seed_everything: 42" in (out / "recipe.yaml").read_text()
    model = seqzoo.load(out)
    assert model.predict(np.linspace(0, 1, 20).reshape(2, 10)).shape == (2,)
    evaluated = json.loads(run_seqzoo("evaluate", str(out), "--json").stdout)
    assert evaluated["test_mae"] == pytest.approx(config["metrics"]["test_mae"], rel=1e-4)


def test_export_onnx_writes_the_artifact_and_model_onnx(trained_checkpoint, tmp_path):
    folder = tmp_path / "out"
    out = run_seqzoo("export", str(trained_checkpoint), str(folder), "--no-evaluate", "--onnx").stdout
    assert f"wrote {folder / 'model.onnx'} (ONNX Runtime answers as PyTorch" in out
    assert seqzoo.predictor(folder, runtime="onnxruntime").predict(np.zeros((2, 10))).shape == (2,)


def test_export_onnx_of_a_classifier_is_refused_before_anything_is_written(classifier_checkpoint, tmp_path):
    existing = tmp_path / "existing"
    run_seqzoo("export", str(classifier_checkpoint), str(existing), "--no-evaluate", "--name", "first")
    before = {p.name: p.read_bytes() for p in existing.iterdir()}  # control: without --onnx it exports
    for out in (tmp_path / "new", existing):
        args = ("export", str(classifier_checkpoint), str(out), "--no-evaluate", "--onnx", "--name", "second")
        proc = run_seqzoo(*args, check=False)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        expected = "seqzoo export: error: ONNX export covers forecasting models (Jena, synthetic); this is a "
        assert f"{expected}classification model" in proc.stderr
    assert not (tmp_path / "new").exists()
    assert {p.name: p.read_bytes() for p in existing.iterdir()} == before


def test_a_ckpt_path_that_is_missing_or_no_checkpoint_is_one_line_before_anything_runs(tmp_path):
    """fit/validate/test/predict as real processes side by side, and `export` of the same files."""
    (tmp_path / "hello.ckpt").write_bytes(b"hello")
    (tmp_path / "dot.ckpt").write_bytes(b".")
    torch.save([1, 2], tmp_path / "list.ckpt")
    missing = tmp_path / "missing.ckpt"
    unreadable = "not a readable Lightning checkpoint"
    cases = {
        "predict missing": ("predict", missing, "checkpoint file not found"),
        "predict junk": ("predict", tmp_path / "hello.ckpt", f"{unreadable} (KeyError: 101)"),
        "test junk": ("test", tmp_path / "dot.ckpt", f"{unreadable} (IndexError: pop from empty list)"),
        "validate a list": ("validate", tmp_path / "list.ckpt", "not a seqzoo training checkpoint (a list"),
        "fit missing": ("fit", missing, "checkpoint file not found"),
    }
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = {}
    for name, (command, ckpt, _) in cases.items():
        recipe = ["--config", "recipes/synthetic/gru.yaml", "--ckpt_path", str(ckpt)]
        logs = ["--trainer.logger.init_args.save_dir", str(tmp_path / name)]
        procs[name] = subprocess.Popen(
            [*SEQZOO, command, *recipe, *logs], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
        )
    for name, proc in procs.items():
        command, ckpt, reason = cases[name]
        _, stderr = proc.communicate(timeout=180)
        assert proc.returncode == 2 and "Traceback" not in stderr, stderr[-3000:]
        assert f"seqzoo {command}: error: --ckpt_path {ckpt}: {reason}" in stderr, stderr
        assert len(stderr.strip().splitlines()) == 1, stderr
        assert not (tmp_path / name).exists(), f"{name}: wrote logs before failing"
    proc = run_seqzoo("export", str(tmp_path / "hello.ckpt"), str(tmp_path / "out"), check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"seqzoo export: error: {tmp_path / 'hello.ckpt'}: {unreadable} (KeyError: 101)" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_checkpoint_of_another_task_or_architecture_than_the_recipe_is_refused_before_running(
    trained_checkpoint, classifier_checkpoint, tmp_path
):
    """LightningCLI would build the checkpoint's model and run it on the recipe's data: a classifier on
    synthetic series fails deep inside; a GRU checkpoint under the LSTM recipe tests a model the recipe
    does not describe. Matching pairs run (test_validate_test_and_predict_subcommands_run_on_a_checkpoint)."""
    cases = {
        "classifier": (
            "recipes/synthetic/gru.yaml",
            classifier_checkpoint,
            "a checkpoint of a classification model ('gru' network), but the recipe's model is a forecasting "
            "model ('gru' network); give the recipe that trained it",
        ),
        "other architecture": (
            "recipes/synthetic/lstm.yaml",
            trained_checkpoint,
            "a checkpoint of a forecasting model ('gru' network), but the recipe's model is a forecasting "
            "model ('lstm' network); give the recipe that trained it (--config recipes/synthetic/gru.yaml)",
        ),
    }
    for name, (recipe, ckpt, reason) in cases.items():
        logs = ["--trainer.logger.init_args.save_dir", str(tmp_path / name)]
        proc = run_seqzoo("test", "--config", recipe, "--ckpt_path", str(ckpt), *logs, check=False)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
        assert proc.stderr.strip() == f"seqzoo test: error: --ckpt_path {ckpt}: {reason}"
        assert not (tmp_path / name).exists()
    proc = run_seqzoo(
        "validate", "--config", "recipes/synthetic/gru.yaml", "--ckpt_path", "best", check=False
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.stderr.startswith(
        "seqzoo validate: error: --ckpt_path best: names the best checkpoint of a fit"
    )


def test_evaluate_on_an_accelerator_it_cannot_use_is_a_one_line_error():
    accelerators = ["abacus"] + ([] if torch.cuda.is_available() else ["gpu"])
    for accelerator in accelerators:
        out = run_seqzoo("evaluate", "gru.synthetic", "--accelerator", accelerator, check=False)
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
        assert f"seqzoo evaluate: error: cannot evaluate on accelerator '{accelerator}'" in out.stderr


def test_validate_test_and_predict_subcommands_run_on_a_checkpoint(trained_checkpoint, tmp_path):
    common = [
        "--config",
        "recipes/synthetic/gru.yaml",
        "--ckpt_path",
        str(trained_checkpoint),
    ]
    model = load_checkpoint(trained_checkpoint)
    for command, split in (("test", "test"), ("validate", "val")):
        logs = tmp_path / command
        run_seqzoo(command, *common, "--trainer.logger.init_args.save_dir", str(logs))
        (csv,) = logs.rglob("metrics.csv")  # the recipe's CSVLogger, one row of the split's metrics
        logged = pd.read_csv(csv).iloc[-1]
        expected, _ = evaluate(model, split=split)  # what `seqzoo evaluate` measures on that split
        assert logged[f"{split}_mae"] == pytest.approx(expected[f"{split}_mae"], rel=1e-5), command
    saved = tmp_path / "preds.npy"
    writer = [
        "--trainer.callbacks+=seqzoo.callbacks.PredictionWriter",
        "--trainer.callbacks.output_path",
        str(saved),
    ]
    run_seqzoo("predict", *common, *writer, "--trainer.logger.init_args.save_dir", str(tmp_path))
    dm = SyntheticDataModule()
    dm.setup()
    windows, _ = windows_of(dm.series["test"])
    np.testing.assert_allclose(np.load(saved), model.predict(windows), rtol=1e-5, atol=1e-6)


def test_print_config_shows_the_resolved_recipe():
    out = run_seqzoo(
        "fit", "--config", "recipes/synthetic/gru.yaml", "--model.init_args.lr", "0.01", "--print_config"
    ).stdout
    assert "lr: 0.01" in out and "seqzoo.data.SyntheticDataModule" in out and "gradient_clip_val: 1.0" in out


def test_unknown_name_is_a_short_error_with_suggestions():
    proc = run_seqzoo("evaluate", "gru.synthetc", check=False)
    assert proc.returncode == 2
    assert "Did you mean 'gru.synthetic'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_lists_every_command():
    out = run_seqzoo("--help").stdout
    for command in ("fit", "validate", "test", "predict", "list", "evaluate", "export", "demo"):
        assert f"  {command} " in out
