"""The `seqzoo` command as a user runs it: list, export, evaluate, fit/test/predict, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import seqzoo
from seqzoo.checkpoint import load_checkpoint
from seqzoo.data.synthetic import SyntheticDataModule, windows_of
from seqzoo.evaluation import evaluate

from .conftest import run_seqzoo


def test_list_prints_every_catalogue_entry():
    out = run_seqzoo("list").stdout
    for name in seqzoo.list_pretrained():
        assert name in out
    assert "test_mae" in out


def test_list_filters_and_prints_json():
    rows = json.loads(run_seqzoo("list", "lstm.syn*", "--json").stdout)
    assert [r["name"] for r in rows] == ["lstm.synthetic"]
    assert rows[0]["params"] > 0 and rows[0]["value"] > 0


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
