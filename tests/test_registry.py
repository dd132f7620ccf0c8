"""Every registered architecture: builds, shapes, gradients, save/load round trip."""

from __future__ import annotations

import pytest
import torch

import seqzoo
from seqzoo.artifact import load_artifact, save_pretrained
from seqzoo.data.synthetic import SeriesScaler
from seqzoo.registry import model_spec, register_model
from seqzoo.tasks import ForecastingTask

BATCH, TIME = 3, 10


def example_input(name: str) -> torch.Tensor:
    assert model_spec(name).input_kind == "features"
    return torch.randn(BATCH, TIME, 1)


@pytest.mark.parametrize("name", seqzoo.list_models())
def test_forward_backward_reaches_every_parameter(name):
    model = seqzoo.create_model(name)
    out = model(example_input(name))
    assert out.shape == (BATCH, 1)
    out.sum().backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not no_grad, f"parameters without gradient: {no_grad}"


@pytest.mark.parametrize("name", seqzoo.list_models())
def test_save_load_round_trip_gives_identical_outputs(name, tmp_path):
    task = ForecastingTask(arch=name, preprocessing=SeriesScaler(TIME, 0.5, 2.0).to_config())
    x = torch.randn(5, TIME).numpy()
    save_pretrained(task, tmp_path / "artifact")
    loaded = load_artifact(tmp_path / "artifact")
    assert type(loaded.net) is type(task.net)
    assert (loaded.predict(x) == task.predict(x)).all()


def test_list_models_filters_with_shell_wildcards():
    assert {"gru", "stacked_gru", "bigru"} <= set(seqzoo.list_models("*gru*"))
    assert "lstm" not in seqzoo.list_models("*gru*")
    assert seqzoo.list_models("no-such-*") == []


def test_duplicate_registration_is_an_error():
    with pytest.raises(seqzoo.SeqzooError, match="already registered"):
        register_model("gru")(lambda: None)


def test_unknown_architecture_suggests_close_names():
    with pytest.raises(seqzoo.UnknownNameError, match="'gru'"):
        seqzoo.create_model("gur")
