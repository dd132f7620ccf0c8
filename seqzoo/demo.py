"""The main job on embedded defaults: train a synthetic recipe, export it, reload it with one call,
predict on windows it has never seen, and compare with the bundled checkpoint and the naive baseline."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import seqzoo
from seqzoo.catalog import pretrained_path
from seqzoo.errors import SeqzooError

DEFAULT_RECIPE = Path("recipes/synthetic/gru.yaml")
UNSEEN_SEED = 2026  # the recipe's data uses seed 0; these series were never seen in training
WINDOW = 10  # the unseen windows' length, as the bundled gru.synthetic reads them


def _check_options(recipe: str | None, epochs: int | None) -> None:
    """Refuse what the demo could not finish before it trains: it exports the checkpoint its training
    wrote (none after 0 epochs), then compares with the bundled gru.synthetic on synthetic windows."""
    from seqzoo.cli_checks import read_recipe

    if epochs is not None and epochs < 1:
        raise SeqzooError(f"--epochs must be at least 1 (the demo exports what it trained), got {epochs}")
    if recipe is None:
        return
    config = read_recipe(recipe, "--recipe")
    model, data = (_class_name(config.get(key)) for key in ("model", "data"))
    data_args = config["data"].get("init_args") or {} if isinstance(config.get("data"), dict) else {}
    one_window = data_args.get("window", WINDOW) == WINDOW and not data_args.get("sequence_targets", False)
    if (model, data) != ("ForecastingTask", "SyntheticDataModule") or not one_window:
        raise SeqzooError(
            f"--recipe {recipe}: the demo compares with the bundled gru.synthetic on windows of {WINDOW} "
            "synthetic values, so it needs a ForecastingTask on SyntheticDataModule with the default window "
            f"and one target per window (recipes/synthetic/*.yaml); this recipe trains {model} on {data}"
        )


def _class_name(section: object) -> str | None:
    """The class a recipe section names (`class_path: a.b.C` or just `a.b.C`), without its module."""
    class_path = section.get("class_path") if isinstance(section, dict) else section
    return str(class_path).rsplit(".", 1)[-1] if class_path else None


def _recipe_path(recipe: str | None, workdir: Path) -> str:
    if recipe:
        return recipe
    if DEFAULT_RECIPE.is_file():
        return str(DEFAULT_RECIPE)
    bundled = workdir / "gru.synthetic.recipe.yaml"  # outside a checkout: the recipe the artifact carries
    shutil.copyfile(pretrained_path("gru.synthetic") / "recipe.yaml", bundled)
    return str(bundled)


def _scores(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    err = pred - truth
    return float(np.abs(err).mean()), float(np.sqrt((err**2).mean()))


def run_demo(recipe: str | None = None, epochs: int | None = None, workdir: str = "runs/demo") -> dict:
    from seqzoo.checkpoint import export
    from seqzoo.cli import _lightning_cli
    from seqzoo.data.synthetic import sum_of_sines, windows_of

    _check_options(recipe, epochs)
    console = Console()
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    for old_run in work.glob("*/demo/checkpoints"):  # a rerun starts clean, not from best-v1.ckpt
        shutil.rmtree(old_run)
    recipe_file = _recipe_path(recipe, work)
    console.rule(f"1/4 train {recipe_file}")
    args = [
        "fit",
        "--config",
        recipe_file,
        "--trainer.logger.init_args.save_dir",
        str(work),
        "--trainer.logger.init_args.version",
        "demo",
    ]
    if epochs is not None:
        args += ["--trainer.max_epochs", str(epochs)]
    cli = _lightning_cli(args)
    ckpt = cli.trainer.checkpoint_callback.best_model_path or cli.trainer.checkpoint_callback.last_model_path

    console.rule("2/4 export the checkpoint as a pretrained artifact folder")
    artifact, metrics = export(ckpt, work / "artifact")
    console.print(f"{ckpt} -> {artifact}/ ({', '.join(sorted(p.name for p in artifact.iterdir()))})")

    console.rule("3/4 reload with one call and predict on unseen windows")
    model = seqzoo.load(artifact)
    windows, truth = windows_of(sum_of_sines(4, 1000, seed=UNSEEN_SEED), WINDOW)
    console.print(
        f'seqzoo.load("{artifact}").predict(windows of shape {windows.shape}) '
        f"-> {model.predict(windows[:3]).round(3).tolist()} ..."
    )

    console.rule("4/4 compare")
    rows = {
        "your model (just trained)": model.predict(windows),
        'bundled seqzoo.load("gru.synthetic")': seqzoo.load("gru.synthetic").predict(windows),
        "last-value baseline": windows[:, -1],
    }
    table = Table(title=f"{len(truth):,} unseen windows (series seed {UNSEEN_SEED})")
    for column in ("predictor", "MAE", "RMSE"):
        table.add_column(column, justify="left" if column == "predictor" else "right")
    scores = {}
    for label, pred in rows.items():
        scores[label] = _scores(pred, truth)
        table.add_row(label, f"{scores[label][0]:.4f}", f"{scores[label][1]:.4f}")
    console.print(table)
    console.print(
        f"Test split of the recipe's own data: MAE {metrics['test_mae']:.4f} "
        f"(naive {metrics['test_naive_mae']:.4f}). The targets' noise (sigma 0.05) alone costs an MAE of 0.04"
    )
    return scores
