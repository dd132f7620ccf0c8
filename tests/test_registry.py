"""Every registered architecture: builds, shapes, gradients reach every parameter, weights round-trip."""

from __future__ import annotations

import inspect
import re

import pytest
import torch
from safetensors.torch import load_file, save_file

import seqzoo
from seqzoo.artifact import load_artifact, save_pretrained
from seqzoo.data.synthetic import SeriesScaler
from seqzoo.registry import model_spec, register_model
from seqzoo.tasks import ForecastingTask

BATCH, TIME = 3, 10
FEATURE_MODELS = [n for n in seqzoo.list_models() if model_spec(n).input_kind == "features"]
SEQ2SEQ_MODELS = seqzoo.list_models("seq2seq*")
TOKEN_MODELS = [
    n for n in FEATURE_MODELS if "vocab_size" in inspect.signature(model_spec(n).factory).parameters
]
RECURRENT_MODELS = [n for n in FEATURE_MODELS if model_spec(n).family == "recurrent"]


def example_call(name: str, model: torch.nn.Module) -> torch.Tensor:
    torch.manual_seed(0)
    if name in SEQ2SEQ_MODELS:
        return model(torch.randint(0, 13, (BATCH, 7)), torch.randint(0, 13, (BATCH, 4)))
    return model(torch.randn(BATCH, TIME, 1))


def test_every_architecture_has_an_input_kind():
    assert set(FEATURE_MODELS) | set(SEQ2SEQ_MODELS) == set(seqzoo.list_models())
    assert {
        "simplernn",
        "lstm",
        "gru",
        "bilstm",
        "bigru",
        "stacked_simplernn",
        "stacked_lstm",
        "stacked_gru",
        "gru_dropout",
        "conv1d",
        "conv1d_gru",
        "dense",
        "fasttext",
        "seq2seq",
        "seq2seq_peeky",
        "seq2seq_attention",
    } == set(seqzoo.list_models())


@pytest.mark.parametrize("name", seqzoo.list_models())
def test_forward_backward_reaches_every_parameter(name):
    model = seqzoo.create_model(name).train()
    out = example_call(name, model)
    assert out.shape == ((BATCH, 4, 13) if name in SEQ2SEQ_MODELS else (BATCH, 1))
    out.square().sum().backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not no_grad, f"parameters without gradient: {no_grad}"


@pytest.mark.parametrize("name", RECURRENT_MODELS)
def test_many_to_many_gives_one_prediction_per_step(name):
    model = seqzoo.create_model(name, return_sequences=True, output_size=2)
    assert model(torch.randn(BATCH, TIME, 1)).shape == (BATCH, TIME, 2)


@pytest.mark.parametrize("name", TOKEN_MODELS)
def test_embeddings_start_small_as_in_keras_with_a_zero_padding_row(name):
    """N(0, 1) embeddings saturated the gates: IMDB LSTM validation accuracy after one epoch was 0.605
    with them and 0.776 with uniform(-0.05, 0.05)."""
    weight = seqzoo.create_model(name, vocab_size=1000, embedding_dim=16).embedding.weight
    assert weight[1:].abs().max() <= 0.05 and weight[1:].std() > 0.02
    assert torch.count_nonzero(weight[0]) == 0


@pytest.mark.parametrize("name", TOKEN_MODELS)
def test_token_input_padded_to_500_gets_the_same_prediction(name):
    torch.manual_seed(0)
    model = seqzoo.create_model(name, vocab_size=50, embedding_dim=8).eval()
    review = torch.randint(1, 50, (1, 37))
    padded = torch.cat([review, torch.zeros(1, 500 - 37, dtype=torch.long)], dim=1)
    alone = model(review, lengths=torch.tensor([37]))
    torch.testing.assert_close(model(padded, lengths=torch.tensor([37])), alone, atol=1e-6, rtol=1e-5)
    batch = torch.cat([padded, torch.randint(1, 50, (1, 500))])  # batched with a full-length review
    torch.testing.assert_close(model(batch, lengths=torch.tensor([37, 500]))[:1], alone, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name", seqzoo.list_models())
def test_weights_round_trip_through_safetensors(name, tmp_path):
    model = seqzoo.create_model(name).eval()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, tmp_path / "w.safetensors")
    torch.manual_seed(123)
    fresh = seqzoo.create_model(name).eval()
    fresh.load_state_dict(load_file(tmp_path / "w.safetensors"), strict=True)
    assert torch.equal(example_call(name, fresh), example_call(name, model))


@pytest.mark.parametrize("name", FEATURE_MODELS)
def test_artifact_round_trip_gives_identical_predictions(name, tmp_path):
    task = ForecastingTask(arch=name, preprocessing=SeriesScaler(TIME, 0.5, 2.0).to_config())
    x = torch.randn(5, TIME).numpy()
    save_pretrained(task, tmp_path / "artifact")
    loaded = load_artifact(tmp_path / "artifact")
    assert type(loaded.net) is type(task.net)
    assert (loaded.predict(x) == task.predict(x)).all()


def test_list_models_filters_with_shell_wildcards():
    assert seqzoo.list_models("*gru*") == ["bigru", "conv1d_gru", "gru", "gru_dropout", "stacked_gru"]
    assert seqzoo.list_models("no-such-*") == []


def test_duplicate_registration_is_an_error():
    with pytest.raises(seqzoo.SeqzooError, match="already registered"):
        register_model("gru")(lambda: None)


def test_unknown_architecture_suggests_close_names():
    with pytest.raises(seqzoo.UnknownNameError, match="'gru'"):
        seqzoo.create_model("gur")


def test_bad_keyword_names_the_architecture():
    with pytest.raises(seqzoo.SeqzooError, match="cannot build architecture 'gru'"):
        seqzoo.create_model("gru", hidden=3)


def test_a_checkpoint_name_given_for_an_architecture_suggests_the_architecture():
    with pytest.raises(seqzoo.UnknownNameError, match=r"Did you mean 'lstm'\?"):
        seqzoo.create_model("lstm.synthetic")


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"bidirectional": "no"}, "gru: bidirectional must be True or False, got 'no'"),
        ({"return_sequences": 1}, "gru: return_sequences must be True or False, got 1"),
        ({"dropout": "0.1"}, "gru: dropout must be a number like 0.0, got '0.1'"),
        ({"vocab_size": 0}, "gru: vocab_size must be None (numeric inputs) or a token count >= 1, got 0"),
    ],
)
def test_arguments_of_the_wrong_kind_are_refused_before_building(kwargs, says):
    """A string "no" is truthy: it built a bidirectional GRU of twice the parameters."""
    with pytest.raises(seqzoo.SeqzooError, match=re.escape(says)):
        seqzoo.create_model("gru", **kwargs)
    assert isinstance(seqzoo.create_model("gru", hidden_size=[8, 4], bidirectional=False), torch.nn.Module)


@pytest.mark.parametrize("call", [seqzoo.create_model, seqzoo.list_models, seqzoo.list_pretrained])
def test_names_and_patterns_that_are_not_strings_are_seqzoo_errors(call):
    with pytest.raises(seqzoo.SeqzooError, match="must be a string like"):
        call(None)
