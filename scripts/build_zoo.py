"""Rebuild bundled checkpoints from their recipes: train, export the best checkpoint, write the card.

    python scripts/build_zoo.py recipes/synthetic/gru.yaml [more recipes...]

A recipe `recipes/<task>/<arch>.yaml` becomes `seqzoo/zoo/<arch>.<task>/`; its per-epoch training log
is kept as `docs/curves/<arch>.<task>.csv` for the documentation's learning curves.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from seqzoo.checkpoint import export
from seqzoo.cli import _lightning_cli

ROOT = Path(__file__).resolve().parents[1]
ZOO, CURVES = ROOT / "seqzoo" / "zoo", ROOT / "docs" / "curves"


def build(recipe: Path) -> None:
    name = f"{recipe.stem}.{recipe.parent.name}"
    started = time.perf_counter()
    cli = _lightning_cli(["fit", "--config", str(recipe), "--trainer.logger.init_args.version", "zoo"])
    seconds = time.perf_counter() - started
    ckpt = cli.trainer.checkpoint_callback.best_model_path
    path, metrics = export(ckpt, ZOO / name, name=name)
    CURVES.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(cli.trainer.logger.log_dir) / "metrics.csv", CURVES / f"{name}.csv")
    print(f"{name}: trained in {seconds:.0f} s, best {ckpt} -> {path}: {metrics}", flush=True)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        build(Path(arg))
