"""Recurrent dropout (Gal & Ghahramani 2016, as Keras does it): one mask on the recurrent state,
fixed across the time steps of a sequence, training only.

Fused `nn.RNN`/`nn.LSTM`/`nn.GRU` kernels cannot drop the state inside their loop, so this runs the
cell loop itself on the fused module's own parameters: with p = 0 it computes exactly what the fused
kernel does, and in eval mode the encoder uses the fused kernel. The input projection of every step is
one matmul up front and only the recurrent part runs per step (TorchScript gained nothing here, so the
loop stays plain Python; see benchmarks/). A GRU training on CPU runs the hand-written backward pass of
`gru_bptt.py` instead, which takes the mask too.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqzoo.nn.gru_bptt import GruScan, hand_written_applies


def _scan(
    cell: str, nonlinearity: str, gi: Tensor, w_hh: Tensor, b_hh: Tensor, mask: Tensor, valid: Tensor
) -> Tensor:
    """Run one direction over input projections `gi` (batch, time, gates*hidden); returns h per step.

    `valid` (batch, time) freezes the state after a sequence's last real step (right padding).
    """
    batch, steps = gi.shape[0], gi.shape[1]
    hidden = w_hh.shape[1]
    h = gi.new_zeros(batch, hidden)
    c = gi.new_zeros(batch, hidden)
    outputs = []
    w_t = w_hh.t()
    inputs = gi.unbind(1)  # one backward for all steps; indexing gi[:, t] would cost O(time) each
    for t in range(steps):
        gh = torch.addmm(b_hh, h * mask, w_t)
        x = inputs[t]
        if cell == "gru":
            xr, xz, xn = x.chunk(3, 1)
            hr, hz, hn = gh.chunk(3, 1)
            r = torch.sigmoid(xr + hr)
            z = torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)
            new_h = (1 - z) * n + z * h
        elif cell == "lstm":
            i, f, g, o = (x + gh).chunk(4, 1)
            new_c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            new_h = torch.sigmoid(o) * torch.tanh(new_c)
            keep_c = valid[:, t : t + 1]
            c = torch.where(keep_c, new_c, c)
        else:
            pre = x + gh
            new_h = torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)
        keep = valid[:, t : t + 1]
        h = torch.where(keep, new_h, h)
        outputs.append(torch.where(keep, new_h, torch.zeros_like(new_h)))
    return torch.stack(outputs, 1)


def _reverse_within(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each sequence's first `length` steps, leaving its padding in place."""
    steps = x.shape[1]
    t = torch.arange(steps, device=x.device).expand(x.shape[0], steps)
    idx = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)
    return x.gather(1, idx.unsqueeze(-1).expand_as(x))


def dropped_layer(layer: nn.RNNBase, x: Tensor, lengths: Tensor | None, p: float) -> tuple[Tensor, Tensor]:
    """Run a single-layer fused module's cell with recurrent dropout `p`.

    Returns every step `(batch, time, directions*hidden)` (zeros on padding) and the last state of each
    direction `(directions, batch, hidden)`, the shapes the fused module would give.
    """
    batch, steps = x.shape[:2]
    padded = lengths is not None
    lengths = torch.full((batch,), steps, device=x.device) if lengths is None else lengths.to(x.device)
    valid = torch.arange(steps, device=x.device)[None, :] < lengths[:, None]
    cell = {"LSTM": "lstm", "GRU": "gru", "RNN": "rnn"}[type(layer).__name__]
    nonlinearity = getattr(layer, "nonlinearity", "tanh")
    outputs, finals = [], []
    for suffix in ("", "_reverse")[: 2 if layer.bidirectional else 1]:
        w_ih, b_ih = getattr(layer, f"weight_ih_l0{suffix}"), getattr(layer, f"bias_ih_l0{suffix}")
        w_hh, b_hh = getattr(layer, f"weight_hh_l0{suffix}"), getattr(layer, f"bias_hh_l0{suffix}")
        source = _reverse_within(x, lengths) if suffix else x
        mask = torch.bernoulli(x.new_full((batch, layer.hidden_size), 1 - p)) / (1 - p)
        if hand_written_applies(layer, x):
            # A forward scan never looks ahead, so steps before the padding come out as if frozen there.
            out = GruScan.apply(source, x.new_zeros(batch, layer.hidden_size), w_ih, w_hh, b_ih, b_hh, mask)
            out = out.masked_fill(~valid[..., None], 0) if padded else out
        else:
            out = _scan(
                cell, nonlinearity, torch.nn.functional.linear(source, w_ih, b_ih), w_hh, b_hh, mask, valid
            )
        finals.append(
            out.gather(1, (lengths - 1).clamp(min=0).view(-1, 1, 1).expand(-1, 1, out.shape[-1]))[:, 0]
        )
        outputs.append(_reverse_within(out, lengths) if suffix else out)
    return torch.cat(outputs, dim=-1), torch.stack(finals)
