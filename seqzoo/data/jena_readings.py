"""Which raw station readings a forecast can read: complete rows, exactly one interval apart.

Real exports have holes (`-9999` placeholders, missing rows, a repeated row). One forecast reads only
the last window, so only that window has to be clean; a rolling forecast over a whole export answers
every window that is clean and gives NaN for the others, as the DataModule's windows never span a gap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PROBLEM_CELLS = {"missing values (NaN or -9999)": np.isnan, "infinite values": np.isinf}


def cell_problem(values: np.ndarray, columns: list[str], what: str) -> tuple[str, int] | None:
    """(`what` in which columns, first row) for the cells of `values` that are `what`, or None."""
    cells = PROBLEM_CELLS[what](values)
    rows = cells.any(axis=1)
    if not rows.any():
        return None
    return f"{what} in {np.asarray(columns)[cells.any(axis=0)].tolist()}", int(np.argmax(rows))


def row_problem(
    values: np.ndarray, instants: np.ndarray, minutes: int, columns: list[str]
) -> tuple[str, int] | None:
    """The first thing that keeps readings from being one clean stretch, as (what, row), or None.

    `values` are the readings `(rows, columns)` with placeholders as NaN; `instants` their times, which
    should be `minutes` apart. `predict` runs this on every call: two passes when all is well."""
    steps = np.diff(instants)
    uneven = steps != np.timedelta64(minutes, "m")
    if np.isfinite(values).all() and not uneven.any():
        return None
    problems = [cell_problem(values, columns, what) for what in PROBLEM_CELLS]
    if uneven.any():
        intervals = [str(pd.Timedelta(s)) for s in np.unique(steps[uneven])[:3]]
        problems.append((f"readings not {minutes} minutes apart ({intervals})", int(np.argmax(uneven)) + 1))
    return min((p for p in problems if p is not None), key=lambda problem: problem[1])


def usable_windows(values: np.ndarray, instants: np.ndarray, minutes: int, lookback: int) -> np.ndarray:
    """For each window of `lookback` rows (ending at rows `lookback - 1` onwards): whether all its rows
    are complete and each is exactly `minutes` after the one before. Counted with running sums, so a
    year of readings costs a few array passes, not a loop over windows."""
    incomplete = np.concatenate([[0], np.cumsum(np.isnan(values).any(axis=1))])
    uneven = np.diff(instants) != np.timedelta64(minutes, "m")
    breaks = np.concatenate([[0, 0], np.cumsum(uneven)])  # breaks[i + 1]: uneven steps up to row i
    ends = np.arange(lookback - 1, len(values))
    starts = ends - lookback + 1
    return (incomplete[ends + 1] == incomplete[starts]) & (breaks[ends + 1] == breaks[starts + 1])
