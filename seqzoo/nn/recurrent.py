"""One recurrent encoder for every cell type (rnn, lstm, gru), and the zoo's recurrent architectures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from seqzoo.errors import SeqzooError
from seqzoo.nn.gru_bptt import gru_call, gru_direction, hand_written_applies
from seqzoo.nn.heads import SequenceNet
from seqzoo.nn.recurrent_dropout import dropped_layer
from seqzoo.registry import register_model

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
State = list  # one entry per layer: Tensor (rnn, gru) or (h, c) tuple (lstm)
POOLS = ("last", "max", "mean")


def run_layer(
    layer: nn.RNNBase, x: Tensor, hx: Tensor | tuple[Tensor, Tensor] | None = None
) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
    """`layer(x, hx)`, with CPU GRU training through the hand-written backward pass of `gru_bptt.py`."""
    if hand_written_applies(layer, x):
        return gru_call(layer, x, hx)
    return layer(x, hx)


def pool_steps(seq: Tensor, lengths: Tensor | None, how: str) -> Tensor:
    """Max or mean of `(batch, time, out)` over each sequence's real steps (all steps without lengths)."""
    if lengths is None:
        return seq.amax(dim=1) if how == "max" else seq.mean(dim=1)
    lengths = lengths.to(seq.device)
    padded = (torch.arange(seq.shape[1], device=seq.device)[None, :] >= lengths[:, None])[..., None]
    if how == "max":
        return seq.masked_fill(padded, float("-inf")).amax(dim=1)
    return seq.masked_fill(padded, 0).sum(dim=1) / lengths[:, None].to(seq.dtype)


def layer_sizes(hidden_size: int | Sequence[int], num_layers: int | None = None) -> list[int]:
    """Each layer's width: `num_layers` copies of an int `hidden_size` (1 when left out), or the list.

    A list already says how many layers there are: a `num_layers` that disagrees is refused, not ignored.
    """
    if num_layers is not None and (
        isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1
    ):
        raise SeqzooError(f"num_layers must be an integer >= 1 (or left out), got {num_layers!r}")
    listed = isinstance(hidden_size, Sequence)
    sizes = list(hidden_size) if listed else [hidden_size] * (num_layers or 1)
    if not sizes or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes):
        raise SeqzooError(
            f"hidden_size must be a positive int or a non-empty list of them, got {hidden_size!r}"
        )
    if listed and num_layers not in (None, len(sizes)):
        raise SeqzooError(
            f"hidden_size {sizes} gives {len(sizes)} layers but num_layers is {num_layers}; with a list "
            "hidden_size (one width per layer) leave num_layers out"
        )
    return sizes


class RecurrentEncoder(nn.Module):
    """Stacked recurrent layers over `(batch, time, features)`.

    Each layer is its own fused `nn.RNN`/`nn.LSTM`/`nn.GRU` (cuDNN on GPU), which is what allows
    per-layer sizes and summed bidirectional outputs in one code path. `dropout` drops each layer's
    input and `recurrent_dropout` its recurrent state, both with one mask per sequence (as Keras);
    training with recurrent dropout runs the cell loop of `recurrent_dropout.py` instead of the kernel.
    Returns the last state `(batch, out)`, the top layer's outputs pooled over the real steps (`pool`
    'max' or 'mean': every step then reaches the head directly, which long token sequences need) or,
    with `return_sequences`, every step `(batch, time, out)`.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int | Sequence[int] = 32,
        cell: str = "gru",
        num_layers: int | None = None,
        bidirectional: bool = False,
        merge: str = "concat",
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        nonlinearity: str = "tanh",
        return_sequences: bool = False,
        pool: str = "last",
    ) -> None:
        super().__init__()
        if pool not in POOLS:
            raise SeqzooError(f"pool must be one of {POOLS}, got {pool!r}")
        if cell not in CELLS:
            raise SeqzooError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        if merge not in ("concat", "sum"):
            raise SeqzooError(f"merge must be 'concat' or 'sum', got {merge!r}")
        sizes = layer_sizes(hidden_size, num_layers)
        for label, p in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0 <= p < 1:
                raise SeqzooError(f"{label} must be in [0, 1), got {p}")
        self.cell, self.sizes, self.bidirectional, self.merge = cell, sizes, bidirectional, merge
        self.dropout, self.recurrent_dropout = dropout, recurrent_dropout
        self.return_sequences, self.pool = return_sequences, pool
        extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        layers, width = [], input_size
        for size in sizes:
            layers.append(CELLS[cell](width, size, batch_first=True, bidirectional=bidirectional, **extra))
            width = 2 * size if bidirectional and merge == "concat" else size
        self.layers = nn.ModuleList(layers)
        self.output_size = width

    def _merge(self, out: Tensor) -> Tensor:
        if self.bidirectional and self.merge == "sum":
            half = out.shape[-1] // 2
            return out[..., :half] + out[..., half:]
        return out

    def _last_state(self, h_n: Tensor | tuple[Tensor, Tensor]) -> Tensor:
        h = h_n[0] if isinstance(h_n, tuple) else h_n  # (directions, batch, hidden)
        if not self.bidirectional:
            return h[0]
        return h[0] + h[1] if self.merge == "sum" else torch.cat([h[0], h[1]], dim=-1)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """`lengths` (batch,) marks real steps of right-padded input; padding never changes the output."""
        looped = self.training and self.recurrent_dropout > 0
        seq, last = x, None
        for layer in self.layers:
            seq = self._input_dropout(seq)
            if looped:
                seq, last = dropped_layer(layer, seq, lengths, self.recurrent_dropout)
            else:
                seq, last = self._fused(layer, seq, lengths)
            seq = self._merge(seq)
        if self.return_sequences:
            return seq
        return self._last_state(last) if self.pool == "last" else pool_steps(seq, lengths, self.pool)

    def _input_dropout(self, x: Tensor) -> Tensor:
        """Keras-style input dropout: one mask per sequence, the same at every time step."""
        if not self.training or self.dropout == 0:
            return x
        keep = 1 - self.dropout
        return x * (torch.bernoulli(x.new_full((x.shape[0], 1, x.shape[2]), keep)) / keep)

    @staticmethod
    def _fused(layer: nn.RNNBase, x: Tensor, lengths: Tensor | None):
        if lengths is None:
            return run_layer(layer, x)
        if not layer.bidirectional:
            # A forward recurrence never looks ahead, so each sequence's steps come out exactly as without
            # its padding: one plain kernel call over the padded batch, read at each sequence's last step
            # (packing the batch instead made a CPU training step 4x to 10x slower for GRU, LSTM, RNN).
            out, _ = run_layer(layer, x)
            lengths = lengths.to(x.device)
            out = out.masked_fill(
                torch.arange(x.shape[1], device=x.device)[None, :, None] >= lengths[:, None, None], 0
            )
            return out, out[torch.arange(x.shape[0], device=x.device), lengths - 1].unsqueeze(0)
        return RecurrentEncoder._bidirectional(layer, x, lengths.to(x.device))

    @staticmethod
    def _bidirectional(layer: nn.RNNBase, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Both directions of right-padded input with the plain kernel, run twice instead of packed once.

        Right-padded, the forward direction reads each sequence before its padding; left-padded, the
        backward one does. So the layer runs on the batch as given (its forward half is kept) and on the
        batch shifted to the left padding (its backward half is kept, shifted back). Two plain kernel
        calls cost less than one over a packed batch on CPU, where packing made an IMDB BiLSTM epoch
        take over 15 minutes; outputs at padded steps are zero, as after packing.
        """
        batch, steps, hidden = x.shape[0], x.shape[1], layer.hidden_size
        time = torch.arange(steps, device=x.device)[None, :]
        shift = (steps - lengths)[:, None]  # how far each sequence moves right when left-padded
        left = x.gather(1, (time - shift).clamp(min=0)[..., None].expand(-1, -1, x.shape[2]))
        if hand_written_applies(layer, x):  # each call runs only the direction it keeps
            forward, backward_left = gru_direction(layer, x), gru_direction(layer, left, reverse=True)
        else:
            forward, backward_left = layer(x)[0][..., :hidden], layer(left)[0][..., hidden:]
        backward = backward_left.gather(
            1, (time + shift).clamp(max=steps - 1)[..., None].expand(-1, -1, hidden)
        )
        out = torch.cat([forward, backward], dim=-1).masked_fill((time >= lengths[:, None])[..., None], 0)
        rows = torch.arange(batch, device=x.device)
        last = torch.stack([forward[rows, lengths - 1], backward[:, 0]])  # (directions, batch, hidden)
        return out, last

    # Streaming: feed one step at a time and match the full-sequence forward exactly.
    def init_state(self, batch_size: int, device: torch.device | None = None) -> State:
        if self.bidirectional or self.pool != "last":
            raise SeqzooError("step-by-step use needs a unidirectional encoder read at its last step")
        zeros = [torch.zeros(1, batch_size, s, device=device) for s in self.sizes]
        return [(z, torch.zeros_like(z)) if self.cell == "lstm" else z for z in zeros]

    def step(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        """One time step `(batch, features)` -> top-layer output `(batch, hidden)` and the new state."""
        out, state = self.forward_chunk(x_t.unsqueeze(1), state)
        return out[:, 0], state

    def forward_chunk(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """Every step of a chunk `(batch, time, features)` continuing from `state` (streaming, TBPTT)."""
        _check_state(state, len(self.layers), x.shape[0])
        new_state = []
        for layer, layer_state in zip(self.layers, state, strict=True):
            x, s = run_layer(layer, x, layer_state)
            new_state.append(s)
        return x, new_state


def _check_state(state: Any, layers: int, batch: int) -> None:
    """A state from `init_state` for this many layers and this batch, or an error naming what differs."""
    if not isinstance(state, (list, tuple)) or len(state) != layers:
        raise SeqzooError(
            f"state must be the list of {layers} layer states that init_state(batch_size) returns"
        )
    first = state[0][0] if isinstance(state[0], tuple) else state[0]
    if not isinstance(first, Tensor) or first.shape[1] != batch:
        got = tuple(first.shape) if isinstance(first, Tensor) else type(first).__name__
        raise SeqzooError(
            f"state holds a batch of another size ({got}) than the input's {batch}; "
            f"start with init_state({batch})"
        )


def _recurrent(
    cell: str, default_hidden: int | Sequence[int], bidirectional: bool = False, default_dropout: float = 0.0
):
    def factory(
        input_size: int = 1,
        output_size: int = 1,
        hidden_size: int | list[int] = default_hidden,
        num_layers: int | None = None,
        bidirectional: bool = bidirectional,
        merge: str = "concat",
        dropout: float = default_dropout,
        recurrent_dropout: float = default_dropout,
        return_sequences: bool = False,
        vocab_size: int | None = None,
        embedding_dim: int = 32,
        nonlinearity: str = "tanh",
        pool: str = "last",
    ) -> SequenceNet:
        if nonlinearity != "tanh" and cell != "rnn":
            raise SeqzooError(f"nonlinearity applies to simplernn only, not {cell}")
        width = embedding_dim if vocab_size else input_size
        encoder = RecurrentEncoder(
            width,
            hidden_size,
            cell,
            num_layers,
            bidirectional,
            merge,
            dropout,
            recurrent_dropout,
            nonlinearity,
            return_sequences,
            pool,
        )
        return SequenceNet(encoder, output_size, vocab_size=vocab_size, embedding_dim=embedding_dim)

    dropout_note = f", dropout and recurrent dropout {default_dropout}" if default_dropout else ""
    factory.__doc__ = f"{cell.upper()} encoder (hidden {default_hidden}{dropout_note}) with a linear head."
    return factory


simplernn = register_model("simplernn")(_recurrent("rnn", 32))
stacked_simplernn = register_model("stacked_simplernn")(_recurrent("rnn", [32, 32]))
lstm = register_model("lstm")(_recurrent("lstm", 32))
gru = register_model("gru")(_recurrent("gru", 32))
stacked_lstm = register_model("stacked_lstm")(_recurrent("lstm", [32, 64]))
stacked_gru = register_model("stacked_gru")(_recurrent("gru", [32, 64]))
bilstm = register_model("bilstm")(_recurrent("lstm", 32, bidirectional=True))
bigru = register_model("bigru")(_recurrent("gru", 32, bidirectional=True))
gru_dropout = register_model("gru_dropout")(_recurrent("gru", 32, default_dropout=0.2))
