"""Sliding windows over contiguous segments: a window is a start row, a batch is one gather (no Python
work and no copy per window; the rows themselves are kept once)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from seqzoo.errors import DataError


def input_offsets(lookback: int, step: int) -> Tensor:
    """Row offsets inside a window of the rows fed to the model: every `step`-th, ending at the last row."""
    steps = sampled_steps(lookback, step)
    return torch.arange((lookback - 1) - (steps - 1) * step, lookback, step)


def sampled_steps(lookback: int, step: int) -> int:
    """How many input steps a window of `lookback` rows sampled every `step` rows has."""
    return -(-lookback // step)


class SlidingWindows(Dataset):
    """Windows of `lookback` rows (every `step`-th row, ending at the window's last row) and a target
    `delay` rows after that last row, over each segment separately so a window never spans a gap.

    Each segment is a float tensor `(time, features)`; they are kept as one tensor (the segment itself
    when there is only one: no copy at all) and a window is only a start row. `__getitems__` gathers a
    whole batch with one indexing operation: no Python work and no copy per window.
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
        usable = [seg for seg in segments if seg.shape[0] >= span]
        if not usable:
            longest = max((seg.shape[0] for seg in segments), default=0)
            raise DataError(
                f"no segment is long enough for one window: need {span} rows, longest has {longest}"
            )
        self.data = usable[0] if len(usable) == 1 else torch.cat(list(usable))
        offsets = torch.cumsum(torch.tensor([0] + [seg.shape[0] for seg in usable[:-1]]), 0)
        self.window_starts = torch.cat(
            [
                offset + torch.arange(seg.shape[0] - span + 1)
                for offset, seg in zip(offsets, usable, strict=True)
            ]
        )
        self.input_positions = input_offsets(lookback, step)
        last = torch.tensor([lookback - 1 + delay])
        self.target_positions = self.input_positions + delay if sequence_targets else last
        self.sequence_targets = sequence_targets
        self.target_index = target_index

    def __len__(self) -> int:
        return len(self.window_starts)

    def __getitems__(self, indices: Sequence[int]) -> tuple[Tensor, Tensor]:
        idx = torch.as_tensor(indices, dtype=torch.long)
        if idx.numel() and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"window index out of range 0..{len(self) - 1}")
        starts = self.window_starts[idx, None]
        rows = (starts + self.input_positions).reshape(-1)
        x = self.data.index_select(0, rows).view(len(idx), -1, self.data.shape[1])  # (batch, steps, features)
        y = self.data[starts + self.target_positions, self.target_index]
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
