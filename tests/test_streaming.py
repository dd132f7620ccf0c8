"""Stateful use: step() reproduces the full forward; TBPTT with one chunk equals ordinary training."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import seqzoo
from seqzoo.data.synthetic import SeriesScaler
from seqzoo.errors import SeqzooError
from seqzoo.registry import model_spec
from seqzoo.tasks import ForecastingTask

from .conftest import quiet_trainer

UNIDIRECTIONAL = [
    n for n in seqzoo.list_models() if model_spec(n).family == "recurrent" and not n.startswith("bi")
]


@pytest.mark.parametrize("name", UNIDIRECTIONAL)
def test_step_by_step_reproduces_the_full_forward(name):
    torch.manual_seed(0)
    model = seqzoo.create_model(name, input_size=3, return_sequences=True).eval()
    x = torch.randn(2, 15, 3)
    full = model(x)
    state = model.init_state(2)
    for t in range(x.shape[1]):
        y_t, state = model.step(x[:, t], state)
        torch.testing.assert_close(y_t, full[:, t], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "name,why",
    [
        ("bigru", "step-by-step use needs a unidirectional encoder read at its last step"),
        ("conv1d", "ConvEncoder has no state to stream; use a recurrent arch"),
        ("conv1d_gru", "ConvRecurrentEncoder has no state to stream; use a recurrent arch"),
    ],
)
def test_streaming_is_refused_where_it_cannot_be_exact(name, why):
    with pytest.raises(SeqzooError, match=why):
        seqzoo.create_model(name).init_state(1)


@pytest.mark.parametrize("name", ["gru", "lstm", "stacked_gru"])
def test_a_state_for_another_batch_or_none_is_refused_naming_what_to_pass(name):
    model = seqzoo.create_model(name, input_size=2).eval()
    with pytest.raises(
        SeqzooError, match=r"batch of another size .* than the input's 3; start with init_state\(3\)"
    ):
        model.step(torch.randn(3, 2), model.init_state(2))
    with pytest.raises(SeqzooError, match="layer states that init_state"):
        model.step(torch.randn(3, 2), None)


def fit_one_epoch(task: ForecastingTask, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    trainer = quiet_trainer(1)
    trainer.fit(task, DataLoader(TensorDataset(x, y), batch_size=8))
    return task.state_dict()


@pytest.mark.parametrize("targets", ["last", "sequence"])
def test_tbptt_with_one_chunk_equals_ordinary_training(targets):
    torch.manual_seed(0)
    x = torch.randn(32, 12, 1)
    y = torch.randn(32, 12) if targets == "sequence" else torch.randn(32)
    kwargs = {
        "arch": "lstm",
        "arch_kwargs": {"hidden_size": 6, "return_sequences": targets == "sequence"},
        "lr": 0.01,
        "preprocessing": SeriesScaler(12, 0.0, 1.0, targets == "sequence").to_config(),
    }
    ordinary = ForecastingTask(**kwargs)
    chunked = ForecastingTask(**kwargs, tbptt_steps=12)
    initial = copy.deepcopy(ordinary.state_dict())
    chunked.load_state_dict(initial)
    a, b = fit_one_epoch(ordinary, x, y), fit_one_epoch(chunked, x, y)
    assert all(not torch.equal(a[key], initial[key]) for key in a)  # training moved every weight
    for key in a:
        torch.testing.assert_close(b[key], a[key], atol=1e-6, rtol=1e-5)


def test_tbptt_chunks_cut_gradients_and_carry_state():
    torch.manual_seed(0)
    x, y = torch.randn(16, 12, 1), torch.randn(16, 12)
    kwargs = {
        "arch": "gru",
        "arch_kwargs": {"hidden_size": 4, "return_sequences": True},
        "lr": 0.01,
        "preprocessing": SeriesScaler(12, 0.0, 1.0, True).to_config(),
    }
    whole, chunked = ForecastingTask(**kwargs, tbptt_steps=12), ForecastingTask(**kwargs, tbptt_steps=4)
    chunked.load_state_dict(whole.state_dict())
    a, b = fit_one_epoch(whole, x, y), fit_one_epoch(chunked, x, y)
    assert not torch.allclose(a["net.head.weight"], b["net.head.weight"])  # three steps per batch, not one
