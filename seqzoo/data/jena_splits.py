"""Which readings each split of a Jena DataModule holds: date ranges or row ranges, checked when the
module is made (a typo would otherwise select nothing, silently), and never two splits sharing a reading."""

from __future__ import annotations

import re
from datetime import date
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from seqzoo.errors import DataError

SPLIT_FORM = (
    "a list of 'START/END' date ranges (YYYY-MM-DD, inclusive, START not after END) or 'rows:START:STOP'"
)
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ROWS = re.compile(r"rows:(-?\d*):(-?\d*)")
Range = tuple[pd.Timestamp, pd.Timestamp] | slice


def parse_range(text: str) -> Range:
    """Dates `START/END` as the instants [START, END + 1 day), or `rows:START:STOP` as a slice of all
    readings in time order (the classic file's row split). ValueError saying what is wrong otherwise."""
    rows = ROWS.fullmatch(text)
    if rows:
        return slice(*(int(b) if b else None for b in rows.groups()))
    if text.startswith("rows:"):
        raise ValueError("expected rows:START:STOP, integers (either may be left out)")
    start, slash, end = text.partition("/")
    if not (slash and DATE.fullmatch(start) and DATE.fullmatch(end)):
        raise ValueError("expected START/END, two YYYY-MM-DD dates")
    first, last = date.fromisoformat(start), date.fromisoformat(end)  # ValueError for month 13
    if first > last:
        raise ValueError(f"START {start} is after END {end}")
    return pd.Timestamp(first), pd.Timestamp(last) + pd.Timedelta(days=1)


def split_ranges(split: str, ranges: Any) -> list[Range]:
    """The parsed ranges of the `split` argument; a DataError naming it and the expected form otherwise."""
    if not isinstance(ranges, list | tuple) or not ranges or not all(isinstance(r, str) for r in ranges):
        raise DataError(f"{split} must be {SPLIT_FORM}, got {ranges!r}")
    parsed = []
    for text in ranges:
        try:
            parsed.append(parse_range(text))
        except ValueError as err:
            raise DataError(f"{split} range {text!r}: {err}; {split} must be {SPLIT_FORM}") from err
    return parsed


def file_patterns(files: Any) -> list[str]:
    """`files` as a list of glob patterns: one pattern may be given as a string."""
    patterns = [files] if isinstance(files, str) else files
    if not (isinstance(patterns, list | tuple) and patterns and all(isinstance(f, str) for f in patterns)):
        raise DataError(f"files must be a list of file names or glob patterns, got {files!r}")
    return list(patterns)


def in_ranges(index: pd.DatetimeIndex, ranges: list[Range]) -> np.ndarray:
    """Which readings of `index` (all readings, in time order) fall in `ranges`."""
    keep = np.zeros(len(index), dtype=bool)
    for chosen in ranges:
        if isinstance(chosen, slice):
            keep[chosen] = True
        else:
            keep |= (index >= chosen[0]) & (index < chosen[1])
    return keep


def check_disjoint(masks: dict[str, np.ndarray], index: pd.DatetimeIndex) -> None:
    """Refuse splits sharing a reading: a model would be validated or tested on what it trained on."""
    for a, b in combinations(masks, 2):
        shared = masks[a] & masks[b]
        if shared.any():
            raise DataError(
                f"the {a} and {b} splits overlap ({shared.sum()} readings, the first at "
                f"{index[np.argmax(shared)]}); give them disjoint ranges"
            )
