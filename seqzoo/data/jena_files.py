"""Reading Jena weather-station exports as they come: gzip or not, UTF-8 or latin-1, quoted or padded
headers, `Date Time` (dd.mm.YYYY) or `date` (ISO) timestamps, duplicated rows, -9999 placeholders."""

from __future__ import annotations

import gzip
import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from seqzoo.errors import DataError

CLASSIC_FEATURES = [
    "p (mbar)", "T (degC)", "Tpot (K)", "Tdew (degC)", "rh (%)", "VPmax (mbar)", "VPact (mbar)",
    "VPdef (mbar)", "sh (g/kg)", "H2OC (mmol/mol)", "rho (g/m**3)", "wv (m/s)", "max. wv (m/s)", "wd (deg)",
]  # fmt: skip
TIME_COLUMNS = {"Date Time": "%d.%m.%Y %H:%M:%S", "date": "%Y-%m-%d %H:%M:%S"}
PLACEHOLDER = -9999.0


def _text(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # older station exports write unit signs in latin-1


# Each time format's fields as a regular expression, to check what Arrow parsed against what was written.
_CLOCK = r" (?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d)$"
TIME_FIELDS = {
    "%d.%m.%Y %H:%M:%S": r"^(?P<day>\d\d)\.(?P<month>\d\d)\.(?P<year>\d{4})" + _CLOCK,
    "%Y-%m-%d %H:%M:%S": r"^(?P<year>\d{4})-(?P<month>\d\d)-(?P<day>\d\d)" + _CLOCK,
}


def _arrow_times(text: pd.Series, fmt: str) -> pd.DatetimeIndex | None:
    """Arrow parses a fixed format about 10x faster than pandas, which counts in every `predict`; but it
    rolls impossible dates over (31.02. -> 02.03.), so a parse is kept only if every field of every
    reading (day, month, year, hour, minute, second) is what the text says. None: let pandas parse it,
    or say precisely what is wrong."""
    try:
        array = pa.array(text, type=pa.string())
        parsed = pc.strptime(array, format=fmt, unit="s")
        written = pc.extract_regex(array, TIME_FIELDS[fmt])
        for field in ("day", "month", "year", "hour", "minute", "second"):
            same = pc.equal(pc.cast(pc.struct_field(written, field), pa.int64()), getattr(pc, field)(parsed))
            if not pc.all(same).as_py():
                return None
    except (pa.ArrowException, ValueError, TypeError):
        return None
    return pd.DatetimeIndex(parsed.to_pandas(), name=text.name).as_unit("us")


def timestamps(frame: pd.DataFrame, source: str) -> pd.DatetimeIndex:
    """The readings' times from a `Date Time` or `date` column (or a DatetimeIndex)."""
    if isinstance(frame.index, pd.DatetimeIndex):
        return frame.index
    for column, fmt in TIME_COLUMNS.items():
        if column in frame.columns:
            text = frame[column].astype(str).str.strip()
            fast = _arrow_times(text, fmt)
            if fast is not None:
                return fast
            try:
                return pd.DatetimeIndex(pd.to_datetime(text, format=fmt))
            except (ValueError, TypeError) as err:
                raise DataError(
                    f"{source}: column {column!r} does not hold {fmt} timestamps ({err})"
                ) from err
    raise DataError(
        f"{source}: expected a 'Date Time' or 'date' column (or a DatetimeIndex), found "
        f"{list(frame.columns)[:5]}..."
    )


def select_features(frame: pd.DataFrame, columns: list[str], source: str) -> pd.DataFrame:
    """The named columns as float64, placeholders as NaN; missing columns are named in the error."""
    frame = frame.rename(columns=lambda c: str(c).strip())
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing columns {missing}; expected at least {columns}")
    selected = frame[columns]
    try:
        if all(dtype.kind in "iuf" for dtype in selected.dtypes):  # numbers already: no parsing per column
            values = selected.astype(np.float64)
        else:
            values = selected.apply(pd.to_numeric, errors="raise").astype(np.float64)
    except (ValueError, TypeError) as err:
        raise DataError(f"{source}: non-numeric values in the feature columns ({err})") from err
    array = values.to_numpy(dtype=np.float64, copy=True)  # not DataFrame.mask: predict runs this per call
    array[array == PLACEHOLDER] = np.nan
    return pd.DataFrame(array, index=values.index, columns=values.columns)


def read_station_file(path: str | Path, columns: list[str] = CLASSIC_FEATURES) -> pd.DataFrame:
    """One export -> float frame of `columns`, indexed by time, sorted, duplicates dropped."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: Jena station file not found")
    try:
        # index_col=False: some exports have one more value per row than header names (an unnamed CO2 column)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.ParserWarning)  # that extra value is expected
            frame = pd.read_csv(io.StringIO(_text(path)), index_col=False, skipinitialspace=True)
    except (pd.errors.ParserError, ValueError) as err:
        raise DataError(f"{path}: not a readable CSV ({err})") from err
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
