"""Sliding windows over contiguous segments: a window is a start row, a batch is one gather (no Python
work and no copy per window; the rows themselves are kept once)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from seqzoo.data.direct_loader import DirectLoader
from seqzoo.errors import DataError


def input_offsets(lookback: int, step: int) -> Tensor:
    """Row offsets inside a window of the rows fed to the model: every `step`-th, ending at the last row."""
    return torch.arange(first_input_offset(lookback, step), lookback, step)


def first_input_offset(lookback: int, step: int) -> int:
    """The offset of the first row fed to the model inside a window (`input_offsets`' first)."""
    return (lookback - 1) - (sampled_steps(lookback, step) - 1) * step


def sampled_steps(lookback: int, step: int) -> int:
    """How many input steps a window of `lookback` rows sampled every `step` rows has."""
    return -(-lookback // step)


class SlidingWindows(Dataset):
    """Windows of `lookback` rows (every `step`-th row, ending at the window's last row) and a target
    `delay` rows after that last row, over each segment separately so a window never spans a gap.

    Each segment is a float tensor `(time, features)`; the rows are kept once, in one tensor (the
    segment itself when there is only one and `step` is 1: no copy at all), and a window is only a
    start row and its target values. The rows are stored grouped by phase (row number modulo
    `step`, per segment), so the rows a window samples lie next to each other: `__getitems__`
    gathers a whole batch as one block copy per window, with no Python work per window.
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
        blocks = [segment[phase::step] for segment in usable for phase in range(step)]
        self.data = (blocks[0] if len(blocks) == 1 else torch.cat(blocks)).contiguous()
        offsets = torch.cumsum(torch.tensor([0] + [seg.shape[0] for seg in usable[:-1]]), 0)
        self.window_starts = torch.cat(
            [
                offset + torch.arange(seg.shape[0] - span + 1)
                for offset, seg in zip(offsets, usable, strict=True)
            ]
        )
        stored_rows = torch.cat(
            [
                offset + torch.arange(phase, seg.shape[0], step)
                for offset, seg in zip(offsets, usable, strict=True)
                for phase in range(step)
            ]
        )
        storage_position = torch.empty_like(stored_rows)  # of each row, numbered across segments
        storage_position[stored_rows] = torch.arange(len(stored_rows))
        self.input_positions = input_offsets(lookback, step)
        last = torch.tensor([lookback - 1 + delay])
        self.target_positions = self.input_positions + delay if sequence_targets else last
        self.sequence_targets = sequence_targets
        self.target_index = target_index
        # Where each window's first input row is stored, and its targets (fewer bytes than their
        # positions): a batch is then two lookups.
        self._first_input = storage_position[self.window_starts + self.input_positions[0]]
        target_storage = storage_position[self.window_starts[:, None] + self.target_positions]
        self._window_targets = self.data[:, target_index][target_storage]
        steps, features = len(self.input_positions), self.data.shape[1]
        self._window_shape = (steps, features)
        # Row i of this view is `steps` stored rows from row i on: one window's inputs when i is the
        # position of its first input row (every later view row stays inside the storage).
        self._window_view = self.data.as_strided(
            (self.data.shape[0] - steps + 1, steps * features), (features, 1), self.data.storage_offset()
        )

    def __len__(self) -> int:
        return len(self.window_starts)

    def __getitems__(self, indices: Sequence[int]) -> tuple[Tensor, Tensor]:
        idx = torch.as_tensor(indices, dtype=torch.long)
        return self.inputs(idx), self.targets(idx)

    def _window_rows(self, table: Tensor, idx: Tensor) -> Tensor:
        """Rows `idx` of a per-window table. `index_select` checks the range in C (negative indices
        included, which plain indexing would count from the end): cheaper than checking it here."""
        try:
            return table.index_select(0, idx)
        except IndexError as err:
            raise IndexError(f"window index out of range 0..{len(self) - 1}") from err

    def inputs(self, idx: Tensor) -> Tensor:
        """The inputs `(batch, steps, features)` of windows `idx`: one block copy each."""
        x = self._window_view.index_select(0, self._window_rows(self._first_input, idx))
        return x.view(idx.shape[0], *self._window_shape)

    def targets(self, idx: Tensor) -> Tensor:
        """The targets of windows `idx`: `(batch,)`, or `(batch, steps)` with sequence targets."""
        y = self._window_rows(self._window_targets, idx)
        return y if self.sequence_targets else y[:, 0]

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        x, y = self.__getitems__([index])
        return x[0], y[0]


def _already_batched(batch):
    return batch


class IndexBatches(BatchSampler):
    """Batches of the sampler's indices, each one tensor: the order is read once per epoch instead of
    index by index for every batch, and `SlidingWindows.__getitems__` takes the tensor as it is. Same
    constructor as `BatchSampler`, so Lightning can put a distributed sampler in."""

    def __iter__(self):
        order = torch.as_tensor(list(self.sampler), dtype=torch.long)
        usable = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
        yield from order[:usable].split(self.batch_size)


def window_loader(
    dataset: SlidingWindows, batch_size: int, shuffle: bool, num_workers: int = 0
) -> DataLoader:
    """A DataLoader that lets the dataset gather whole batches (see `SlidingWindows.__getitems__`)."""
    sampler = RandomSampler(dataset) if shuffle else SequentialSampler(dataset)
    return DirectLoader(
        dataset,
        batch_sampler=IndexBatches(sampler, batch_size, drop_last=False),
        num_workers=num_workers,
        collate_fn=_already_batched,
        persistent_workers=num_workers > 0,
    )
