"""Conv1D stacks with pooling, and the Conv1D -> RNN hybrid (DLwP 6.4).

Padding never changes a prediction: convolutions are 'same'-padded with zeros, positions past a
sequence's length are zeroed after every block (so they look exactly like the convolution's own
zero padding), pooling uses ceil mode, and global pooling only sees real positions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from seqzoo.errors import SeqzooError
from seqzoo.nn.heads import SequenceNet
from seqzoo.nn.recurrent import RecurrentEncoder, pool_steps
from seqzoo.registry import register_model


def _mask_after(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Zero the positions of `(batch, channels, time)` at or past each sequence's length."""
    if lengths is None:
        return x
    valid = torch.arange(x.shape[-1], device=x.device)[None, :] < lengths.to(x.device)[:, None]
    return x * valid[:, None, :]


class ConvEncoder(nn.Module):
    """Blocks of Conv1D + ReLU, max pooling between blocks, then global max/avg pooling (or the sequence)."""

    def __init__(
        self,
        input_size: int,
        channels: Sequence[int] = (32, 32, 32),
        kernel_size: int = 5,
        pool_size: int = 3,
        global_pool: str | None = "max",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if global_pool not in ("max", "avg", None):
            raise SeqzooError(f"global_pool must be 'max', 'avg' or None, got {global_pool!r}")
        if not channels or kernel_size < 1 or pool_size < 1:
            raise SeqzooError("channels must be non-empty and kernel_size, pool_size >= 1")
        widths = [input_size, *channels]
        self.convs = nn.ModuleList(
            nn.Conv1d(a, b, kernel_size, padding="same") for a, b in zip(widths, widths[1:], strict=False)
        )
        self.pool_size, self.global_pool = pool_size, global_pool
        self.dropout = nn.Dropout(dropout)
        self.output_size = widths[-1]

    def features(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """`(batch, time, features)` -> `(batch, time', channels)` and the lengths after pooling."""
        h = _mask_after(x.transpose(1, 2), lengths)  # whatever the padding holds, it reads as zeros
        for i, conv in enumerate(self.convs):
            h = _mask_after(torch.relu(conv(h)), lengths)
            if i < len(self.convs) - 1:
                h = nn.functional.max_pool1d(h, self.pool_size, ceil_mode=True)
                lengths = None if lengths is None else -(-lengths // self.pool_size)
        return self.dropout(h.transpose(1, 2)), lengths

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        h, lengths = self.features(x, lengths)
        if self.global_pool is None:
            return h
        return pool_steps(h, lengths, "max" if self.global_pool == "max" else "mean")


class ConvRecurrentEncoder(nn.Module):
    """Conv1D + pooling shortens a long sequence cheaply, then a recurrent encoder reads it (DLwP 6.4.4)."""

    def __init__(self, conv: ConvEncoder, recurrent: RecurrentEncoder) -> None:
        super().__init__()
        self.conv, self.recurrent = conv, recurrent
        self.output_size = recurrent.output_size

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        h, lengths = self.conv.features(x, lengths)
        return self.recurrent(h, lengths=lengths)


@register_model("conv1d", family="conv")
def conv1d(
    input_size: int = 1,
    output_size: int = 1,
    channels: list[int] = (32, 32, 32),
    kernel_size: int = 5,
    pool_size: int = 3,
    global_pool: str = "max",
    dropout: float = 0.0,
    vocab_size: int | None = None,
    embedding_dim: int = 32,
) -> SequenceNet:
    """Stacked Conv1D + max pooling ending in global pooling (DLwP 6.4.2), embedding first for tokens."""
    width = embedding_dim if vocab_size else input_size
    encoder = ConvEncoder(width, list(channels), kernel_size, pool_size, global_pool, dropout)
    return SequenceNet(encoder, output_size, vocab_size=vocab_size, embedding_dim=embedding_dim)


@register_model("conv1d_gru", family="conv")
def conv1d_gru(
    input_size: int = 1,
    output_size: int = 1,
    channels: list[int] = (32, 32),
    kernel_size: int = 5,
    pool_size: int = 3,
    hidden_size: int | list[int] = 32,
    dropout: float = 0.1,
    recurrent_dropout: float = 0.5,
    vocab_size: int | None = None,
    embedding_dim: int = 32,
    pool: str = "last",
) -> SequenceNet:
    """Conv1D blocks with pooling in between, then a GRU (DLwP 6.4.4's defaults); `pool` as for the
    recurrent architectures (the GRU's last state, or its outputs max- or mean-pooled)."""
    width = embedding_dim if vocab_size else input_size
    conv = ConvEncoder(width, list(channels), kernel_size, pool_size, global_pool=None)
    gru = RecurrentEncoder(
        conv.output_size,
        hidden_size,
        "gru",
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        pool=pool,
    )
    return SequenceNet(ConvRecurrentEncoder(conv, gru), output_size, vocab_size, embedding_dim)
