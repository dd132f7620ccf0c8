"""fastText's classifier (Joulin et al. 2016): the average of a text's token vectors, then a linear head.

Order-free, so it reads the word-pair ids an `ImdbDataModule(bigrams=...)` vocabulary appends after
the words as just more tokens; with them it is the "bag of bigrams" that beats order-aware models on
IMDB at a fraction of their cost.
"""

from __future__ import annotations

from torch import Tensor, nn

from seqzoo.nn.heads import SequenceNet
from seqzoo.nn.recurrent import pool_steps
from seqzoo.registry import register_model


class MeanOfSteps(nn.Module):
    """The average of `(batch, time, width)` over each sequence's real steps (padding excluded)."""

    def __init__(self, width: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.output_size = width

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.dropout(pool_steps(x, lengths, "mean"))


@register_model("fasttext", family="bag")
def fasttext(
    input_size: int = 1,
    output_size: int = 1,
    vocab_size: int | None = None,
    embedding_dim: int = 16,
    dropout: float = 0.0,
) -> SequenceNet:
    """Averaged token embeddings -> linear (fastText); on float features, the averaged steps -> linear."""
    width = embedding_dim if vocab_size else input_size
    return SequenceNet(MeanOfSteps(width, dropout), output_size, vocab_size, embedding_dim)
