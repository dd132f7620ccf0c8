"""Recurrent dropout as Gal & Ghahramani / Keras define it."""

from __future__ import annotations

import pytest
import torch

from seqzoo.nn.recurrent import RecurrentEncoder
from seqzoo.nn.recurrent_dropout import dropped_layer


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_with_p_zero_the_loop_matches_the_fused_kernel(cell, bidirectional):
    torch.manual_seed(0)
    enc = RecurrentEncoder(3, 8, cell, bidirectional=bidirectional)
    x, lengths = torch.randn(4, 12, 3), torch.tensor([12, 5, 1, 9])
    for given in (None, lengths):
        fused_out, fused_last = enc._fused(enc.layers[0], x, given)
        loop_out, loop_last = dropped_layer(enc.layers[0], x, given, 0.0)
        fused_h = fused_last[0] if isinstance(fused_last, tuple) else fused_last
        torch.testing.assert_close(loop_out, fused_out, atol=1e-6, rtol=0)
        torch.testing.assert_close(loop_last, fused_h, atol=1e-6, rtol=0)


def recorded_masks(cell: str, batch: int = 4, steps: int = 6, p: float = 0.5):
    """Run a training-mode layer and record the (dropped-out) state that each step multiplies by its
    recurrent weights, by watching the `addmm` calls of state size."""
    torch.manual_seed(1)
    enc = RecurrentEncoder(2, 5, cell, recurrent_dropout=p).train()
    seen = []
    original = torch.addmm

    def spy(bias, h, w, **out):
        if h.shape == (batch, 5):  # a recurrent step, not the input projection of all steps at once
            seen.append(h.detach().clone())
        return original(bias, h, w, **out)

    torch.addmm = spy
    try:
        enc(torch.randn(batch, steps, 2))
    finally:
        torch.addmm = original
    return seen


def test_one_mask_per_sequence_fixed_across_steps():
    seen = recorded_masks("gru")
    dropped = [(h == 0) for h in seen[1:]]  # step 0 multiplies the zero initial state
    assert all(torch.equal(d, dropped[0]) for d in dropped), "the mask changed between time steps"
    per_sequence = dropped[0]
    assert per_sequence.any() and not per_sequence.all()
    assert not all(torch.equal(per_sequence[0], row) for row in per_sequence[1:]), "sequences share one mask"


def test_no_dropout_in_eval_mode():
    torch.manual_seed(0)
    enc = RecurrentEncoder(2, 5, "gru", recurrent_dropout=0.5)
    fused = RecurrentEncoder(2, 5, "gru")
    fused.load_state_dict(enc.state_dict())
    x = torch.randn(3, 7, 2)
    enc.eval()
    assert torch.equal(enc(x), enc(x))
    torch.testing.assert_close(enc(x), fused(x))
    enc.train()
    assert not torch.allclose(enc(x), fused(x))


def test_dropout_rates_are_validated():
    with pytest.raises(Exception, match=r"recurrent_dropout must be in \[0, 1\)"):
        RecurrentEncoder(2, 5, "gru", recurrent_dropout=1.0)
