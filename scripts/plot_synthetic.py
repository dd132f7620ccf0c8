"""Make the synthetic tutorial's figures, so the docs show real numbers rather than hand-drawn ones.

    python scripts/plot_synthetic.py [--curves docs/curves] [--runs runs] [--out docs/img]

1. `synthetic_predictions.png`: the bundled `gru.synthetic` on a series it never saw, against the truth
   and the last-value baseline.
2. `synthetic_training.png`: training curves of every bundled `*.synthetic` model, from the CSVLogger
   file that `scripts/build_zoo.py` writes (`runs/<name>/zoo/metrics.csv`) and keeps in the repository
   as `docs/curves/<name>.csv`; the kept copy wins. When a log is missing the script says which and
   how to make it, and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from figures import plt, save_png  # first: it picks the file-only backend

import seqzoo
from seqzoo.catalog import catalog
from seqzoo.data.synthetic import sum_of_sines, windows_of

ROOT = Path(__file__).resolve().parents[1]
UNSEEN_SEED = 2026  # the recipes train on seed 0; these series were never seen (as in `seqzoo demo`)
UNSEEN_SERIES, SERIES_LENGTH, SHOWN_STEPS = 4, 1000, 300
NOISE_FLOOR = 0.05 * np.sqrt(2 / np.pi)  # MAE of a perfect forecast under the series' N(0, 0.05^2) noise


def plot_predictions(out: Path) -> Path:
    """Unseen series: scores over all their windows; the plot shows the start of the first one."""
    windows, truth = windows_of(sum_of_sines(UNSEEN_SERIES, SERIES_LENGTH, seed=UNSEEN_SEED))
    pred = seqzoo.load("gru.synthetic").predict(windows)
    naive = windows[:, -1]
    mae, naive_mae, count = np.abs(pred - truth).mean(), np.abs(naive - truth).mean(), len(truth)
    window = windows.shape[1]
    shown = slice(0, SHOWN_STEPS - window)  # the first series' first windows
    truth, pred, naive = truth[shown], pred[shown], naive[shown]
    steps = np.arange(len(truth)) + window  # the step each target sits at

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True, height_ratios=[3, 1.3])
    top.plot(steps, truth, color="black", lw=1.2, label="truth (noisy series)")
    top.plot(steps, pred, color="tab:blue", lw=1.4, label=f"gru.synthetic prediction (MAE {mae:.3f})")
    naive_label = f"last-value baseline (MAE {naive_mae:.3f})"
    top.plot(steps, naive, color="tab:orange", lw=1, ls="--", label=naive_label)
    top.set_ylabel("value (series units)")
    top.set_title(
        f"Next-value predictions on unseen series (seed {UNSEEN_SEED}); MAE over all "
        f"{count:,} windows of {UNSEEN_SERIES} series",
        fontsize=11,
    )
    top.set_ylim(top.get_ylim()[0], top.get_ylim()[1] + 0.45)  # room for the legend above the curves
    top.legend(loc="upper center", fontsize=9, ncols=3)
    bottom.plot(steps, np.abs(pred - truth), color="tab:blue", lw=1, label="gru.synthetic")
    bottom.plot(steps, np.abs(naive - truth), color="tab:orange", lw=1, ls="--", label="last value")
    bottom.axhline(NOISE_FLOOR, color="grey", lw=1, ls=":", label=f"noise floor {NOISE_FLOOR:.3f}")
    bottom.set_ylabel("absolute error")
    bottom.set_xlabel("time step")
    bottom.legend(loc="upper right", fontsize=8, ncols=3)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    return save_png(fig, out / "synthetic_predictions.png")


def metrics_files(curves: Path, runs: Path) -> dict[str, list[Path]]:
    """Where each synthetic checkpoint's training log may be, the preferred place first."""
    return {
        name: [curves / f"{name}.csv", runs / name / "zoo" / "metrics.csv"]
        for name in seqzoo.list_pretrained("*.synthetic")
    }


def plot_training(files: dict[str, Path], out: Path) -> Path:
    """Left: training loss per logged step; right: validation MAE per epoch next to the naive one."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    naive = None
    for name, path in files.items():
        log = pd.read_csv(path)
        train = log.dropna(subset=["train_loss"])
        val = log.dropna(subset=["val_mae"])
        left.plot(train["step"], train["train_loss"], lw=1.2, label=name)
        right.plot(val["epoch"] + 1, val["val_mae"], marker="o", ms=3, lw=1.2, label=name)
        naive = float(val["val_naive_mae"].iloc[-1])
    right.axhline(naive, color="grey", ls="--", lw=1, label="last-value baseline")
    right.axhline(NOISE_FLOOR, color="grey", ls=":", lw=1, label="noise floor")
    left.set(yscale="log", xlabel="training step (batches of 64 windows)", title="Training loss")
    left.set_ylabel("MSE on standardised values")
    right.set(xlabel="epoch", ylabel="MAE (series units)", title="Validation MAE")
    left.legend(fontsize=8)
    right.legend(fontsize=8, loc="upper right", bbox_to_anchor=(1, 0.93))  # between baseline and curves
    for ax in (left, right):
        ax.grid(alpha=0.3, which="both")
    return save_png(fig, out / "synthetic_training.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--curves", type=Path, default=ROOT / "docs" / "curves", help="logs kept by build_zoo"
    )
    parser.add_argument("--runs", type=Path, default=ROOT / "runs", help="CSVLogger save_dir of build_zoo.py")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="where the PNGs go")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"wrote {plot_predictions(args.out)}")
    candidates = metrics_files(args.curves, args.runs)
    found = {name: next((p for p in paths if p.is_file()), None) for name, paths in candidates.items()}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        print(f"cannot plot training curves: {len(missing)} training log(s) missing:", file=sys.stderr)
        for name in missing:
            recipe = catalog()[name].recipe or f"recipes/synthetic/{name.split('.')[0]}.yaml"
            tried = " or ".join(str(p) for p in candidates[name])
            print(f"  {name}: no {tried}", file=sys.stderr)
            print(f"    make it with: python scripts/build_zoo.py {recipe}", file=sys.stderr)
        return 2
    print(f"wrote {plot_training(found, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
