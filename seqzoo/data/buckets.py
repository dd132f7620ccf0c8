"""Batches of variable-length token sequences, padded per batch and bucketed by length.

Padding a batch to its own longest review (rounded up to a multiple of 32) instead of always to the
maximum length saves most of the work on short reviews; sorting by length within chunks of about
100 batches makes batches of similar lengths, so little padding is left. Models read the lengths,
so neither changes a prediction; only the composition of the training batches changes, and the
chunks keep it random.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from seqzoo.data.direct_loader import DirectLoader
from seqzoo.data.tokens import pad_batch
from seqzoo.data.windows import _already_batched


class TokenBatches(Dataset):
    """Token id sequences and their labels, stored flat; a batch of indices becomes
    `(ids (batch, width), lengths (batch,), labels (batch,))` in one call (see `__getitems__`)."""

    def __init__(self, ids: Sequence[Sequence[int]], labels: Tensor, multiple: int, cap: int) -> None:
        self.lengths = torch.tensor([len(s) for s in ids], dtype=torch.long)
        self.offsets = torch.cumsum(self.lengths, 0) - self.lengths
        self.flat = torch.from_numpy(
            np.fromiter((i for s in ids for i in s), np.int32, int(self.lengths.sum()))
        )
        self.labels, self.multiple, self.cap = labels, multiple, cap

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitems__(self, indices: Sequence[int]) -> tuple[Tensor, Tensor, Tensor]:
        rows = [self.flat[self.offsets[i] : self.offsets[i] + self.lengths[i]] for i in indices]
        ids, lengths = pad_batch(rows, self.multiple, self.cap)
        return ids, lengths, self.labels[list(indices)]

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor, Tensor]:
        ids, lengths, labels = self.__getitems__([index])
        return ids[0, : lengths[0]], lengths[0], labels[0]


class LengthBucketSampler(Sampler[int]):
    """Indices in an order that a plain `BatchSampler` cuts into batches of similar lengths.

    The indices (a permutation seeded by `seed` and the epoch with `shuffle`, else in order) are
    sorted by length within chunks of `bucket_batches` batches (`None`: the whole split) and cut into
    batches; with `shuffle` the batches' order is shuffled too, the one short batch last so the cuts
    stay aligned. `bucket_batches=1` with `shuffle` is plain shuffling.
    """

    def __init__(
        self,
        lengths: Tensor,
        batch_size: int,
        bucket_batches: int | None = 100,
        shuffle: bool = True,
        seed: int = 0,
    ) -> None:
        if batch_size < 1 or (bucket_batches is not None and bucket_batches < 1):
            raise ValueError(
                f"batch_size and bucket_batches must be >= 1, got {batch_size}, {bucket_batches}"
            )
        self.lengths = lengths.numpy()
        self.batch_size, self.bucket_batches = batch_size, bucket_batches
        self.shuffle, self.seed, self.epoch = shuffle, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Lightning calls this before every epoch: each epoch gets its own seeded order."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def batches(self) -> list[np.ndarray]:
        """This epoch's batches, as arrays of indices."""
        rng = np.random.default_rng([self.seed, self.epoch])
        count = len(self.lengths)
        order = rng.permutation(count) if self.shuffle else np.arange(count)
        chunk = self.batch_size * self.bucket_batches if self.bucket_batches else max(count, 1)
        batches = []
        for start in range(0, count, chunk):
            part = order[start : start + chunk]
            part = part[np.argsort(self.lengths[part], kind="stable")]
            batches += [part[i : i + self.batch_size] for i in range(0, len(part), self.batch_size)]
        if not self.shuffle or not batches:
            return batches
        last = [batches.pop()] if len(batches[-1]) < self.batch_size else []
        return [batches[i] for i in rng.permutation(len(batches))] + last

    def __iter__(self) -> Iterator[int]:
        for batch in self.batches():
            yield from batch.tolist()


def token_loader(
    dataset: TokenBatches, batch_size: int, sampler: Sampler[int] | None = None, num_workers: int = 0
) -> DataLoader:
    """A DataLoader of padded batches in the sampler's order (no sampler: the dataset's order)."""
    return DirectLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        collate_fn=_already_batched,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )
