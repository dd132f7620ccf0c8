"""Make the IMDB tutorial's figures from the bundled checkpoints and their training logs.

    python scripts/plot_imdb.py [--data ../shared/data] [--out docs/img]

1. `imdb_curves.png`: validation accuracy after every epoch for each bundled IMDB model (from
   `docs/curves/<name>.csv`), the kept epoch marked.
2. `imdb_length.png`: accuracy on the 25,000 test reviews by review length, in eight bins of equal
   count, for four of the models, through the public `predict` on the raw review strings. The
   per-bin numbers are printed too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from figures import ROOT, figure_arguments, plt, save_png  # first: it picks the file-only backend

import seqzoo

BY_LENGTH = ("fasttext.imdb", "conv1d.imdb", "bilstm.imdb", "simplernn.imdb")  # one of each kind
BINS = 8
MAX_TOKENS = 500  # every IMDB recipe's max_length: longer reviews keep their last 500 tokens


def plot_curves(out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for name in seqzoo.list_pretrained("*.imdb"):
        log = pd.read_csv(ROOT / "docs" / "curves" / f"{name}.csv").dropna(subset=["val_accuracy"])
        epochs, accuracy = log["epoch"] + 1, log["val_accuracy"]
        (line,) = ax.plot(epochs, accuracy, marker="o", ms=3, label=name)
        best = accuracy.idxmax()  # the checkpoint kept: the best validation accuracy
        ax.plot(epochs[best], accuracy[best], marker="*", ms=11, color=line.get_color())
    ax.set(xlabel="epoch", ylabel="validation accuracy (5,000 reviews)")
    ax.set_title("IMDB: validation accuracy per epoch (star: the epoch kept)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2, loc="lower right")
    return save_png(fig, out / "imdb_curves.png")


def accuracy_by_length(data: Path) -> pd.DataFrame:
    """Rows: length bins of the test reviews (equal counts); columns: each model's accuracy in them."""
    test = pd.read_parquet(data / "imdb_test.parquet")
    words = test["text"].str.replace("<br />", " ", regex=False).str.split().str.len()
    bins = pd.qcut(words, BINS)
    table = pd.DataFrame({"median words": words.groupby(bins, observed=True).median()})
    for name in BY_LENGTH:
        print(f"predicting the {len(test):,} test reviews with {name}", flush=True)
        right = (seqzoo.load(name).predict(list(test["text"])) > 0.5) == test["label"].to_numpy()
        table[name] = pd.Series(right, index=test.index).groupby(bins, observed=True).mean()
    return table


def plot_length(table: pd.DataFrame, out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for name in BY_LENGTH:
        ax.plot(table["median words"], table[name], marker="o", ms=4, label=name)
    cut = f"{MAX_TOKENS} tokens: a longer review keeps its end"
    ax.axvline(MAX_TOKENS, color="black", ls=":", lw=1, label=cut)
    ax.set_xscale("log")
    ticks = np.round(table["median words"].to_numpy()).astype(int)
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set(xlabel="median words of the bin (8 bins of 3,125 test reviews)", ylabel="test accuracy")
    ax.set_title("IMDB: test accuracy by review length")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    return save_png(fig, out / "imdb_length.png")


if __name__ == "__main__":
    args = figure_arguments(__doc__, data=True)
    print(plot_curves(args.out))
    table = accuracy_by_length(args.data)
    print(table.round(4).to_string())
    print(plot_length(table, args.out))
