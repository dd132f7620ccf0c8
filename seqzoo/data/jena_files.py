"""Reading Jena weather-station exports as they come: gzip or not, UTF-8 or latin-1, quoted or padded
headers, `Date Time` (dd.mm.YYYY) or `date` (ISO) timestamps, duplicated rows, -9999 placeholders."""

from __future__ import annotations

import csv
import functools
import gzip
import io
import warnings
import zlib
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from seqzoo.errors import DataError

CLASSIC_FEATURES = [
    "p (mbar)", "T (degC)", "Tpot (K)", "Tdew (degC)", "rh (%)", "VPmax (mbar)", "VPact (mbar)",
    "VPdef (mbar)", "sh (g/kg)", "H2OC (mmol/mol)", "rho (g/m**3)", "wv (m/s)", "max. wv (m/s)", "wd (deg)",
]  # fmt: skip
TIME_COLUMNS = {"Date Time": "%d.%m.%Y %H:%M:%S", "date": "%Y-%m-%d %H:%M:%S"}
PLACEHOLDER = -9999.0
STATION_ZONE = "Etc/GMT-1"  # UTC+1 all year (the POSIX sign is inverted): see `station_clock`


def _text(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as err:  # a cut-off download, a damaged byte, a bad CRC
            raise DataError(f"{path}: not a readable gzip file, truncated or corrupt ({err})") from err
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # older station exports write unit signs in latin-1


# Where each field of a fixed-width timestamp (19 characters, every field zero-padded) is written.
FIELD_SLICES = {
    "%d.%m.%Y %H:%M:%S": {"day": (0, 2), "month": (3, 5), "year": (6, 10)},
    "%Y-%m-%d %H:%M:%S": {"year": (0, 4), "month": (5, 7), "day": (8, 10)},
}
_CLOCK_SLICES = {"hour": (11, 13), "minute": (14, 16), "second": (17, 19)}
_FIELDS = ("year", "month", "day", "hour", "minute", "second")
_WIDTH = 19
_MONTH_LENGTHS = np.array([31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])  # leap years' lengths


@functools.cache
def _layout(fmt: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where `fmt` writes its digits: place values mapping the 19 characters to the six fields, and
    what each character may be (a digit, or the one separator the format writes there)."""
    slices = {**FIELD_SLICES[fmt], **_CLOCK_SLICES}
    place_values = np.zeros((len(_FIELDS), _WIDTH), np.float32)  # this @ digits.T = the fields (6, n)
    for row, field in enumerate(_FIELDS):
        a, b = slices[field]
        place_values[row, a:b] = 10.0 ** np.arange(b - a - 1, -1, -1)
    is_digit = place_values.any(axis=0)
    example = np.frombuffer(pd.Timestamp(2000, 1, 1).strftime(fmt).encode(), np.uint8)
    # A character minus `expected` must be at most `slack`: 0 to 9 for a digit, 0 for a separator.
    expected = np.where(is_digit, ord("0"), example).astype(np.uint8)
    slack = np.where(is_digit, 9, 0).astype(np.uint8)
    return place_values, expected, slack


def _days_since_epoch(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days from 1970-01-01 to each proleptic Gregorian date (H. Hinnant's days_from_civil), in integer
    arithmetic: numpy's month-to-day datetime conversions cost several times more per call."""
    year = year - (month <= 2)  # years counted from March, so the leap day ends the year
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def _impossible_times(fields: np.ndarray) -> np.ndarray:
    """Which rows of `fields` (one row per field of `_FIELDS`) name no real instant: 31.02., 29.02.
    outside leap years, month 0 or 13, hour 24, a minute or second 60."""
    year, month, day, hour, minute, second = fields
    impossible = (month < 1) | (month > 12) | (day < 1) | (hour > 23) | (minute > 59) | (second > 59)
    impossible |= day > _MONTH_LENGTHS[np.clip(month, 1, 12) - 1]  # February has 29 days here
    leap_days = (month == 2) & (day == 29)
    if leap_days.any():
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        impossible |= leap_days & ~leap
    return impossible


def _fixed_width_times(text: pd.Series | pd.api.extensions.ExtensionArray, fmt: str) -> np.ndarray | None:
    """Timestamps written exactly as the station writes them (datetime64[s]), read as digits with numpy.

    `predict` parses every reading's time on every call: this takes a fraction of what Arrow's
    strptime takes (which also rolls 31.02. over to 02.03., so its result needs checking field by
    field) and of pandas' parser. A field out of range makes the whole column an error (31.02., 24:00,
    a minute 60); None for any other text: pandas then parses it or says what is wrong."""
    try:
        array = pa.array(text)  # no copy for pandas' Arrow-backed strings
    except (pa.ArrowException, TypeError):
        return None
    if isinstance(array, pa.ChunkedArray):  # long columns come in chunks
        array = array.combine_chunks()
    offset_type = {pa.string(): np.int32, pa.large_string(): np.int64}.get(array.type)
    if offset_type is None or array.null_count or not len(array):
        return None
    offsets = np.frombuffer(array.buffers()[1], offset_type)[array.offset : array.offset + len(array) + 1]
    if (np.diff(offsets) != _WIDTH).any():
        return None
    chars = np.frombuffer(array.buffers()[2], np.uint8)[offsets[0] : offsets[-1]].reshape(-1, _WIDTH)
    place_values, expected, slack = _layout(fmt)
    offsets_from_expected = chars - expected  # uint8: a byte below what is expected wraps around to > 9
    if (offsets_from_expected > slack).any():
        return None
    # float32 holds these integers (at most 9999) exactly; one field per row keeps each contiguous
    fields = (place_values @ offsets_from_expected.T).astype(np.int64)
    impossible = _impossible_times(fields)
    if impossible.any():
        raise ValueError(f"impossible date or time {array[int(np.argmax(impossible))].as_py()!r}")
    year, month, day, hour, minute, second = fields
    seconds = _days_since_epoch(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    return seconds.view("datetime64[s]")


def clean_names(frame: pd.DataFrame) -> list[str]:
    """Column names as compared: text, without the spaces some exports pad them with."""
    return [str(c).strip() for c in frame.columns]


def column_values(frame: pd.DataFrame, position: int) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """The column at `position` as pandas stores it (an ndarray, or an ExtensionArray for text), without
    building a Series: `predict` reads 15 columns on every call, and a Series costs 20 to 90 us each
    here. `DataFrame._get_column_array` is pandas' own accessor for this (in pandas 2.0 to 3.1 at
    least); a pandas without it gets the Series' values. It returns a view: callers only read it."""
    get = getattr(frame, "_get_column_array", None)
    return get(position) if get is not None else frame.iloc[:, position].values


def repeated_columns(names: list[str], wanted: Iterable[str]) -> list[str]:
    """The `wanted` columns that `names` holds more than once: which one is meant would be a guess."""
    wanted = set(wanted)
    return sorted(n for n, count in Counter(n for n in names if n in wanted).items() if count > 1)


def _time_column(frame: pd.DataFrame, names: list[str], source: str) -> tuple[str, str]:
    """The name and format of the frame's timestamp column: just one, else the times meant are a guess."""
    present = [n for n in names if n in TIME_COLUMNS]
    if len(present) > 1:
        raise DataError(f"{source}: more than one time column {present}; expected one 'Date Time' or 'date'")
    for column, fmt in TIME_COLUMNS.items():
        if column in names:
            return column, fmt
    raise DataError(
        f"{source}: expected a 'Date Time' or 'date' column (or a DatetimeIndex), found "
        f"{list(frame.columns)[:5]}..."
    )


def station_clock(times: pd.DatetimeIndex) -> np.ndarray:
    """The times as the station's clock shows them, naive datetime64: tz-aware times are converted to it.

    The station writes naive timestamps in UTC+1 all year, with no daylight saving time (in its 2024
    files the solar radiation peaks at 12:15, Jena's solar noon in UTC+1; 31.03 02:00-02:50 exist, and
    no October hour repeats), and the time-of-day and time-of-year inputs were learnt from those. So
    11:40+02:00 (Berlin, summer) reads as 10:40, as the station would have written it; naive times are
    taken to be the station's already.
    """
    return times.values if times.tz is None else times.tz_convert(STATION_ZONE).tz_localize(None).values


def _time_column_values(frame: pd.DataFrame, source: str, names: list[str]) -> pd.DatetimeIndex | np.ndarray:
    """The time column's values: as they are when already datetimes (`read_csv(parse_dates=...)`,
    naive or tz-aware), else the text parsed to naive datetime64."""
    column, fmt = _time_column(frame, names, source)
    values = column_values(frame, names.index(column))
    if pd.api.types.is_datetime64_any_dtype(values.dtype):  # as text, pandas would not write `fmt`
        times = pd.DatetimeIndex(values)
        if times.hasnans:
            raise DataError(f"{source}: column {column!r} has missing times (NaT)")
        return times
    text = values
    try:
        fast = _fixed_width_times(text, fmt)  # text as the station writes it: no strip
        if fast is None:
            text = pd.Series(text).astype(str).str.strip()
            fast = _fixed_width_times(text, fmt)
        if fast is None:
            return pd.to_datetime(text, format=fmt).to_numpy()
        return fast.astype("datetime64[us]")  # the unit pandas parses text to
    except (ValueError, TypeError) as err:
        raise DataError(f"{source}: column {column!r} does not hold {fmt} timestamps ({err})") from err


def time_values(
    frame: pd.DataFrame, source: str, names: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The readings' times as datetime64 arrays, from a `Date Time` or `date` column (or a
    DatetimeIndex): `timestamps` without building an index, for `predict`, which reads every reading's
    time on every call. `names` are the frame's `clean_names`, when the caller has them already.

    Two arrays, the same one unless the times are tz-aware: the instants (UTC), which say whether
    readings are 10 minutes apart, and the `station_clock` times, which the time inputs are computed from.
    """
    if isinstance(frame.index, pd.DatetimeIndex):
        times = frame.index
    else:
        times = _time_column_values(frame, source, clean_names(frame) if names is None else names)
        if isinstance(times, np.ndarray):  # parsed text: naive
            return times, times
    return times.values, station_clock(times)


def timestamps(frame: pd.DataFrame, source: str, names: list[str] | None = None) -> pd.DatetimeIndex:
    """The readings' times as an index named after their column (`time_values` says where from), in
    the caller's time zone if it has one."""
    if isinstance(frame.index, pd.DatetimeIndex):
        return frame.index
    names = clean_names(frame) if names is None else names
    column, _ = _time_column(frame, names, source)
    return pd.DatetimeIndex(_time_column_values(frame, source, names), name=column)


def feature_values(
    frame: pd.DataFrame, columns: list[str], source: str, names: list[str] | None = None
) -> np.ndarray:
    """The named columns as one new float64 array `(rows, columns)`, placeholders as NaN; missing
    columns are named in the error. `names` are the frame's `clean_names`, when the caller has them
    already."""
    names = clean_names(frame) if names is None else names
    missing = [c for c in columns if c not in names]
    if missing:
        raise DataError(f"{source}: missing columns {missing}; expected at least {columns}")
    positions = [names.index(c) for c in columns]
    arrays = [column_values(frame, p) for p in positions]
    try:
        if all(isinstance(a, np.ndarray) and a.dtype.kind in "iuf" for a in arrays):  # as read from a CSV
            array = np.stack(arrays).astype(np.float64, copy=False).T
        else:  # text, nullable or mixed columns: parse them with pandas, naming bad values
            selected = frame.take(positions, axis=1).apply(pd.to_numeric, errors="raise")
            array = selected.to_numpy(dtype=np.float64, copy=True)
    except (ValueError, TypeError) as err:
        raise DataError(f"{source}: non-numeric values in the feature columns ({err})") from err
    array[array == PLACEHOLDER] = np.nan
    return array


def select_features(frame: pd.DataFrame, columns: list[str], source: str) -> pd.DataFrame:
    """`feature_values` as a frame with the given column names."""
    return pd.DataFrame(feature_values(frame, columns, source), index=frame.index, columns=columns)


def _header(text: str) -> list[str]:
    """The column names of a CSV text as written, stripped as `clean_names` strips them."""
    return [name.strip() for name in next(csv.reader(io.StringIO(text), skipinitialspace=True), [])]


def read_station_file(path: str | Path, columns: list[str] = CLASSIC_FEATURES) -> pd.DataFrame:
    """One export -> float frame of `columns`, indexed by time, sorted, duplicates dropped."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: Jena station file not found")
    text = _text(path)
    try:
        # index_col=False: some exports have one more value per row than header names (an unnamed CO2 column)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.ParserWarning)  # that extra value is expected
            frame = pd.read_csv(io.StringIO(text), index_col=False, skipinitialspace=True)
    except (pd.errors.ParserError, ValueError) as err:
        raise DataError(f"{path}: not a readable CSV ({err})") from err
    twice = repeated_columns(_header(text), [*columns, *TIME_COLUMNS])  # read_csv renames a repeat "x.1"
    if twice:
        raise DataError(f"{path}: has the columns {twice} more than once; expected each once")
    times = timestamps(frame, str(path))
    values = select_features(frame, columns, str(path))
    values.index = times
    return values[~values.index.duplicated(keep="first")].sort_index()


def read_station_files(paths: list[Path], columns: list[str] = CLASSIC_FEATURES) -> pd.DataFrame:
    """Several exports -> one frame; a reading present in two files is kept once."""
    if not paths:
        raise DataError("no Jena station files given")
    frame = pd.concat([read_station_file(p, columns) for p in paths]).sort_index()
    return frame[~frame.index.duplicated(keep="first")]


def contiguous_segments(frame: pd.DataFrame, interval: pd.Timedelta) -> list[pd.DataFrame]:
    """Split at every gap in time and at every row with a missing value: windows never span either."""
    complete = frame.dropna()
    if complete.empty:
        return []
    gaps = np.asarray((complete.index[1:] - complete.index[:-1]) != interval)
    breaks = [0, *(np.flatnonzero(gaps) + 1), len(complete)]
    return [complete.iloc[a:b] for a, b in zip(breaks, breaks[1:], strict=False) if b > a]
