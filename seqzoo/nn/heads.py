"""The shell every zoo architecture shares: optional embedding, an encoder, a linear head."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqzoo.errors import SeqzooError


class SequenceNet(nn.Module):
    """Embedding (token input) -> encoder -> linear head, per step or on the last state.

    Keeping embedding and head here means encoders only map `(batch, time, width)` to features,
    and every architecture accepts both float features and token ids the same way.
    """

    def __init__(
        self, encoder: nn.Module, output_size: int, vocab_size: int | None = None, embedding_dim: int = 32
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0) if vocab_size else None
        if self.embedding is not None:
            # Keras's uniform(-0.05, 0.05), not PyTorch's N(0, 1): unit-scale embeddings saturate the
            # recurrent gates from the first step, and IMDB models learned several times slower.
            with torch.no_grad():
                self.embedding.weight.uniform_(-0.05, 0.05)
                self.embedding.weight[0].zero_()  # padding reads as nothing
        self.encoder = encoder
        self.head = nn.Linear(encoder.output_size, output_size)

    @property
    def input_kind(self) -> str:
        return "tokens" if self.embedding is not None else "features"

    def embed(self, x: Tensor) -> Tensor:
        return self.embedding(x) if self.embedding is not None else x

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        if lengths is None:
            return self.head(self.encoder(self.embed(x)))
        return self.head(self.encoder(self.embed(x), lengths=lengths))

    def init_state(self, batch_size: int, device: torch.device | None = None):
        if not hasattr(self.encoder, "init_state"):
            raise SeqzooError(f"{type(self.encoder).__name__} has no state to stream; use a recurrent arch")
        return self.encoder.init_state(batch_size, device)

    def forward_chunk(self, x: Tensor, state):
        """Per-step outputs of a chunk continuing from `state`, and the state after it (TBPTT, streaming)."""
        if not hasattr(self.encoder, "forward_chunk"):
            name = type(self.encoder).__name__
            raise SeqzooError(f"{name} keeps no state between chunks; use a recurrent architecture")
        out, state = self.encoder.forward_chunk(self.embed(x), state)
        return self.head(out), state

    def step(self, x_t: Tensor, state):
        """One step of a unidirectional recurrent net: what the full forward would emit at that step."""
        out, state = self.encoder.step(self.embed(x_t), state)
        return self.head(out), state
