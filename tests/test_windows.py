"""Sliding windows: exact contents, gaps between segments, views rather than copies."""

from __future__ import annotations

import pytest
import torch

from seqzoo.data.windows import SlidingWindows, window_loader
from seqzoo.errors import DataError


def ramp(n: int, start: float = 0.0, features: int = 2) -> torch.Tensor:
    rows = torch.arange(n, dtype=torch.float32) + start
    return torch.stack([rows * (f + 1) for f in range(features)], dim=1)


def test_window_of_ten_predicts_the_eleventh():
    windows = SlidingWindows([ramp(1000, features=1)], lookback=10, delay=1)
    assert len(windows) == 990
    x, y = windows[0]
    assert x[:, 0].tolist() == list(range(10)) and y.item() == 10
    x, y = windows[989]
    assert x[-1, 0].item() == 998 and y.item() == 999


def test_step_samples_rows_ending_at_the_last_row_and_delay_counts_from_it():
    windows = SlidingWindows([ramp(100)], lookback=12, step=4, delay=5, target_index=1)
    x, y = windows[0]
    assert x[:, 0].tolist() == [3.0, 7.0, 11.0]  # rows ..., 11 = last row of the 12-row lookback
    assert y.item() == (11 + 5) * 2  # target column 1 holds 2 * row
    assert len(windows) == 100 - (12 + 5) + 1


def test_no_window_spans_the_gap_between_segments():
    windows = SlidingWindows([ramp(15, features=1), ramp(12, start=1000, features=1)], lookback=10, delay=1)
    assert len(windows) == 5 + 2
    x, y = windows.__getitems__(list(range(len(windows))))
    spans = torch.cat([x[:, :, 0], y[:, None]], dim=1)
    assert (spans.diff(dim=1) == 1).all()  # every window is consecutive rows of a single segment


def test_every_window_equals_slicing_its_segment_directly():
    torch.manual_seed(0)
    segments = [torch.randn(rows, 3) for rows in (40, 23, 57)]
    lookback, step, delay = 12, 5, 3  # rows 1, 6, 11 of each window, target row 11 + 3
    windows = SlidingWindows(segments, lookback, step, delay, target_index=2)
    expected = [
        (segment[start + 1 : start + lookback : step], segment[start + lookback - 1 + delay, 2])
        for segment in segments
        for start in range(len(segment) - (lookback + delay) + 1)
    ]
    order = torch.randperm(len(windows))
    x, y = windows.__getitems__(order.tolist())
    assert len(windows) == len(expected) == 26 + 9 + 43
    for row, index in enumerate(order.tolist()):
        assert torch.equal(x[row], expected[index][0]) and y[row] == expected[index][1]


def test_sequence_targets_are_each_step_shifted_by_the_delay():
    x, y = SlidingWindows([ramp(30, features=1)], lookback=10, delay=1, sequence_targets=True)[3]
    assert (y == x[:, 0] + 1).all() and y.shape == (10,)


def test_windows_are_start_rows_into_the_segment_not_copies():
    segment = ramp(50)
    windows = SlidingWindows([segment], lookback=10, delay=1)
    assert windows.data.untyped_storage().data_ptr() == segment.untyped_storage().data_ptr()
    several = SlidingWindows([ramp(50), ramp(30)], lookback=10, delay=1)
    assert several.data.numel() == (50 + 30) * 2  # one copy of the rows, however many windows
    assert several.window_starts.tolist() == list(range(40)) + list(range(50, 70))


def test_loader_yields_whole_batches():
    batches = list(window_loader(SlidingWindows([ramp(100)], 10), batch_size=32, shuffle=False))
    assert [b[0].shape for b in batches] == [(32, 10, 2)] * 2 + [(26, 10, 2)]


def test_a_shuffled_epoch_yields_every_window_once():
    torch.manual_seed(3)
    windows = SlidingWindows([ramp(100, features=1), ramp(60, start=1000, features=1)], 10, delay=1)
    epoch = [y for _, y in window_loader(windows, batch_size=32, shuffle=True)]
    targets = torch.cat(epoch)
    assert [len(y) for y in epoch] == [32] * 4 + [12]
    assert sorted(targets.tolist()) == list(range(10, 100)) + list(range(1010, 1060))  # each target row once
    assert targets.tolist() != sorted(targets.tolist())


def test_too_short_data_is_a_clear_error():
    with pytest.raises(DataError, match="need 11 rows"):
        SlidingWindows([ramp(5)], lookback=10)
