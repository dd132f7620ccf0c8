"""The GPU path: cuDNN's recurrent kernels answer as the CPU's do, and a run trained on a GPU resumes,
exports and serves on a machine without one. Skipped, saying so, where there is no CUDA device (CI);
on a machine with one: `pytest tests/test_gpu.py tests/test_recipes.py -k "gpu"`.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import seqzoo
from seqzoo.catalog import RELATIVE_TOLERANCE, catalog
from seqzoo.data.synthetic import sum_of_sines, windows_of
from seqzoo.evaluation import evaluate

from .conftest import require_shared_data, run_seqzoo
from .test_golden import ARTIFACTS
from .test_pretrained import real_data_dir

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; there is none here")

# cuDNN runs float32 recurrent layers with TF32 tensor cores by default (torch.backends.cudnn.allow_tf32),
# which keeps 10 bits of mantissa in the products: answers agree with the CPU's to about 1e-3, not 1e-6.
GPU_TOLERANCE = {"rtol": 2e-3, "atol": 2e-3}
HIDDEN_FROM_CUDA = {"CUDA_VISIBLE_DEVICES": ""}  # the process then runs as on a machine without a GPU


@pytest.mark.parametrize("folder", ARTIFACTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_golden_artifact_answers_on_the_gpu_as_it_did_on_the_cpu(folder):
    expected = json.loads(folder.with_name(f"{folder.name}.expected.json").read_text())
    model = seqzoo.load(folder).to("cuda")
    text = isinstance(expected["inputs"][0], str)
    outputs = model.predict(expected["inputs"] if text else np.asarray(expected["inputs"]))
    if isinstance(expected["outputs"][0], str):
        assert outputs == expected["outputs"]
    else:
        np.testing.assert_allclose(outputs, expected["outputs"], **GPU_TOLERANCE)


@pytest.mark.parametrize("name", seqzoo.list_pretrained())
def test_evaluate_on_the_gpu_reproduces_the_card(name):
    metrics, _ = evaluate(seqzoo.load(name), data_dir=real_data_dir(name), accelerator="gpu")
    stated = catalog()[name].metrics
    assert metrics.keys() == stated.keys()
    for key, value in stated.items():
        assert metrics[key] == pytest.approx(value, rel=max(RELATIVE_TOLERANCE, 2e-3)), key


def raw_inputs(name: str):
    """What a user hands `predict`: real readings (rolling forecasts over two days), windows, text."""
    if name == "gru.jena":
        export = require_shared_data() / "jena_roof_2024-06-09_2024-10-20_10min.csv.gz"
        return pd.read_csv(export, encoding="latin-1").tail(1440 + 287)
    if name == "gru.synthetic":
        return windows_of(sum_of_sines(2, 60, seed=1))[0]
    if name == "lstm.imdb":
        return ["a gripping, well acted film", "dull and far too long"]
    return ["16+75", "999+1", "0+0"]


@pytest.mark.parametrize("name", ["gru.jena", "gru.synthetic", "lstm.imdb", "seq2seq_attention.addition"])
def test_a_predictor_moved_to_the_gpu_answers_as_on_the_cpu(name):
    inputs, options = raw_inputs(name), {"rolling": True} if name == "gru.jena" else {}
    gpu = seqzoo.predictor(name).to("cuda")
    assert gpu.device.type == "cuda"
    expected, answered = seqzoo.predictor(name).predict(inputs, **options), gpu.predict(inputs, **options)
    if isinstance(expected, list):
        assert answered == expected
    else:
        assert len(answered) == (288 if name == "gru.jena" else len(inputs))
        np.testing.assert_allclose(np.asarray(answered), np.asarray(expected), **GPU_TOLERANCE)


def fit(tmp_path, *extra: str, env: dict[str, str] | None = None) -> None:
    """`seqzoo fit` of the synthetic GRU recipe into tmp_path/gru.synthetic/run."""
    run_seqzoo(
        "fit", "--config", "recipes/synthetic/gru.yaml",
        "--trainer.limit_train_batches", "20", "--trainer.limit_val_batches", "4",
        "--trainer.logger.init_args.save_dir", str(tmp_path),
        "--trainer.logger.init_args.version", "run", *extra, env=env,
    )  # fmt: skip


def test_a_run_trained_on_the_gpu_resumes_exports_and_serves_without_one(tmp_path):
    fit(tmp_path, "--trainer.accelerator", "gpu", "--trainer.max_epochs", "1")
    checkpoints = tmp_path / "gru.synthetic" / "run" / "checkpoints"
    saved = torch.load(checkpoints / "last.ckpt", weights_only=True, map_location="cpu")
    assert "cuda" in saved["seqzoo"]["rng"]  # it really trained on the GPU
    fit(tmp_path, "--trainer.max_epochs", "2", "--ckpt_path", "last", env=HIDDEN_FROM_CUDA)
    resumed = torch.load(checkpoints / "last.ckpt", weights_only=True, map_location="cpu")
    assert resumed["epoch"] == 1 and resumed["global_step"] == 40
    run_seqzoo("export", str(checkpoints / "last.ckpt"), str(tmp_path / "model"), env=HIDDEN_FROM_CUDA)
    windows, truth = windows_of(sum_of_sines(2, 60, seed=1))
    on_cpu = seqzoo.load(tmp_path / "model").predict(windows)
    on_gpu = seqzoo.load(tmp_path / "model").to("cuda").predict(windows)
    np.testing.assert_allclose(on_gpu, on_cpu, **GPU_TOLERANCE)
    assert np.isfinite(on_cpu).all() and on_cpu.shape == truth.shape


def test_a_run_trained_on_the_cpu_resumes_on_the_gpu(tmp_path):
    fit(tmp_path, "--trainer.max_epochs", "1", env=HIDDEN_FROM_CUDA)
    fit(tmp_path, "--trainer.accelerator", "gpu", "--trainer.max_epochs", "2", "--ckpt_path", "last")
    resumed = torch.load(tmp_path / "gru.synthetic" / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert resumed["epoch"] == 1 and resumed["global_step"] == 40
    assert "cuda" in resumed["seqzoo"]["rng"]
