"""Make the Jena tutorial's figures from the bundled checkpoints and their training logs.

    python scripts/plot_jena.py [--data ../shared/data] [--out docs/img]

1. `jena_forecasts.png`: three weeks of the test period (July 2024): the measured temperature, the
   24-hour-ahead forecasts of `gru.jena` and of the best bundled model, and the naive forecast (the
   temperature 24 h earlier), all from a raw station export through `predict(df, rolling=True)`.
2. `jena_curves.png`: validation MAE every 25 training steps for each bundled Jena model (from
   `docs/curves/<name>.csv`), against the naive baseline on the same windows.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from figures import ROOT, figure_arguments, plt, save_png  # first: it picks the file-only backend

import seqzoo
from seqzoo.catalog import catalog
from seqzoo.data.jena_files import read_station_files

TEST_FILE = "jena_roof_2024-06-09_2024-10-20_10min.csv.gz"
STRETCH = ("2024-07-01", "2024-07-21")


def best_model() -> str:
    """The bundled Jena model with the lowest validation MAE (chosen without looking at test)."""
    names = seqzoo.list_pretrained("*.jena")
    return min(names, key=lambda n: catalog()[n].training.get("validation", {}).get("val_mae", float("inf")))


def plot_forecasts(data: Path, out: Path) -> Path:
    raw = pd.read_csv(data / TEST_FILE, encoding="latin-1")  # the station writes latin-1
    readings = read_station_files([data / TEST_FILE])["T (degC)"]
    start, end = (pd.Timestamp(t) for t in STRETCH)
    truth = readings[start:end]
    fig, ax = plt.subplots(figsize=(11, 4.2))
    ax.plot(truth.index, truth.values, color="black", lw=0.8, label="measured")
    naive = readings.shift(freq=pd.Timedelta(hours=24))[start:end]
    ax.plot(naive.index, naive.values, color="tab:gray", lw=0.8, ls="--", label="naive (24 h earlier)")
    shown = dict.fromkeys(["gru.jena", best_model()])  # one line when gru.jena is the best
    for name, color in zip(shown, ("tab:blue", "tab:orange"), strict=False):
        forecast = seqzoo.load(name).predict(raw, rolling=True)[start:end]
        ax.plot(forecast.index, forecast.values, color=color, lw=1.0, label=f"{name} forecast")
    ax.set(ylabel="air temperature (degC)", title="Jena, July 2024 (test period): forecasts made 24 h ahead")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return save_png(fig, out / "jena_forecasts.png")


def plot_curves(out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(9, 4.5))
    naive = None
    for name in seqzoo.list_pretrained("*.jena"):
        log = pd.read_csv(ROOT / "docs" / "curves" / f"{name}.csv").dropna(subset=["val_mae"])
        ax.plot(log["step"] + 1, log["val_mae"], marker="o", ms=3, label=name)
        naive = log["val_naive_mae"].iloc[0]
    if naive is not None:
        ax.axhline(naive, color="black", ls="--", lw=1, label="naive baseline")
    ax.set(xlabel="training step (128 windows each)", ylabel="validation MAE (degC)")
    ax.set_title("Jena: validation MAE (Jan-May 2024), checked every 25 steps")
    ax.set_ylim(top=3.6)  # dense.jena starts far above; its best is still in view
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    return save_png(fig, out / "jena_curves.png")


if __name__ == "__main__":
    args = figure_arguments(__doc__, data=True)
    print(plot_forecasts(args.data, args.out))
    print(plot_curves(args.out))
