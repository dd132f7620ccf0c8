"""GRU training on CPU with a hand-written backward pass (backpropagation through time).

On CPU PyTorch runs `nn.GRU` one cell at a time, and autograd records the small operations of every
step and replays them backward: for a Jena batch (240 steps, batch 128, hidden 32) that replay took 63
of the 87 ms of forward and backward. `nn.LSTM` goes to oneDNN's fused kernel instead, which PyTorch
does not offer for GRU. `GruScan` computes the same function on the module's own parameters with fewer
operations per step: the forward pass also stores, per step, the local derivatives the backward pass
needs, so the backward loop is one multiply, one fused multiply-add and one matrix product per step, and
the weight gradients are single matrix products over all steps (docs/benchmarks.md, "GRU training on
CPU"). Only used while autograd records on CPU; inference, CUDA (cuDNN) and every other cell keep
PyTorch's kernels."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable


def hand_written_applies(layer: nn.RNNBase, x: Tensor) -> bool:
    """Whether `layer(x)` should run through `GruScan`: a CPU GRU whose call autograd is recording.

    Never while tracing: an ONNX export must see `nn.GRU` itself, which it maps onto ONNX's GRU operator.
    Nor under CPU autocast (bf16-mixed training), which casts the kernel's inputs where it knows how.
    """
    return (
        isinstance(layer, nn.GRU)
        and not torch.jit.is_tracing()
        and not torch.is_autocast_enabled("cpu")
        and x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and torch.is_grad_enabled()
        and (x.requires_grad or any(p.requires_grad for p in layer.parameters()))
        and layer.num_layers == 1
        and layer.batch_first
        and layer.bias
        and x.dim() == 3
        and x.shape[0] > 0
        and x.shape[1] > 0
    )


def gru_direction(layer: nn.GRU, x: Tensor, h0: Tensor | None = None, reverse: bool = False) -> Tensor:
    """Every step's state `(batch, time, hidden)` of one direction of a single-layer batch-first GRU;
    the reverse direction reads the steps last to first and is returned in the input's order."""
    suffix = "_reverse" if reverse else ""
    out = GruScan.apply(
        x.flip(1) if reverse else x,
        x.new_zeros(x.shape[0], layer.hidden_size) if h0 is None else h0,
        getattr(layer, f"weight_ih_l0{suffix}"),
        getattr(layer, f"weight_hh_l0{suffix}"),
        getattr(layer, f"bias_ih_l0{suffix}"),
        getattr(layer, f"bias_hh_l0{suffix}"),
    )
    return out.flip(1) if reverse else out


def gru_call(layer: nn.GRU, x: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """What `layer(x, hx)` returns for a single-layer batch-first GRU: every step `(batch, time,
    directions*hidden)` and the last state of each direction `(directions, batch, hidden)`."""
    forward = gru_direction(layer, x, None if hx is None else hx[0])
    if not layer.bidirectional:
        return forward, forward[:, -1].unsqueeze(0)
    backward = gru_direction(layer, x, None if hx is None else hx[1], reverse=True)
    return torch.cat([forward, backward], dim=-1), torch.stack([forward[:, -1], backward[:, 0]])


class GruScan(torch.autograd.Function):
    """One direction of a GRU over `(batch, time, input)`, PyTorch's gate layout (r, z, n) and equations:
    r, z = sigmoid(W_i x + b_i + W_h h + b_h); n = tanh(W_in x + b_in + r * (W_hn h + b_hn));
    h' = (1 - z) * n + z * h. Returns every step's state `(batch, time, hidden)`. With `mask`
    `(batch, hidden)` the recurrent projections read `h * mask` (recurrent dropout, as Keras)."""

    @staticmethod
    def forward(
        ctx,
        x: Tensor,
        h0: Tensor,
        w_ih: Tensor,
        w_hh: Tensor,
        b_ih: Tensor,
        b_hh: Tensor,
        mask: Tensor | None = None,
    ) -> Tensor:
        batch, steps, width = x.shape
        hidden = w_hh.shape[1]
        x_by_step = x.transpose(0, 1).reshape(steps * batch, width)
        gi = torch.addmm(b_ih, x_by_step, w_ih.t()).view(steps, batch, 3 * hidden)
        states = x.new_empty(steps + 1, batch, hidden)
        states[0] = h0
        gates = x.new_empty(steps, batch, 2 * hidden)  # r and z of every step
        # d h'/d(pre-activations) factors per step: r, z, the n gate's recurrent part, and n's own.
        local = x.new_empty(steps, batch, 4, hidden)
        gh = x.new_empty(batch, 3 * hidden)
        gh_rz, gh_n = gh[:, : 2 * hidden], gh[:, 2 * hidden :]
        slope = x.new_empty(batch, 2 * hidden)  # sigmoid' of r and z: s * (1 - s)
        slope_r, slope_z = slope[:, :hidden], slope[:, hidden:]
        n = x.new_empty(batch, hidden)
        one = x.new_ones(batch, hidden)
        dropped = x.new_empty(batch, hidden)
        w_hh_t = w_hh.t()
        for gi_rz, gi_n, h, h_next, rz, r, z, k_r, k_z, k_hn, k_n in zip(
            gi[..., : 2 * hidden].unbind(0),
            gi[..., 2 * hidden :].unbind(0),
            states[:-1].unbind(0),
            states[1:].unbind(0),
            gates.unbind(0),
            gates[..., :hidden].unbind(0),
            gates[..., hidden:].unbind(0),
            *(local[:, :, part].unbind(0) for part in range(4)),
            strict=True,
        ):
            torch.addmm(b_hh, h if mask is None else torch.mul(h, mask, out=dropped), w_hh_t, out=gh)
            torch.add(gi_rz, gh_rz, out=rz).sigmoid_()
            torch.addcmul(gi_n, r, gh_n, out=n).tanh_()
            torch.lerp(n, h, z, out=h_next)
            torch.addcmul(rz, rz, rz, value=-1, out=slope)
            torch.addcmul(one, n, n, value=-1, out=k_n)  # tanh' = 1 - n^2 ...
            torch.addcmul(k_n, k_n, z, value=-1, out=k_n)  # ... times dh'/dn = 1 - z
            torch.mul(k_n, r, out=k_hn)
            torch.mul(k_n, gh_n, out=k_r).mul_(slope_r)
            torch.sub(h, n, out=k_z).mul_(slope_z)
        ctx.save_for_backward(x_by_step, w_ih, w_hh, local, gates, states, mask)
        return states[1:].transpose(0, 1)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        x_by_step, w_ih, w_hh, local, gates, states, mask = ctx.saved_tensors
        steps, batch, _, hidden = local.shape
        grad_by_step = grad_out.transpose(0, 1)
        d_states = local.new_empty(steps, batch, hidden)  # dL/dh of every step's output, all paths
        d_states[-1] = grad_by_step[-1]
        d_h0 = local.new_empty(batch, hidden)
        d_gh = local.new_empty(steps, batch, 3, hidden)  # dL/d(W_h h + b_h), per gate
        d_gh_rows = d_gh.view(steps, batch, 3 * hidden)
        for t, d_gh_t, d_gh_row, k, z, d_h, d_h_wide in zip(
            range(steps - 1, -1, -1),
            d_gh.unbind(0)[::-1],
            d_gh_rows.unbind(0)[::-1],
            local[:, :, :3].unbind(0)[::-1],
            gates[..., hidden:].unbind(0)[::-1],
            d_states.unbind(0)[::-1],
            d_states.unsqueeze(2).unbind(0)[::-1],
            strict=True,
        ):
            torch.mul(d_h_wide, k, out=d_gh_t)
            carried = torch.addcmul(grad_by_step[t - 1], d_h, z) if t > 0 else d_h * z
            d_h_before = d_states[t - 1] if t > 0 else d_h0
            if mask is None:
                torch.addmm(carried, d_gh_row, w_hh, out=d_h_before)
            else:
                torch.addcmul(carried, d_gh_row @ w_hh, mask, out=d_h_before)
        d_gh_flat = d_gh_rows.view(steps * batch, 3 * hidden)
        d_rz = d_gh_flat[:, : 2 * hidden]  # r and z enter both projections alike
        d_gi_n = (d_states * local[:, :, 3]).view(steps * batch, hidden)
        d_x = d_w_ih = d_w_hh = d_b_ih = d_b_hh = None
        needs = ctx.needs_input_grad
        if needs[0]:
            d_x = torch.addmm(d_gi_n @ w_ih[2 * hidden :], d_rz, w_ih[: 2 * hidden])
            d_x = d_x.view(steps, batch, -1).transpose(0, 1)
        if needs[2]:
            d_w_ih = torch.cat([d_rz.t() @ x_by_step, d_gi_n.t() @ x_by_step])
        if needs[3]:
            read = states[:-1] if mask is None else states[:-1] * mask
            d_w_hh = d_gh_flat.t() @ read.reshape(steps * batch, hidden)
        if needs[4] or needs[5]:
            d_b_hh = d_gh_flat.sum(0)
            d_b_ih = torch.cat([d_b_hh[: 2 * hidden], d_gi_n.sum(0)])
        return d_x, d_h0, d_w_ih, d_w_hh, d_b_ih, d_b_hh, None
