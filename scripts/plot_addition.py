"""Make the addition tutorial's figures from the bundled checkpoints and their training logs.

    python scripts/plot_addition.py [--out docs/img]

1. `addition_curves.png`: exact match of greedy decoding and teacher-forced token accuracy on the 5,000
   test questions after every epoch for the four models and for peeky with the book's constant rate
   (logged by `seqzoo.callbacks.TestCurve`, kept as `docs/curves/<name>.csv`), with the book's numbers
   after 25 epochs marked.
2. `addition_attention.png`: the attention weights of `seq2seq_attention.addition` for one question.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from figures import ROOT, figure_arguments, plt, save_png  # first: it picks the file-only backend

import seqzoo

MODELS = {  # name -> (label, the book's exact match after 25 epochs, DLFS2 ch. 7; None: not in the book)
    "seq2seq.addition": ("seq2seq (baseline)", 0.11),
    "seq2seq_reversed.addition": ("+ reversed question", 0.57),
    "seq2seq_peeky.addition": ("+ reversed + peeky", 0.99),
    "seq2seq_attention.addition": ("+ reversed + attention", None),
}


def plot_curves(out: Path) -> Path:
    fig, (exact, tokens) = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    colors = ("tab:gray", "tab:orange", "tab:green", "tab:blue")
    for (name, (label, book)), color in zip(MODELS.items(), colors, strict=True):
        log = pd.read_csv(ROOT / "docs" / "curves" / f"{name}.csv").dropna(subset=["epoch_test_exact_match"])
        epochs = log["epoch"] + 1
        exact.plot(epochs, log["epoch_test_exact_match"], marker="o", ms=3, color=color, label=label)
        tokens.plot(epochs, log["epoch_test_token_accuracy"], marker="o", ms=3, color=color, label=label)
        if book is not None:
            exact.scatter([25], [book], marker="*", s=140, color=color, edgecolor="black", zorder=3)
    constant = ROOT / "docs" / "curves" / "seq2seq_peeky_constant_lr.addition.csv"
    if constant.is_file():  # the same peeky recipe without the cosine decay, i.e. exactly the book's settings
        log = pd.read_csv(constant).dropna(subset=["epoch_test_exact_match"])
        for ax, column in ((exact, "epoch_test_exact_match"), (tokens, "epoch_test_token_accuracy")):
            ax.plot(
                log["epoch"] + 1,
                log[column],
                ls="--",
                color="tab:green",
                alpha=0.6,
                label="+ reversed + peeky, constant rate",
            )
    exact.scatter([], [], marker="*", s=140, color="white", edgecolor="black", label="the book, 25 epochs")
    exact.set(xlabel="epoch", ylabel="exact match (greedy decoding)", ylim=(0, 1.02))
    tokens.set(xlabel="epoch", ylabel="token accuracy (teacher forcing)", ylim=(0, 1.02))
    for ax in (exact, tokens):
        ax.grid(alpha=0.3)
    exact.legend(loc="center right", fontsize=8)
    fig.suptitle("Addition: the 5,000 test questions after every epoch")
    return save_png(fig, out / "addition_curves.png")


def plot_attention(out: Path, question: str = "508+77") -> Path:
    model = seqzoo.load("seq2seq_attention.addition")
    codec = model.preprocessor
    src = codec.encode([question])
    ids, weights = model.net.generate(src, codec.start_id, codec.answer_length)
    answer = codec.vocabulary[codec.start_id] + "".join(codec.vocabulary[i] for i in ids[0].tolist())
    source = [codec.vocabulary[i] for i in src[0].tolist()]  # as the encoder read it (reversed)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.imshow(weights[0].numpy(), cmap="Greys", vmin=0, vmax=1)
    ax.set_xticks(range(len(source)), [c if c != " " else "\u2423" for c in source])  # show padding
    ax.set_yticks(range(len(answer) - 1), list(answer[:-1]))
    ax.set(
        xlabel="question as the encoder reads it (reversed)",
        ylabel="decoder input",
        title=f"Attention for {question} = {model.predict([question])[0]}",
    )
    return save_png(fig, out / "addition_attention.png")


def main() -> None:
    args = figure_arguments(__doc__)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    for path in (plot_curves(args.out), plot_attention(args.out)):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
