"""ONNX Runtime serving: model.onnx answers as the PyTorch network does, is refused beside other weights,
and is written only when ONNX Runtime's answers match PyTorch's."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

import seqzoo
from seqzoo import onnx_serving
from seqzoo.catalog import pretrained_path
from seqzoo.errors import ArtifactError, InputError, SeqzooError

from .conftest import run_seqzoo
from .test_serving import raw_input

FORECASTERS = [n for n in seqzoo.list_pretrained() if n.endswith((".jena", ".synthetic"))]


def artifact_copy(name: str, where, with_onnx: bool = True):
    """A writable copy of a bundled artifact (tests never write into the package)."""
    folder = where / name
    shutil.copytree(pretrained_path(name), folder)
    if not with_onnx:
        (folder / onnx_serving.ONNX_FILE).unlink()
    return folder


def test_the_catalogue_has_forecasters_to_serve():
    assert {"gru.jena", "gru.synthetic", "stacked_gru.jena"} <= set(FORECASTERS)


@pytest.mark.parametrize("name", FORECASTERS)
def test_every_bundled_forecaster_answers_through_onnx_runtime_as_through_pytorch(name):
    with_torch, with_onnx = seqzoo.predictor(name), seqzoo.predictor(name, runtime="onnxruntime")
    assert isinstance(with_onnx.net, onnx_serving.OnnxNetwork)
    raw = raw_input(with_torch)
    expected, got = with_torch.predict(raw), with_onnx.predict(raw)
    assert type(got) is type(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)
    assert with_onnx.num_parameters == with_torch.num_parameters
    assert with_onnx.device.type == "cpu"


@pytest.mark.parametrize("name", FORECASTERS)
def test_an_empty_batch_gives_an_empty_answer_as_with_pytorch(name):
    """ONNX Runtime's recurrent kernels abort the whole process on zero windows; the network never
    hands it any."""
    with_torch, with_onnx = seqzoo.predictor(name), seqzoo.predictor(name, runtime="onnxruntime")
    window = with_torch.preprocessor.encode(raw_input(with_torch))[:1]
    empty = window[:0]
    assert with_onnx.net(empty).shape == with_torch.net(empty).shape == (0, *with_torch.net(window).shape[1:])
    if name.endswith(".synthetic"):  # raw windows can be empty only where they are plain arrays
        assert with_onnx.predict(np.zeros((0, 10))).shape == (0,)


def test_rolling_jena_forecasts_in_batches_match_pytorch():
    with_torch, with_onnx = seqzoo.predictor("gru.jena"), seqzoo.predictor("gru.jena", runtime="onnxruntime")
    frame = raw_input(with_torch)
    longer = pd.concat([frame, frame.iloc[:40]], ignore_index=True)
    longer["Date Time"] = pd.date_range("2024-06-01", periods=len(longer), freq="10min").strftime(
        "%d.%m.%Y %H:%M:%S"
    )
    expected = with_torch.predict(longer, rolling=True)
    got = with_onnx.predict(longer, rolling=True, batch_size=16)  # batches of 16, 16 and 9 windows
    assert len(got) == 41
    pd.testing.assert_index_equal(got.index, expected.index)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), atol=1e-4)


@pytest.mark.parametrize("name", ["fasttext.imdb", "seq2seq_attention.addition"])
def test_onnx_runtime_for_a_model_that_cannot_export_says_to_use_torch(name):
    with pytest.raises(InputError, match="serves forecasting models only; .* model: use runtime='torch'"):
        seqzoo.predictor(name, runtime="onnxruntime")


def test_the_export_onnx_command_writes_a_file_that_serves(tmp_path):
    folder = artifact_copy("lstm.synthetic", tmp_path, with_onnx=False)
    with pytest.raises(ArtifactError, match="has no model.onnx; write it with `seqzoo export-onnx"):
        seqzoo.predictor(folder, runtime="onnxruntime")
    out = run_seqzoo("export-onnx", str(folder)).stdout
    assert f"wrote {folder / 'model.onnx'}" in out
    windows = np.sin(np.arange(50.0) / 4).reshape(5, 10)
    np.testing.assert_allclose(
        seqzoo.predictor(folder, runtime="onnxruntime").predict(windows),
        seqzoo.predictor(folder).predict(windows),
        atol=1e-5,
    )
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []  # no temporary left


def test_a_model_onnx_beside_other_weights_is_refused(tmp_path):
    folder = artifact_copy("gru.jena", tmp_path)
    kept = (folder / "model.onnx").read_bytes()
    task = seqzoo.load(folder)
    task.net.head.bias.data += 1.0  # retrained, say
    task.save_pretrained(folder)  # writes the folder anew: the old model.onnx does not survive
    assert not (folder / "model.onnx").exists()
    (folder / "model.onnx").write_bytes(kept)  # put back by hand
    with pytest.raises(ArtifactError, match="was not exported from the model.safetensors beside it"):
        seqzoo.predictor(folder, runtime="onnxruntime")


def test_nothing_is_written_when_onnx_runtime_disagrees_with_pytorch(tmp_path, monkeypatch):
    folder = artifact_copy("gru.synthetic", tmp_path, with_onnx=False)
    before = sorted(p.name for p in folder.iterdir())
    monkeypatch.setattr(onnx_serving, "TOLERANCE", -1.0)  # no difference passes, not even zero
    with pytest.raises(ArtifactError, match="differs from PyTorch's by .* model.onnx not written"):
        seqzoo.export_onnx(folder)
    assert sorted(p.name for p in folder.iterdir()) == before


def test_models_that_are_not_forecasters_are_refused_with_the_reason(tmp_path):
    folder = tmp_path / "gru.imdb"
    shutil.copytree(pretrained_path("gru.imdb"), folder)
    with pytest.raises(SeqzooError, match="ONNX export covers forecasting models .* classification model"):
        seqzoo.export_onnx(folder)
    assert not (folder / "model.onnx").exists()


def test_an_unknown_runtime_is_named():
    with pytest.raises(SeqzooError, match=r"runtime must be one of \['torch', 'onnxruntime'\], got 'tvm'"):
        seqzoo.predictor("gru.synthetic", runtime="tvm")
