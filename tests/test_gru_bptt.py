"""The hand-written GRU backward pass computes what nn.GRU and autograd compute, and runs where it should."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqzoo.nn.gru_bptt import GruScan, gru_call, hand_written_applies
from seqzoo.nn.recurrent import RecurrentEncoder
from seqzoo.nn.recurrent_dropout import dropped_layer


def _weights(layer: nn.GRU) -> list[torch.Tensor]:
    return [getattr(layer, f"{kind}_l0") for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


def test_gradients_match_finite_differences_in_float64() -> None:
    torch.manual_seed(0)
    layer = nn.GRU(4, 5, batch_first=True).double()
    x = torch.randn(3, 6, 4, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(GruScan.apply, (x, h0, *_weights(layer)))


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("steps", [1, 37])
def test_outputs_and_every_gradient_match_nn_gru(bidirectional: bool, with_state: bool, steps: int) -> None:
    torch.manual_seed(1)
    layer = nn.GRU(6, 9, batch_first=True, bidirectional=bidirectional)
    x = torch.randn(5, steps, 6, requires_grad=True)
    hx = torch.randn(2 if bidirectional else 1, 5, 9, requires_grad=True) if with_state else None
    leaves = [x, *layer.parameters(), *([hx] if with_state else [])]

    def run(call):
        out, h_n = call(layer, x, hx)
        # Different weights on every output and final state, so each gradient path counts.
        loss = (out * torch.linspace(-1, 2, out.numel()).view_as(out)).sum() + 3 * h_n.square().sum()
        grads = torch.autograd.grad(loss, leaves)
        return out.detach(), h_n.detach(), grads

    out, h_n, grads = run(gru_call)
    ref_out, ref_h_n, ref_grads = run(lambda layer, x, hx: layer(x, hx))
    torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h_n, ref_h_n, rtol=1e-5, atol=1e-6)
    assert len(grads) == len(ref_grads)
    for got, want in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_frozen_weights_get_no_gradient() -> None:
    torch.manual_seed(2)
    layer = nn.GRU(3, 4, batch_first=True)
    layer.weight_ih_l0.requires_grad_(False)
    x = torch.randn(2, 5, 3)
    out, _ = gru_call(layer, x)
    out.sum().backward()
    assert layer.weight_ih_l0.grad is None
    assert layer.weight_hh_l0.grad is not None and layer.weight_hh_l0.grad.abs().sum() > 0


@pytest.mark.parametrize("bidirectional", [False, True])
def test_padded_encoder_through_the_hand_written_path(bidirectional: bool) -> None:
    """Right-padded batches: the training-mode output equals the kernel's (no grad), and its gradient
    matches finite differences, so padding still never changes a sequence's result."""
    torch.manual_seed(3)
    encoder = RecurrentEncoder(4, 5, "gru", bidirectional=bidirectional).double().train()
    x = torch.randn(3, 7, 4, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([7, 4, 1])
    recorded = encoder(x, lengths)
    assert "GruScanBackward" in _graph_names(recorded.grad_fn)
    with torch.no_grad():
        torch.testing.assert_close(recorded, encoder(x, lengths))
    assert torch.autograd.gradcheck(lambda x: encoder(x, lengths), (x,))


def _graph_names(fn: object, seen: set | None = None) -> set[str]:
    """Class names of every autograd node reachable from `fn`."""
    seen = set() if seen is None else seen
    if fn is not None and fn not in seen:
        seen.add(fn)
        for parent, _ in fn.next_functions:
            _graph_names(parent, seen)
    return {type(f).__name__ for f in seen}


def test_runs_only_where_autograd_records_a_cpu_gru() -> None:
    gru, lstm = nn.GRU(3, 4, batch_first=True), nn.LSTM(3, 4, batch_first=True)
    x = torch.randn(2, 5, 3)
    assert hand_written_applies(gru, x)
    assert not hand_written_applies(lstm, x)
    assert not hand_written_applies(nn.GRU(3, 4, batch_first=True, bias=False), x)
    assert not hand_written_applies(gru, x.half())
    assert not hand_written_applies(gru, x[:, :0])
    with torch.no_grad():
        assert not hand_written_applies(gru, x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not hand_written_applies(gru, x)
    frozen = nn.GRU(3, 4, batch_first=True).requires_grad_(False)
    assert not hand_written_applies(frozen, x)  # nothing to differentiate: the kernel's forward is faster
    assert hand_written_applies(frozen, x.requires_grad_())
    encoder = RecurrentEncoder(3, 4, "gru").train()
    assert "GruScanBackward" in _graph_names(encoder(x).grad_fn)


def test_recurrent_dropout_mask_gradients_match_finite_differences() -> None:
    torch.manual_seed(4)
    layer = nn.GRU(3, 4, batch_first=True).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    mask = torch.bernoulli(torch.full((2, 4), 0.5, dtype=torch.float64)) * 2
    assert 0 < mask.count_nonzero() < mask.numel()

    def masked(x: torch.Tensor, h0: torch.Tensor, *weights: torch.Tensor) -> torch.Tensor:
        return GruScan.apply(x, h0, *weights, mask)

    assert torch.autograd.gradcheck(masked, (x, h0, *_weights(layer)))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_dropout_layer_matches_the_cell_loop(bidirectional: bool) -> None:
    """Same seed, same masks: the hand-written path (autograd recording) and the cell loop it replaces
    (no grad) give the same steps and last states, padding included, and the gradient is right."""
    layer = nn.GRU(3, 4, batch_first=True, bidirectional=bidirectional).double()
    x = torch.randn(3, 6, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([6, 2, 4])

    def dropped(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        torch.manual_seed(5)
        return dropped_layer(layer, x, lengths, 0.4)

    out, last = dropped(x)
    assert "GruScanBackward" in _graph_names(out.grad_fn)
    with torch.no_grad():
        loop_out, loop_last = dropped(x)
    torch.testing.assert_close(out, loop_out)
    torch.testing.assert_close(last, loop_last)
    assert torch.autograd.gradcheck(lambda x: dropped(x)[0], (x,))


def test_onnx_export_keeps_the_gru_operator() -> None:
    """Exported while autograd records (the default), the graph holds ONNX's GRU, not unrolled steps."""
    onnx = pytest.importorskip("onnx")
    from seqzoo.onnx_serving import _to_onnx_bytes

    encoder = RecurrentEncoder(3, 4, "gru")
    assert hand_written_applies(encoder.layers[0], torch.randn(1, 5, 3))
    graph = onnx.load_from_string(_to_onnx_bytes(encoder, torch.randn(1, 5, 3))).graph
    operators = [node.op_type for node in graph.node]
    assert "GRU" in operators and "Tanh" not in operators
