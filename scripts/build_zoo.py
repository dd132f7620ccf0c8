"""Rebuild bundled checkpoints from their recipes: train, export the best checkpoint, write the card.

    python scripts/build_zoo.py recipes/synthetic/gru.yaml [more recipes...]
    python scripts/build_zoo.py --export-only recipes/synthetic/gru.yaml   # re-export the last build's best

A recipe `recipes/<task>/<arch>.yaml` becomes `seqzoo/zoo/<arch>.<task>/`; its per-epoch training log
is kept as `docs/curves/<arch>.<task>.csv` for the documentation's learning curves.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path

import torch

from seqzoo.checkpoint import export
from seqzoo.cli import _lightning_cli
from seqzoo.onnx_serving import export_onnx

ROOT = Path(__file__).resolve().parents[1]
ZOO, CURVES, RUNS = ROOT / "seqzoo" / "zoo", ROOT / "docs" / "curves", ROOT / "runs"
LIMITATIONS = {
    "synthetic": "Trained on noisy sums of two sines (periods of 20 to 200 steps, noise sigma 0.05); it "
    "models nothing real. On one short unseen series the last-value forecast can tie with it "
    "(sum_of_sines(1, 300, seed=2026): naive MAE 0.064 against 0.067); over many series it wins clearly.",
    "addition": "Answers only questions 'a+b' with operands of 1 to 3 digits; anything else is rejected with "
    "an InputError. Trained on 43,000 generated questions, so it has not seen most of the 1,110 x 1,110 "
    "possible pairs.",
    "jena": "Trained on one station (MPI-BGC roof, Jena) in 2020 and July-November 2021 and tested on "
    "June-October 2024 only; other places, seasons and sensors are untested. Needs 10 days of gap-free "
    "10-minute readings.",
    "imdb": "Trained on 20,000 English IMDB movie reviews (before 2011) that are clearly positive (7-10 "
    "stars) or negative (1-4); neutral reviews, other domains and other languages are untested. Words "
    "outside the vocabulary (the 19,998 most frequent words of the training reviews) count as unknown, "
    "and only the last 500 words of a longer review are read.",
}
# Stored as float16 to keep the artifact (embedding + tokenizer.json) under 5 MB; metrics are measured
# on the float16-rounded weights that `seqzoo.load` gives back.
WEIGHTS_DTYPE = {"imdb": "float16"}


def device() -> str:
    """What the training ran on, for the card."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()})"


def build(recipe: Path, export_only: bool = False) -> None:
    name = f"{recipe.stem}.{recipe.parent.name}"
    log_dir = RUNS / name / "zoo"
    facts = log_dir / "training.json"  # kept beside the checkpoint so --export-only keeps them
    ckpt = log_dir / "checkpoints" / "best.ckpt"
    if not export_only:
        shutil.rmtree(log_dir, ignore_errors=True)  # start clean: no best-v1.ckpt beside an old best
        started = time.perf_counter()
        cli = _lightning_cli(["fit", "--config", str(recipe), "--trainer.logger.init_args.version", "zoo"])
        ckpt = Path(cli.trainer.checkpoint_callback.best_model_path)
        seconds = round(time.perf_counter() - started)
        facts.write_text(json.dumps({"seconds": seconds, "device": device()}))
    training = json.loads(facts.read_text()) if facts.is_file() else None
    path, metrics = export(
        ckpt,
        ZOO / name,
        name=name,
        limitations=LIMITATIONS.get(recipe.parent.name),
        training=training,
        weights_dtype=WEIGHTS_DTYPE.get(recipe.parent.name, "float32"),
    )
    if json.loads((path / "config.json").read_text())["task"]["name"] == "forecasting":
        export_onnx(path)  # for seqzoo.predictor(name, runtime="onnxruntime")
    CURVES.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(log_dir / "metrics.csv", CURVES / f"{name}.csv")
    print(f"{name}: {training}, {ckpt} -> {path}: {metrics}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("recipes", nargs="+", type=Path)
    parser.add_argument(
        "--export-only", action="store_true", help="re-export runs/<name>/zoo's best checkpoint"
    )
    args = parser.parse_args()
    for recipe in args.recipes:
        build(recipe, args.export_only)
