"""Sliding windows over contiguous segments as strided views: no Python work and no copy per window."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from seqzoo.errors import DataError


def sampled_steps(lookback: int, step: int) -> int:
    """How many input steps a window of `lookback` rows sampled every `step` rows has."""
    return -(-lookback // step)


class SlidingWindows(Dataset):
    """Windows of `lookback` rows (every `step`-th row, ending at the window's last row) and a target
    `delay` rows after that last row, over each segment separately so a window never spans a gap.

    Each segment is a float tensor `(time, features)`. Items are fetched a batch at a time through
    `__getitems__`, which gathers straight from `Tensor.unfold` views.
    """

    def __init__(
        self,
        segments: Sequence[Tensor],
        lookback: int,
        step: int = 1,
        delay: int = 1,
        target_index: int = 0,
        sequence_targets: bool = False,
    ) -> None:
        if lookback < 1 or step < 1 or delay < 1:
            raise DataError(f"lookback, step and delay must be >= 1, got {lookback}, {step}, {delay}")
        span = lookback + delay
        self.views = [seg.unfold(0, span, 1) for seg in segments if seg.shape[0] >= span]  # (N, F, span)
        if not self.views:
            longest = max((seg.shape[0] for seg in segments), default=0)
            raise DataError(
                f"no segment is long enough for one window: need {span} rows, longest has {longest}"
            )
        counts = torch.tensor([v.shape[0] for v in self.views])
        self.starts = torch.cumsum(counts, 0) - counts
        self.length = int(counts.sum())
        steps = sampled_steps(lookback, step)
        first = (lookback - 1) - (steps - 1) * step
        self.input_positions = torch.arange(first, lookback, step)
        target_positions = (
            self.input_positions + delay if sequence_targets else torch.tensor([lookback - 1 + delay])
        )
        self.target_positions = target_positions
        self.sequence_targets = sequence_targets
        self.target_index = target_index

    def __len__(self) -> int:
        return self.length

    def __getitems__(self, indices: Sequence[int]) -> tuple[Tensor, Tensor]:
        idx = torch.as_tensor(indices, dtype=torch.long)
        if idx.numel() and (idx.min() < 0 or idx.max() >= self.length):
            raise IndexError(f"window index out of range 0..{self.length - 1}")
        segment = torch.searchsorted(self.starts, idx, right=True) - 1
        windows = torch.empty(len(idx), *self.views[0].shape[1:], dtype=self.views[0].dtype)
        for s in torch.unique(segment).tolist():
            hit = segment == s
            windows[hit] = self.views[s][idx[hit] - self.starts[s]]
        x = windows[:, :, self.input_positions].transpose(1, 2).contiguous()  # (batch, steps, features)
        y = windows[:, self.target_index, self.target_positions]
        return x, (y if self.sequence_targets else y[:, 0])

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        x, y = self.__getitems__([index])
        return x[0], y[0]


def _already_batched(batch):
    return batch


def window_loader(
    dataset: SlidingWindows, batch_size: int, shuffle: bool, num_workers: int = 0
) -> DataLoader:
    """A DataLoader that lets the dataset gather whole batches (see `SlidingWindows.__getitems__`)."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        collate_fn=_already_batched,
        persistent_workers=num_workers > 0,
    )
