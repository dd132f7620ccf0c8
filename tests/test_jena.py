"""Jena station exports as they come, windows that never span a gap, and the predict contract."""

from __future__ import annotations

import gzip
import re
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import torch

import seqzoo
from seqzoo.data.jena import JenaDataModule, JenaScaler
from seqzoo.data.jena_files import (
    CLASSIC_FEATURES,
    _fixed_width_times,
    column_values,
    contiguous_segments,
    read_station_file,
    read_station_files,
    time_values,
    timestamps,
)
from seqzoo.errors import DataError, InputError, InputWarning
from seqzoo.tasks import ForecastingTask

from .conftest import require_shared_data, run_seqzoo

SMALL = {"lookback": 12, "step": 3, "delay": 6}


def fake_readings(start: str, rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=rows, freq="10min")
    t = np.arange(rows)
    values = {c: rng.normal(10 + i, 1 + i / 10, rows) for i, c in enumerate(CLASSIC_FEATURES)}
    values["T (degC)"] = 10 + 5 * np.sin(2 * np.pi * t / 144) + rng.normal(0, 0.3, rows)
    values["wd (deg)"] = rng.uniform(0, 360, rows)
    return pd.DataFrame(values, index=index)


def write_export(frame: pd.DataFrame, path, style: str) -> None:
    """Write `frame` the way one of the real exports looks."""
    if style == "roof_2021":  # latin-1, quoted header, padded numbers, an extra unnamed value per row
        header = ",".join(f'"{c}"' for c in ["Date Time", *frame.columns, "SWDR (W/m\u00b2)"][:-1])
        lines = [header] + [
            ",".join([ts.strftime("%d.%m.%Y %H:%M:%S"), *(f"{v:8.2f}" for v in row), "  420.20"])
            for ts, row in zip(frame.index, frame.to_numpy(), strict=True)
        ]
        data = ("\r\n".join(lines) + "\r\n").encode("latin-1")
    else:  # the 2020 benchmark file: ISO `date`, utf-8, plain numbers
        out = frame.copy()
        out.insert(0, "date", out.index.strftime("%Y-%m-%d %H:%M:%S"))
        data = out.to_csv(index=False, lineterminator="\r\n").encode("utf-8")
    path.write_bytes(gzip.compress(data) if str(path).endswith(".gz") else data)


@pytest.fixture
def station_dir(tmp_path):
    first = fake_readings("2020-01-01 00:10", 300, 0)
    first.iloc[100, CLASSIC_FEATURES.index("wv (m/s)")] = -9999.0  # a placeholder: treated as missing
    write_export(first, tmp_path / "a_2020.csv.gz", "benchmark")
    second = fake_readings("2021-07-01 00:10", 200, 1)
    write_export(
        pd.concat([second.iloc[:50], second.iloc[49:]]), tmp_path / "b_2021.csv", "roof_2021"
    )  # dup row
    third = fake_readings("2024-01-01 00:10", 120, 2)
    write_export(third, tmp_path / "c_2024.csv.gz", "roof_2021")
    return tmp_path


def test_every_export_style_reads_to_the_same_columns(station_dir):
    for path in sorted(station_dir.iterdir()):
        frame = read_station_file(path)
        assert list(frame.columns) == CLASSIC_FEATURES
        assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert len(read_station_file(station_dir / "b_2021.csv")) == 200  # the duplicated row is dropped once


def test_placeholders_and_gaps_split_segments(station_dir):
    frame = read_station_files(sorted(station_dir.iterdir()))
    assert frame.isna().sum().sum() == 1
    segments = contiguous_segments(frame, pd.Timedelta(minutes=10))
    assert [len(s) for s in segments] == [100, 199, 200, 120]


def test_windows_never_span_a_gap_and_targets_are_delay_rows_after_the_last_row(station_dir):
    dm = JenaDataModule(
        str(station_dir),
        files=["*"],
        train=["2020-01-01/2021-12-31"],
        val=["2024-01-01/2024-01-01"],
        test=["2024-01-02/2024-12-31"],
        **SMALL,
    )
    dm.setup()
    windows = dm.dataset("train")
    assert len(windows) == sum(n - (12 + 6) + 1 for n in (100, 199, 200))
    x, y = windows.__getitems__(list(range(len(windows))))
    scaler = JenaScaler.from_config(dm.preprocessing)
    seen = scaler.denormalize(x[..., scaler.target_index].double())
    target = scaler.denormalize(y.double())
    pairs = zip(seen.tolist(), target.tolist(), strict=True)
    got = [tuple(round(v, 4) for v in (*row, t)) for row, t in pairs]
    # a window is T at rows r-9, r-6, r-3, r and its target T at row r+6, all inside one segment
    expected = set()
    for segment in dm.frames["train"]:
        temps = [round(v, 4) for v in segment["T (degC)"].tolist()]
        expected |= {tuple(temps[r + k] for k in (-9, -6, -3, 0, 6)) for r in range(9, len(temps) - 6)}
    assert set(got) <= expected and len(set(got)) == len(got)


def test_statistics_come_from_the_train_split_only(station_dir):
    dm = JenaDataModule(
        str(station_dir),
        files=["*"],
        train=["2020-01-01/2020-12-31"],
        val=["2021-01-01/2021-12-31"],
        test=["2024-01-01/2024-12-31"],
        **SMALL,
    )
    dm.setup()
    train = pd.concat(dm.frames["train"])
    assert dm.preprocessing["mean"] == pytest.approx(train.mean().tolist())


def test_missing_files_are_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no Jena station files"):
        JenaDataModule(str(tmp_path)).setup()


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]  # a download cut off half-way


def corrupted(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 64]) + data[middle + 64 :]


@pytest.mark.parametrize("damage", [truncated, corrupted])
def test_a_truncated_or_corrupt_gzip_export_is_a_data_error_naming_it(station_dir, damage):
    path = station_dir / "c_2024.csv.gz"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataError, match=r"c_2024\.csv\.gz: not a readable gzip file, truncated or corrupt"):
        JenaDataModule(str(station_dir), files=["*"], **SMALL).setup()


def test_seqzoo_evaluate_names_a_truncated_export_in_one_line(tmp_path):
    data = require_shared_data() / "jena_roof_2024-06-09_2024-10-20_10min.csv.gz"
    (tmp_path / data.name).write_bytes(truncated(data.read_bytes()))
    proc = run_seqzoo("evaluate", "gru.jena", "--data", str(tmp_path), check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert f"seqzoo evaluate: error: {tmp_path / data.name}: not a readable gzip file" in proc.stderr


SPLITS = {
    "train": ["2020-01-01/2021-12-31"],
    "val": ["2024-01-01/2024-01-01"],
    "test": ["2024-01-02/2024-12-31"],
}


@pytest.mark.parametrize("change,match", [
    ({"train": ["2023-01-01/2023-12-31"]},
     r"^the train split \['2023-01-01/2023-12-31'\] selects no complete readings: the files "
     r"\['a_2020.csv.gz', 'b_2021.csv', 'c_2024.csv.gz'\] hold 2020-01-01 00:10:00 to 2024-01-01 20:00:00$"),
    ({"train": ["2024-13-01/2024-12-31"]}, r"^train range '2024-13-01/2024-12-31': month must be in 1..12; "
                                           r"train must be a list of 'START/END' date ranges \(YYYY-MM-DD"),
    ({"val": "2024-01-01/2024-01-01"}, r"^val must be a list of 'START/END' date ranges .*, got '2024-01"),
    ({"val": []}, r"^val must be a list of 'START/END' date ranges"),
    ({"val": ["2024-01"]}, r"^val range '2024-01': expected START/END, two YYYY-MM-DD dates"),
    ({"val": ["2024-01-01 00:00/2024-01-01"]}, r"^val range .*: expected START/END, two YYYY-MM-DD dates"),
    ({"val": ["2024-01-02/2024-01-01"]}, r"^val range .*: START 2024-01-02 is after END 2024-01-01"),
    ({"val": ["rows:x:"]}, r"^val range 'rows:x:': expected rows:START:STOP, integers"),
    ({"val": ["2021-07-01/2021-07-01"]},
     r"^the train and val splits overlap \(143 readings, the first at 2021-07-01 00:10:00\)"),
    ({"train": ["rows:0:400"], "val": ["rows:350:500"], "test": ["rows:500:"]},
     r"^the train and val splits overlap \(50 readings, the first at 2021-07-01 08:30:00\)"),
    ({"files": []}, r"^files must be a list of file names or glob patterns, got \[\]"),
    ({"target": "T (K)"}, r"train split .*: target 'T \(K\)' is not one of the inputs"),
    ({"batch_size": 0}, r"^batch_size must be an integer >= 1, got 0$"),
    ({"lookback": 2.5}, r"^lookback must be an integer >= 1, got 2.5$"),
    ({"val": ["rows:600:610"], "test": ["rows:610:"]},
     r"^the val split \['rows:600:610'\]: no segment is long enough for one window: need 18 rows"),
])  # fmt: skip
def test_bad_split_and_file_arguments_are_data_errors_naming_them(station_dir, change, match):
    with pytest.raises(DataError, match=match):
        dm = JenaDataModule(str(station_dir), **{"files": ["*"], **SPLITS, **SMALL, **change})
        dm.setup()
        dm.val_dataloader()


def test_only_the_splits_in_use_must_hold_readings(station_dir, small_model):
    """A loaded model brings its preprocessing, so a folder of test-period files is enough to test it."""
    splits = {
        **SPLITS,
        "train": ["2019-01-01/2019-12-31"],
        "test": ["2024-01-01/2024-01-01"],
        "val": ["rows:0:1"],
    }
    dm = JenaDataModule(str(station_dir), files=["*"], **splits, **SMALL)
    dm.preprocessing = small_model.preprocessing
    dm.setup("test")
    assert len(dm.dataset("test")) == 120 - 18 + 1
    with pytest.raises(DataError, match=r"^the train split \['2019-01-01/2019-12-31'\] selects no complete"):
        dm.train_dataloader()


def test_one_file_pattern_may_be_a_string(station_dir):
    dm = JenaDataModule(str(station_dir), files="*", **SPLITS, **SMALL)
    dm.setup()
    assert dm.hparams.files == ["*"]
    assert [len(s) for s in dm.frames["train"]] == [100, 199, 200]


def test_a_window_never_spans_the_time_between_two_ranges_of_one_split(station_dir):
    """Rows 0-49 and 60-99 are one stretch of readings, but a training window must not bridge rows 50-59."""
    splits = {"train": ["rows:0:50", "rows:60:100"], "val": ["rows:400:500"], "test": ["rows:500:"]}
    dm = JenaDataModule(str(station_dir), files=["*"], **splits, **SMALL)
    dm.setup()
    assert [len(s) for s in dm.frames["train"]] == [50, 40]
    assert len(dm.dataset("train")) == (50 - 18 + 1) + (40 - 18 + 1)


@pytest.mark.parametrize("header,match", [
    (lambda names: ["Date Time", *names, "Date Time"], r"has the columns \['Date Time'\] more than once"),
    (lambda names: ["Date Time", *names, "T (degC)"], r"has the columns \['T \(degC\)'\] more than once"),
    (lambda names: ["Date Time", *names, "date"], r"more than one time column \['Date Time', 'date'\]"),
])  # fmt: skip
def test_an_export_with_two_time_columns_or_a_repeated_column_is_refused(tmp_path, header, match):
    """pandas would rename the repeat to "Date Time.1" and the first would silently win."""
    frame = fake_readings("2024-01-01 00:10", 30, 0)
    lines = [",".join(header(CLASSIC_FEATURES))] + [
        ",".join([ts.strftime("%d.%m.%Y %H:%M:%S"), *map(str, row), "2024-01-01 00:00:00"])
        for ts, row in zip(frame.index, frame.to_numpy(), strict=True)
    ]
    (tmp_path / "x.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"x\.csv: {match}"):
        read_station_file(tmp_path / "x.csv")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("01.06.2024 00:10:00", "2024-06-01 00:10:00"),
        (" 1.6.2024 00:10:00 ", "2024-06-01 00:10:00"),  # unpadded day and month: the slower parser
    ],
)
def test_timestamps_parse_the_station_format(text, expected):
    parsed = timestamps(pd.DataFrame({"Date Time": [text]}), "input")
    assert parsed[0] == pd.Timestamp(expected) and parsed.name == "Date Time"


def parsed_by_pandas(text: pd.Series, fmt: str) -> np.ndarray:
    return pd.to_datetime(text, format=fmt).to_numpy()


def test_station_timestamps_take_the_fixed_width_path_and_agree_with_pandas():
    station = "%d.%m.%Y %H:%M:%S"
    text = pd.Series(pd.date_range("2023-12-31 22:00", periods=2000, freq="7min").strftime(station))
    fast = _fixed_width_times(text, station)
    assert fast is not None and np.array_equal(fast, parsed_by_pandas(text, station))
    assert _fixed_width_times(pd.Series(["1.6.2024 00:10:00"]), station) is None  # unpadded
    assert _fixed_width_times(pd.Series(["2024-06-01 00:10:00"]), station) is None  # other format
    assert _fixed_width_times(pd.Series(["01.06.2024 00:10:00x"]), station) is None
    iso = _fixed_width_times(pd.Series(["2024-02-29 23:59:59"]), "%Y-%m-%d %H:%M:%S")
    assert iso[0] == np.datetime64("2024-02-29 23:59:59")
    chunks = pa.chunked_array([["01.06.2024 00:10:00"], ["01.06.2024 00:20:00"]])  # as long columns are
    chunked = _fixed_width_times(pd.Series(pd.arrays.ArrowStringArray(chunks)), station)
    assert chunked.tolist() == [datetime(2024, 6, 1, 0, 10), datetime(2024, 6, 1, 0, 20)]


@pytest.mark.parametrize("fmt", ["%d.%m.%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S"])
def test_fixed_width_times_agree_with_pandas_across_calendars(fmt):
    """Random instants over four centuries (leap years, 1900 and 2100 without a 29 February, 2000 with
    one, every month's last day) and as text in either format: the integer calendar arithmetic and
    pandas agree on every one."""
    rng = np.random.default_rng(7)
    seconds = rng.integers(np.datetime64("1700-01-01", "s").astype(int), 13_000_000_000, 5000)
    ends = pd.date_range("1899-01-31", "2101-12-31", freq="ME")  # every month's last day, 1899 to 2101
    instants = pd.DatetimeIndex(seconds.astype("datetime64[s]")).append(ends + pd.Timedelta("23:59:59"))
    text = pd.Series(instants.strftime(fmt))
    fast = _fixed_width_times(text, fmt)
    assert fast is not None and np.array_equal(fast, parsed_by_pandas(text, fmt))


@pytest.mark.parametrize(
    "impossible",
    [
        *("31.02.2024 00:10:00", "29.02.2023 00:00:00", "29.02.1900 00:00:00", "31.04.2024 00:00:00"),
        *("00.06.2024 00:00:00", "01.13.2024 00:00:00", "01.06.2024 24:10:00", "01.06.2024 23:60:00"),
        "01.06.2024 23:00:60",
    ],
)
def test_impossible_dates_are_errors_not_rolled_over(impossible):
    """A fast parser could read 31.02. as 02.03. (Arrow does); such a reading must not become another time."""
    with pytest.raises(DataError, match="does not hold %d.%m.%Y %H:%M:%S timestamps"):
        timestamps(pd.DataFrame({"Date Time": ["01.02.2024 00:00:00", impossible]}), "input")


@pytest.fixture
def small_model(station_dir):
    dm = JenaDataModule(str(station_dir), files=["*"], **SMALL)
    dm.setup()
    torch.manual_seed(0)
    return ForecastingTask(arch="gru", arch_kwargs={"input_size": 14}, preprocessing=dm.preprocessing)


def test_predict_takes_raw_readings_in_any_column_order(small_model):
    readings = fake_readings("2024-03-01", 40, 5)
    raw = readings.reset_index(names="Date Time")
    raw["Date Time"] = raw["Date Time"].dt.strftime("%d.%m.%Y %H:%M:%S")
    shuffled = raw[["Date Time", *reversed(CLASSIC_FEATURES)]].assign(extra=1.0)
    single = small_model.predict(shuffled)
    assert isinstance(single, float)
    rolling = small_model.predict(raw, rolling=True)
    assert len(rolling) == 40 - 12 + 1
    assert rolling.index[0] == readings.index[11] + pd.Timedelta(hours=1)  # delay 6 rows of 10 minutes
    assert rolling.iloc[-1] == pytest.approx(single, abs=1e-6)


@pytest.mark.parametrize("edit,match", [
    (lambda df: df.drop(columns=["T (degC)"]), r"missing columns \['T \(degC\)'\]"),
    (lambda df: df.iloc[:5], "at least 12 rows"),
    (lambda df: df.assign(**{"p (mbar)": np.nan}), "missing values"),
    (lambda df: df.iloc[::2], "10 minutes apart"),
    (lambda df: df.drop(columns=["date"]), "'Date Time' or 'date'"),
    (lambda df: df.assign(date=df["date"].where(df.index != 35)), r"column 'date' has missing times"),
])  # fmt: skip
def test_bad_readings_are_input_errors(small_model, edit, match):
    raw = fake_readings("2024-03-01", 40, 5).reset_index(names="date")
    with pytest.raises(InputError, match=match):
        small_model.predict(edit(raw))


def test_a_reading_too_large_for_float32_is_refused_even_where_the_window_skips_it(small_model):
    """The window reads every 3rd of the last 12 rows; the second-to-last is not one of them. A value
    there still has to fit the model's float32 once scaled, as it would in a rolling forecast."""
    raw = fake_readings("2024-03-01", 40, 5).reset_index(names="date")
    raw.loc[len(raw) - 2, "p (mbar)"] = 1e300
    for rolling in (False, True):
        with pytest.raises(InputError, match="too large for float32 after normalisation"):
            small_model.predict(raw, rolling=rolling)


def derived_inputs_scaler() -> JenaScaler:
    """Wind vectors and time encodings on; a window of 3 rows, every 5th of 12, starting at row 1."""
    kept = [c for c in CLASSIC_FEATURES if c not in ("wv (m/s)", "max. wv (m/s)", "wd (deg)")]
    derived = ["Wx", "Wy", "max Wx", "max Wy", "day sin", "day cos", "year sin", "year cos"]
    inputs = kept + derived
    mean = np.random.default_rng(0).normal(size=len(inputs)).tolist()
    std = [0.05] + [1.0] * (len(inputs) - 1)  # p (mbar) scaled by 20
    return JenaScaler(inputs, mean, std, lookback=12, step=5, delay=6, wind_vector=True, time_encoding=True)


@pytest.mark.parametrize("last_temperature", [15.0, 1e37])  # 1e37: scales into float32, but fails the bound
def test_one_forecast_scales_only_the_rows_it_reads_and_encodes_as_a_rolling_one(last_temperature):
    scaler = derived_inputs_scaler()
    raw = fake_readings("2024-03-01", 40, 5).reset_index(names="Date Time")
    raw["Date Time"] = raw["Date Time"].dt.strftime("%d.%m.%Y %H:%M:%S")
    raw.loc[len(raw) - 1, "T (degC)"] = last_temperature
    single = scaler.encode(raw)
    assert single.shape == (1, 3, 19) and torch.isfinite(single).all()
    assert torch.equal(single, scaler.encode(raw, rolling=True)[-1:])


STATION_TIME = "%d.%m.%Y %H:%M:%S"


@pytest.mark.parametrize("unit", ["us", "ns", "s"])
def test_a_parsed_time_column_forecasts_as_its_text_does(small_model, unit):
    """`read_csv(parse_dates=["Date Time"])` gives datetimes, not the station's text: same forecast."""
    parsed = fake_readings("2024-03-01", 40, 5).reset_index(names="Date Time")
    parsed["Date Time"] = parsed["Date Time"].astype(f"datetime64[{unit}]")
    text = parsed.assign(**{"Date Time": parsed["Date Time"].dt.strftime(STATION_TIME)})
    scaler = derived_inputs_scaler()  # with time encodings: the times reach the model
    for rolling in (False, True):
        assert torch.equal(scaler.encode(parsed, rolling=rolling), scaler.encode(text, rolling=rolling))
    assert small_model.predict(parsed) == small_model.predict(text)
    rolling = small_model.predict(parsed, rolling=True)
    expected = small_model.predict(text, rolling=True)
    pd.testing.assert_series_equal(rolling, expected, check_index_type=unit == "us")  # the caller's unit


@pytest.mark.parametrize("where", ["index", "column"])
def test_tz_aware_times_read_as_the_station_clock_shows_them(small_model, where):
    """The station writes naive UTC+1 times all year, and the time inputs were learnt from them: Berlin's
    summer time 11:40+02:00 reads as the station's 10:40. The forecasts keep the caller's time zone."""
    station = fake_readings("2024-06-01 10:40", 40, 5)  # naive: the station's own clock
    berlin = station.tz_localize("Etc/GMT-1").tz_convert("Europe/Berlin")  # the same instants
    assert berlin.index[0].strftime("%H:%M") == "11:40"
    if where == "column":
        station, berlin = (f.reset_index(names="Date Time") for f in (station, berlin))
    scaler = derived_inputs_scaler()
    for rolling in (False, True):
        assert torch.equal(scaler.encode(berlin, rolling=rolling), scaler.encode(station, rolling=rolling))
    forecast, expected = (small_model.predict(f, rolling=True) for f in (berlin, station))
    assert str(forecast.index.tz) == "Europe/Berlin"
    assert forecast.index.tz_convert("Etc/GMT-1").tz_localize(None).equals(expected.index)
    assert np.array_equal(forecast.to_numpy(), expected.to_numpy())


def test_tz_aware_readings_across_a_dst_change_are_spaced_by_their_instants():
    """On 27.10.2024 Berlin's clock shows 02:00 to 02:50 twice; the readings are still 10 minutes
    apart, so they are accepted, and on the station's clock they run on without a repeat."""
    readings = fake_readings("2024-10-27 00:00", 40, 5).tz_localize("UTC").tz_convert("Europe/Berlin")
    instants, clock = time_values(readings, "input")
    assert (np.diff(instants) == np.timedelta64(10, "m")).all()
    assert (np.diff(clock) == np.timedelta64(10, "m")).all()
    assert derived_inputs_scaler().encode(readings, rolling=True).shape == (40 - 12 + 1, 3, 19)


def test_a_scaler_with_a_zero_std_refuses_rather_than_divides_by_zero():
    """`from_config` refuses such statistics; a scaler built by hand still gets an input error."""
    scaler = derived_inputs_scaler()
    scaler.std[0] = 0.0
    raw = fake_readings("2024-03-01", 40, 5).reset_index(names="date")
    with pytest.raises(InputError, match="too large for float32"):
        scaler.encode(raw)


def test_readings_leave_the_callers_frame_as_it_was():
    raw = fake_readings("2024-03-01", 40, 5).reset_index(names="date")
    raw.loc[35, "wv (m/s)"] = -9999.0
    before = raw.copy()
    with pytest.raises(InputError, match=r"missing values \(NaN or -9999\) in \['wv \(m/s\)'\]"):
        derived_inputs_scaler().encode(raw)
    pd.testing.assert_frame_equal(raw, before)


class FrameWithoutColumnAccessor(pd.DataFrame):
    """A DataFrame as a pandas without `DataFrame._get_column_array` would have it."""

    _get_column_array = None


def test_columns_read_the_same_without_pandas_column_accessor():
    raw = fake_readings("2024-03-01", 40, 5).reset_index(names="Date Time")
    raw["Date Time"] = raw["Date Time"].dt.strftime("%d.%m.%Y %H:%M:%S")
    bare = FrameWithoutColumnAccessor(raw)
    for position in range(raw.shape[1]):
        assert np.array_equal(column_values(bare, position), column_values(raw, position))
    scaler = derived_inputs_scaler()
    assert torch.equal(scaler.encode(bare, rolling=True), scaler.encode(raw, rolling=True))


def readings_with_holes() -> pd.DataFrame:
    """60 readings with a placeholder at row 20 and row 35 repeated, as in the real exports."""
    raw = fake_readings("2024-03-01", 60, 5)
    raw.iloc[20, 0] = -9999.0
    return pd.concat([raw.iloc[:36], raw.iloc[35:]]).reset_index(names="Date Time")


def test_one_forecast_reads_only_its_window_so_holes_before_it_do_not_matter(small_model):
    raw = readings_with_holes()
    assert small_model.predict(raw) == small_model.predict(raw.tail(12).reset_index(drop=True))
    last_window_holed = raw.iloc[:40]  # its last 12 rows hold the repeated 35th
    with pytest.raises(InputError) as caught:
        small_model.predict(last_window_holed)
    assert str(caught.value) == (
        "the last 12 rows (the window the forecast reads) have readings not 10 minutes apart "
        "(['0 days 00:00:00']), first at 2024-03-01 05:50:00"
    )


def test_a_rolling_forecast_answers_every_clean_window_and_leaves_the_rest_nan(small_model):
    raw = readings_with_holes()
    with pytest.warns(
        InputWarning, match=r"^23 of 50 windows hold missing readings .* ending at 2024-03-01 03:20"
    ):
        rolling = small_model.predict(raw, rolling=True)
    assert rolling.index.equals(pd.DatetimeIndex(raw["Date Time"].iloc[11:]) + pd.Timedelta(hours=1))
    ends = np.arange(11, 61)
    holed = ((ends >= 20) & (ends - 11 <= 20)) | ((ends >= 36) & (ends - 11 <= 35))  # spans row 20 or 35->36
    assert np.array_equal(rolling.isna().to_numpy(), holed)
    for first, last in ((0, 20), (21, 36), (36, 61)):  # each clean stretch on its own gives the same answers
        alone = small_model.predict(raw.iloc[first:last], rolling=True)
        pd.testing.assert_series_equal(rolling.iloc[first : last - 11], alone, rtol=1e-6)


def test_rolling_windows_with_holes_stay_views_of_the_rows():
    """A year of readings is 52,000 windows: gathering the clean ones would copy each (about 1 GB for
    gru.jena); the windows stay strided views of the scaled rows, holes and all."""
    scaler = derived_inputs_scaler()
    with pytest.warns(InputWarning):
        windows = scaler.encode(readings_with_holes(), rolling=True)
    assert windows.shape == (50, 3, 19)
    assert windows.untyped_storage().nbytes() == 61 * 19 * 4  # the 61 scaled rows, once


@pytest.mark.parametrize("edit,match", [
    (lambda df: df.iloc[::2], r"^no 12 complete, evenly spaced rows: input has readings not 10 minutes "
                              r"apart \(\['0 days 00:20:00'\]\), first at 2024-03-01 00:20:00"),
    (lambda df: df.iloc[::-1], r"readings not 10 minutes apart \(\['-1 days \+23:50:00'\]\)"),
    (lambda df: df.assign(**{"T (degC)": df["T (degC)"].where(df.index % 10 != 4)}),
     r"^no 12 complete, evenly spaced rows: input has missing values \(NaN or -9999\) in \['T \(degC\)'\], "
     r"first at 2024-03-01 00:40:00"),
    (lambda df: df.assign(**{"p (mbar)": df["p (mbar)"].where(df.index != 30, np.inf)}),
     r"^input has infinite values in \['p \(mbar\)'\], first at 2024-03-01 05:00:00"),
])  # fmt: skip
def test_a_rolling_forecast_refuses_broken_readings_or_input_without_a_clean_window(small_model, edit, match):
    raw = fake_readings("2024-03-01", 40, 5).reset_index(names="date")
    with pytest.raises(InputError, match=match):
        small_model.predict(edit(raw), rolling=True)


def test_a_real_export_with_a_repeated_row_forecasts_around_it():
    """The 2024-01 export repeats 13.04.2024 06:00: one forecast from its end, and rolling ones that
    are NaN for exactly the 1,439 windows holding both copies."""
    data = require_shared_data()
    raw = pd.read_csv(data / "jena_roof_2024-01-01_2024-05-15_10min.csv.gz", encoding="latin-1")
    model = seqzoo.predictor("gru.jena", runtime="onnxruntime")
    assert model.predict(raw) == model.predict(raw.tail(1440))
    repeated = int(np.flatnonzero(raw["Date Time"].duplicated())[0])
    around = raw.iloc[repeated - 1500 : repeated + 1500]
    with pytest.warns(InputWarning, match="^1439 of 1561 windows"):
        rolling = model.predict(around, rolling=True)
    answered = rolling.dropna()
    assert len(rolling) == 1561 and len(answered) == 1561 - 1439
    expected = model.predict(around.drop_duplicates("Date Time"), rolling=True)
    pd.testing.assert_series_equal(answered, expected.loc[answered.index])


def test_non_dataframe_and_unknown_options_are_input_errors(small_model):
    with pytest.raises(InputError, match="pandas DataFrame"):
        small_model.predict(np.zeros((40, 14)))
    with pytest.raises(InputError, match="unknown predict options"):
        small_model.predict(fake_readings("2024-03-01", 40, 5), horizon=3)


@pytest.mark.parametrize("rolling,got", [
    ("false", "str 'false'"), (1, "int 1"), (None, "NoneType None"),
    (np.array([True, False]), r"ndarray array\(\[ True, False\]\)"),
])  # fmt: skip
def test_rolling_must_be_a_bool_not_anything_truthy(small_model, rolling, got):
    with pytest.raises(InputError, match=rf"^predict option rolling must be a bool, got {got}$"):
        small_model.predict(fake_readings("2024-03-01", 40, 5), rolling=rolling)


def test_rolling_takes_numpy_bools_as_python_ones(small_model):
    readings = fake_readings("2024-03-01", 40, 5)
    assert small_model.predict(readings, rolling=np.False_) == small_model.predict(readings)
    expected = small_model.predict(readings, rolling=True)
    pd.testing.assert_series_equal(small_model.predict(readings, rolling=np.True_), expected)


@pytest.mark.parametrize("edit,names", [
    (lambda df: pd.concat([df, pd.DataFrame({"Date Time": ["garbage"] * len(df)})], axis=1),
     "['Date Time', 'Date Time']"),
    (lambda df: df.assign(date="2030-01-01 00:00:00"), "['Date Time', 'date']"),
    (lambda df: df.assign(**{" date ": "2030-01-01 00:00:00"}), "['Date Time', 'date']"),
])  # fmt: skip
def test_two_time_columns_are_refused_rather_than_one_ignored(small_model, edit, names):
    raw = fake_readings("2024-03-01", 40, 5).reset_index(names="Date Time")
    raw["Date Time"] = raw["Date Time"].dt.strftime(STATION_TIME)
    for rolling in (False, True):
        with pytest.raises(InputError, match=re.escape(f"input: more than one time column {names}")):
            small_model.predict(edit(raw), rolling=rolling)


def test_real_station_protocol_splits():
    data = require_shared_data()
    dm = JenaDataModule(str(data))
    dm.setup()
    assert [len(dm.dataset(s)) for s in ("train", "val", "test")] == [68060, 17953, 17549]
    described = dm.describe()
    assert described["files"]["jena_weather_2020.csv.gz"].startswith("a08c6d04")
    frame = read_station_file(data / "jena_roof_2024-01-01_2024-05-15_10min.csv.gz")
    assert len(frame) == 19_536  # 19,537 data rows, one repeated (13.04.2024 06:00)
