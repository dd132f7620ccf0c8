"""Every recipe under recipes/: parses through LightningCLI and trains a fast_dev_run via the real CLI."""

from __future__ import annotations

import json
import math

import pytest
import torch
import yaml

import seqzoo

from .conftest import ROOT, run_seqzoo

RECIPES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "recipes").rglob("*.yaml"))
IMDB_ON_ALL_REVIEWS = "recipes/imdb/lstm.yaml"  # the other IMDB recipes run on a slice: same code, ~10x less


@pytest.fixture(scope="module")
def imdb_slice(tmp_path_factory) -> str:
    """3,000 training and 600 test reviews of the real files, balanced: enough words for the recipes'
    20,000-word vocabulary, a tenth of the tokenizing and encoding time."""
    import pandas as pd

    out = tmp_path_factory.mktemp("imdb-slice")
    for split, per_label in (("train", 1500), ("test", 300)):
        frame = pd.read_parquet(ROOT / "../shared/data" / f"imdb_{split}.parquet")
        frame.groupby("label").head(per_label).to_parquet(out / f"imdb_{split}.parquet")
    return str(out)


def test_there_are_recipes():
    assert len(RECIPES) >= 4


@pytest.mark.parametrize("recipe", RECIPES)
def test_recipe_header_gives_the_exact_command(recipe):
    header = (ROOT / recipe).read_text().split("\n", 5)[:5]
    assert any(f"seqzoo fit --config {recipe}" in line for line in header), header


# "gpu" runs where CUDA is (tests/test_gpu.py says how): the recipes' networks on cuDNN's kernels
ACCELERATORS = [
    "cpu",
    pytest.param(
        "gpu",
        marks=pytest.mark.skipif(
            not torch.cuda.is_available(), reason="needs a CUDA GPU; there is none here"
        ),
    ),
]


@pytest.mark.parametrize("accelerator", ACCELERATORS)
@pytest.mark.parametrize("recipe", RECIPES)
def test_recipe_runs_fast_dev_run(recipe, accelerator, tmp_path, request):
    config = yaml.safe_load((ROOT / recipe).read_text())
    data_dir = (config["data"].get("init_args") or {}).get("data_dir")
    if data_dir and not (ROOT / data_dir).is_dir():
        pytest.skip(f"{recipe} trains on {data_dir}, which is absent here (a fresh clone)")
    pretrained = (config["model"].get("init_args") or {}).get("pretrained")
    if pretrained and pretrained not in seqzoo.list_pretrained():
        pytest.skip(f"{recipe} fine-tunes {pretrained}, which is not in the catalogue yet")
    assert config["seed_everything"] is not None and config["trainer"].get("gradient_clip_val")
    is_imdb = config["data"]["class_path"].endswith("ImdbDataModule")
    data = (
        []
        if not is_imdb or recipe == IMDB_ON_ALL_REVIEWS
        else ["--data.init_args.data_dir", request.getfixturevalue("imdb_slice")]
    )
    report = tmp_path / "metrics.json"
    run_seqzoo(
        "fit",
        "--config",
        recipe,
        *data,
        "--trainer.fast_dev_run",
        "true",
        "--trainer.accelerator",
        accelerator,
        "--trainer.default_root_dir",
        str(tmp_path),
        "--trainer.logger.init_args.save_dir",
        str(tmp_path),
        "--trainer.callbacks+=tests.reliability_callbacks.MetricsProbe",
        env={"SEQZOO_TEST_METRICS_FILE": str(report)},
    )
    run = json.loads(report.read_text())
    callbacks = [c.get("init_args", {}) for c in config["trainer"].get("callbacks", [])]
    monitored = {c["monitor"] for c in callbacks if "monitor" in c}
    assert run["device"] == {"cpu": "cpu", "gpu": "cuda"}[accelerator], run
    assert run["global_step"] == 1, run  # fast_dev_run: one training batch, one optimizer step
    for name in ("train_loss", *monitored):  # a step trained and the checkpoint's metric was validated
        assert math.isfinite(run["metrics"].get(name, math.nan)), f"{name} missing or not finite: {run}"
