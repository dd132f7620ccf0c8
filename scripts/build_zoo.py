"""Rebuild bundled checkpoints from their recipes: train, export the best checkpoint, write the card.

    python scripts/build_zoo.py recipes/synthetic/gru.yaml [more recipes...]

A recipe `recipes/<task>/<arch>.yaml` becomes `seqzoo/zoo/<arch>.<task>/`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from seqzoo.checkpoint import export
from seqzoo.cli import _lightning_cli

ZOO = Path(__file__).resolve().parents[1] / "seqzoo" / "zoo"


def build(recipe: Path) -> None:
    name = f"{recipe.stem}.{recipe.parent.name}"
    started = time.perf_counter()
    cli = _lightning_cli(["fit", "--config", str(recipe), "--trainer.logger.init_args.version", "zoo"])
    seconds = time.perf_counter() - started
    ckpt = cli.trainer.checkpoint_callback.best_model_path
    path, metrics = export(ckpt, ZOO / name, name=name)
    print(f"{name}: trained in {seconds:.0f} s, best {ckpt} -> {path}: {metrics}", flush=True)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        build(Path(arg))
