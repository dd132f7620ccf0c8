"""The one recurrent encoder: sizes, parameter counts, padding, streaming."""

from __future__ import annotations

import pytest
import torch

from seqzoo.errors import SeqzooError
from seqzoo.nn.recurrent import RecurrentEncoder

GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def closed_form_params(cell: str, input_size: int, sizes: list[int], bidirectional: bool) -> int:
    """PyTorch counts two bias vectors per gate: gates * (h*(h+i) + 2h) per direction and layer."""
    total, width, directions = 0, input_size, 2 if bidirectional else 1
    for h in sizes:
        total += directions * GATES[cell] * (h * (h + width) + 2 * h)
        width = directions * h
    return total


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("sizes,bidirectional", [([8], False), ([8, 16], False), ([8, 4], True)])
def test_parameter_count_matches_closed_form(cell, sizes, bidirectional):
    enc = RecurrentEncoder(3, sizes, cell, bidirectional=bidirectional)
    assert sum(p.numel() for p in enc.parameters()) == closed_form_params(cell, 3, sizes, bidirectional)


def test_lstm_count_for_a_known_case():
    # 4 * (32 * (32 + 1) + 2 * 32) = 4480, the classic LSTM(32) on one feature
    assert sum(p.numel() for p in RecurrentEncoder(1, 32, "lstm").parameters()) == 4480


@pytest.mark.parametrize("merge,width", [("concat", 16), ("sum", 8)])
def test_bidirectional_merge_sets_the_output_width(merge, width):
    enc = RecurrentEncoder(2, 8, "gru", bidirectional=True, merge=merge, return_sequences=True)
    assert enc(torch.randn(4, 7, 2)).shape == (4, 7, width)
    enc.return_sequences = False
    assert enc(torch.randn(4, 7, 2)).shape == (4, width)


def test_summed_directions_are_the_sum_of_the_concatenated_halves():
    torch.manual_seed(0)
    concat = RecurrentEncoder(2, 8, "gru", bidirectional=True, merge="concat")
    summed = RecurrentEncoder(2, 8, "gru", bidirectional=True, merge="sum")
    summed.load_state_dict(concat.state_dict())
    x = torch.randn(4, 6, 2)
    c = concat(x)
    torch.testing.assert_close(summed(x), c[:, :8] + c[:, 8:])


def test_last_state_equals_last_step_of_the_sequence_output():
    enc = RecurrentEncoder(2, [8, 5], "lstm")
    x = torch.randn(4, 6, 2)
    last = enc(x)
    enc.return_sequences = True
    torch.testing.assert_close(enc(x)[:, -1], last)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_never_changes_the_output(cell, bidirectional):
    torch.manual_seed(0)
    enc = RecurrentEncoder(3, [6, 4], cell, bidirectional=bidirectional)
    short = torch.randn(1, 5, 3)
    padded = torch.cat([short, torch.full((1, 45, 3), 7.0)], dim=1)  # garbage padding on the right
    alone = enc(short)
    torch.testing.assert_close(enc(padded, lengths=torch.tensor([5])), alone)
    assert not torch.allclose(enc(padded), alone)  # without lengths, padding would leak in


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_a_bidirectional_batch_of_mixed_lengths_matches_each_sequence_alone(cell):
    """Both directions run unpacked (the backward one on a left-padded copy): every sequence of the batch,
    full-length or one step long, must come out as it does alone, with zeros at its padded steps."""
    torch.manual_seed(0)
    enc = RecurrentEncoder(3, [6, 4], cell, bidirectional=True, return_sequences=True)
    lengths = torch.tensor([9, 1, 4, 7, 2])
    x = torch.randn(5, 9, 3)
    out = enc(x, lengths=lengths)
    enc.return_sequences = False
    last = enc(x, lengths=lengths)
    for b, n in enumerate(lengths.tolist()):
        alone = x[b : b + 1, :n]
        torch.testing.assert_close(last[b : b + 1], enc(alone))
        enc.return_sequences = True
        torch.testing.assert_close(out[b : b + 1, :n], enc(alone))
        enc.return_sequences = False
        assert (out[b, n:] == 0).all()


@pytest.mark.parametrize("pool", ["max", "mean"])
@pytest.mark.parametrize("cell,bidirectional", [("rnn", False), ("lstm", False), ("gru", True)])
def test_pooled_output_is_over_each_sequences_own_steps(pool, cell, bidirectional):
    torch.manual_seed(0)
    enc = RecurrentEncoder(3, [6, 4], cell, bidirectional=bidirectional, pool=pool)
    lengths = torch.tensor([9, 1, 4])
    x = torch.randn(3, 9, 3)
    x[1, 1:], x[2, 4:] = 7.0, -7.0  # garbage padding
    pooled = enc(x, lengths=lengths)
    enc.pool, enc.return_sequences = "last", True
    for b, n in enumerate(lengths.tolist()):
        steps = enc(x[b : b + 1, :n])[0]  # (n, out), this sequence alone
        expected = steps.amax(dim=0) if pool == "max" else steps.mean(dim=0)
        torch.testing.assert_close(pooled[b], expected)
    assert pooled.shape == (3, 8 if bidirectional else 4)


def test_streaming_and_bad_pools_are_refused():
    with pytest.raises(SeqzooError, match="last step"):
        RecurrentEncoder(3, 4, "gru", pool="max").init_state(1)
    with pytest.raises(SeqzooError, match="pool must be one of"):
        RecurrentEncoder(3, 4, "gru", pool="attention")


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_step_by_step_matches_the_full_forward(cell):
    torch.manual_seed(0)
    enc = RecurrentEncoder(3, [6, 4], cell, return_sequences=True)
    x = torch.randn(2, 9, 3)
    full = enc(x)
    state = enc.init_state(2)
    for t in range(9):
        out, state = enc.step(x[:, t], state)
        torch.testing.assert_close(out, full[:, t], atol=1e-5, rtol=1e-5)


def test_streaming_needs_a_unidirectional_encoder():
    with pytest.raises(SeqzooError, match="unidirectional"):
        RecurrentEncoder(3, 4, "gru", bidirectional=True).init_state(1)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"cell": "tcn"}, "cell must be"),
        ({"merge": "avg"}, "merge must be"),
        ({"hidden_size": []}, "hidden_size"),
        ({"num_layers": 0}, r"num_layers must be an integer >= 1 \(or left out\), got 0"),
        (
            {"hidden_size": [16, 16], "num_layers": 5},
            r"hidden_size \[16, 16\] gives 2 layers but num_layers is 5",
        ),
        ({"hidden_size": [16, 16], "num_layers": 1}, "leave num_layers out"),
    ],
)
def test_bad_configuration_is_a_clear_error(kwargs, match):
    with pytest.raises(SeqzooError, match=match):
        RecurrentEncoder(3, **{"hidden_size": 4, **kwargs})


@pytest.mark.parametrize(
    "hidden_size,num_layers,sizes",
    [(16, None, [16]), (16, 3, [16, 16, 16]), ([16, 8], None, [16, 8]), ([16, 8], 2, [16, 8])],
)
def test_num_layers_repeats_an_int_width_and_must_agree_with_a_list(hidden_size, num_layers, sizes):
    import seqzoo

    net = seqzoo.create_model(
        "stacked_simplernn", input_size=1, hidden_size=hidden_size, num_layers=num_layers
    )
    assert [layer.hidden_size for layer in net.encoder.layers] == sizes
    assert net(torch.randn(2, 5, 1)).shape == (2, 1)
    with pytest.raises(SeqzooError, match=r"gives 2 layers but num_layers is 5"):
        seqzoo.create_model("stacked_simplernn", input_size=1, hidden_size=[16, 16], num_layers=5)


def test_simplernn_takes_relu_or_tanh():
    import seqzoo

    torch.manual_seed(0)
    tanh = seqzoo.create_model("simplernn", input_size=2)
    relu = seqzoo.create_model("simplernn", input_size=2, nonlinearity="relu")
    relu.load_state_dict(tanh.state_dict())
    x = torch.randn(3, 5, 2)
    assert relu.encoder.layers[0].nonlinearity == "relu"
    assert not torch.allclose(relu(x), tanh(x))
    with pytest.raises(SeqzooError, match="simplernn only"):
        seqzoo.create_model("gru", nonlinearity="relu")
