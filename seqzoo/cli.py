"""The `seqzoo` command: LightningCLI's fit/validate/test/predict plus the zoo's own tools."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pickle
import sys
from collections.abc import Iterator
from typing import Any

from seqzoo.cli_checks import (
    check_before_running,
    check_ckpt_fits,
    check_ckpt_path,
    config_files,
    new_run_folder,
    read_recipe,
    recipe_model,
    remove_unused_run_folder,
)
from seqzoo.cli_parser import parser_class

DDP_TIMEOUT = 300.0  # seconds; see SeqzooCLI's --ddp_timeout
ONNX_CHECKED = "(ONNX Runtime answers as PyTorch does on random windows)"

TOOLS_HELP = """usage: seqzoo <command> [options]

Training (LightningCLI; `seqzoo fit --help` lists every option):
  fit        train from a recipe:        seqzoo fit --config recipes/synthetic/gru.yaml
  validate   validate a checkpoint:      seqzoo validate --config RECIPE --ckpt_path CKPT
  test       test a checkpoint:          seqzoo test --config RECIPE --ckpt_path CKPT
  predict    predict on the test split:  seqzoo predict --config RECIPE --ckpt_path CKPT

The zoo:
  list       the catalogue of pretrained checkpoints (name, task, params, metric)
  evaluate   re-measure a checkpoint on its test split:  seqzoo evaluate gru.synthetic --json
  export     Lightning checkpoint -> artifact folder:    seqzoo export CKPT OUTDIR [--onnx]
  export-onnx  add model.onnx (forecasting models) for seqzoo.predictor(DIR, runtime="onnxruntime")
  demo       train, export, reload and compare on the synthetic task (a minute or two on CPU)

The Hugging Face Hub:
  push       publish an artifact folder:   seqzoo push DIR org/repo [--revision BRANCH] [--private]
  download   copy checkpoints for machines without network, one sub-folder per name:
             seqzoo download gru.synthetic org/repo [--revision REV] --to DIR
             seqzoo download --all --to DIR
"""


def _lightning_cli(args: list[str] | None, run: bool = True):
    from lightning.pytorch.cli import LightningCLI

    from seqzoo.data.base import SeqzooDataModule
    from seqzoo.tasks.base import SeqzooTask

    class SeqzooCLI(LightningCLI):
        """Records the resolved recipe on the model, so checkpoints and artifacts carry it; bounds how long
        the processes of a multi-process run wait for each other; never unpickles code from --ckpt_path."""

        def add_arguments_to_parser(self, parser) -> None:
            parser.add_argument(
                "--ddp_timeout",
                type=float,
                default=DDP_TIMEOUT,
                help="seconds a process of a multi-process run waits for the others at a collective "
                "before failing with an error (a worker that hangs or dies); a strategy given its own "
                "`timeout` (--trainer.strategy.timeout) keeps it",
            )

        def instantiate_trainer(self, **kwargs: Any):
            trainer = super().instantiate_trainer(**kwargs)
            _bound_process_group_wait(trainer.strategy, self._get(self.config, "ddp_timeout"))
            return trainer

        def before_fit(self) -> None:
            # Recipes clip gradients in the Trainer, which Lightning refuses for a model that steps its
            # optimizer itself (TBPTT): such a model takes the setting over.
            if not self.model.automatic_optimization and self.trainer.gradient_clip_val:
                self.model.adopt_gradient_clipping(self.trainer)

        def _parse_ckpt_path(self) -> None:
            # LightningCLI reads --ckpt_path's hyperparameters (weights_only) before anything else runs,
            # and lets them replace the recipe's model: a checkpoint of another model is refused first
            subcommand = self.config.get("subcommand")
            if subcommand:
                config = self.config[subcommand]
                ckpt = check_ckpt_path(config.get("ckpt_path"))
                if ckpt is not None:
                    check_ckpt_fits(ckpt, f"--ckpt_path {config.get('ckpt_path')}", recipe_model(config))
            super()._parse_ckpt_path()

        def _run_subcommand(self, subcommand: str) -> None:
            config = self.config_init[subcommand]
            if config.get("weights_only") is None:  # explicit, whatever torch's default or environment
                config["weights_only"] = True
            check_before_running(self.trainer, self.model, subcommand, config.get("ckpt_path"))
            created = new_run_folder(self.trainer)
            try:
                with _refusing_pickles(config.get("ckpt_path")):
                    super()._run_subcommand(subcommand)
            except BaseException as err:
                remove_unused_run_folder(created)
                if self.trainer.world_size > 1:
                    lost = _fail_together(self.trainer, err, self._get(self.config, "ddp_timeout"))
                    if lost is not None:
                        raise lost from err
                raise

        def instantiate_classes(self) -> None:
            super().instantiate_classes()
            if not self.subcommand:
                return
            config = self.config[self.subcommand]
            self.model.recipe = self._parser(self.subcommand).dump(config, skip_none=False)
            sources = [str(p) for p in (config.get("config") or [])]
            self.model.recipe_meta = {
                "path": os.path.relpath(sources[0]) if sources else None,
                "seed": config.get("seed_everything"),
            }

    return SeqzooCLI(
        SeqzooTask,
        SeqzooDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        auto_configure_optimizers=False,
        parser_class=parser_class(),
        args=args,
        run=run,
    )


@contextlib.contextmanager
def _refusing_pickles(ckpt_path: str | None) -> Iterator[None]:
    """torch refusing to unpickle code from --ckpt_path becomes seqzoo's one-line `ArtifactError`."""
    from seqzoo.checkpoint import refused_pickle

    try:
        yield
    except pickle.UnpicklingError as err:
        raise refused_pickle(f"--ckpt_path {ckpt_path}", err) from err


def _bound_process_group_wait(strategy: Any, seconds: float) -> None:
    """Give a multi-process strategy (DDP, FSDP, ...) that kept torch's 30-minute default process-group
    timeout `seconds` instead, so a hung worker fails the run in minutes rather than half an hour."""
    from datetime import timedelta

    from torch.distributed.constants import default_pg_timeout

    from seqzoo.errors import SeqzooError

    if not seconds > 0:
        raise SeqzooError(f"ddp_timeout must be a positive number of seconds, got {seconds}")
    if getattr(strategy, "_timeout", None) == default_pg_timeout:
        strategy._timeout = timedelta(seconds=seconds)


def _fail_together(trainer: Any, err: BaseException, seconds: float) -> Exception | None:
    """A process of a multi-process run failed: end the workers it launched (Lightning leaves a hung one
    running forever) and, when it lost contact with another process, say so in words.

    Returns the `SeqzooError` to raise instead of a lost-contact error, else None.
    """
    import signal

    from seqzoo.errors import SeqzooError

    for child in getattr(trainer.strategy.launcher, "procs", []):  # only the launching process has any
        if child.poll() is None:
            child.send_signal(getattr(signal, "SIGKILL", signal.SIGTERM))
    text = str(err)
    lost = ("timeout", "timed out", "closed by peer", "reset by peer")
    if not isinstance(err, RuntimeError) or not any(word in text.lower() for word in lost):
        return None
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(err).__name__)
    return SeqzooError(
        f"rank {trainer.global_rank} lost contact with the other processes of this run ({first}): one "
        f"of them died, or hung for longer than ddp_timeout={seconds:g} s; its own messages say which. "
        "If a step legitimately takes that long, raise --ddp_timeout"
    )


def _cmd_list(ns: argparse.Namespace) -> int:
    from seqzoo.catalog import catalog, list_pretrained

    rows = [catalog()[name].row() for name in list_pretrained(ns.pattern)]
    if not rows and not ns.json:
        print(f"no pretrained checkpoint matches {ns.pattern!r}; patterns are shell wildcards, e.g. 'gru.*'")
        return 0
    if ns.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="seqzoo pretrained checkpoints")
    for column in ("name", "task", "architecture", "params", "test metric", "value", "naive"):
        numeric = column in ("params", "value", "naive")
        table.add_column(column, justify="right" if numeric else "left", no_wrap=True)
    for r in rows:
        naive = "" if r["naive"] is None else f"{r['naive']:.4f}"
        value = "" if r["value"] is None else f"{r['value']:.4f}"
        table.add_row(r["name"], r["task"], r["architecture"], f"{r['params']:,}", r["metric"], value, naive)
    Console(width=max(120, Console().width)).print(table)
    return 0


def _cmd_evaluate(ns: argparse.Namespace) -> int:
    import seqzoo
    from seqzoo.evaluation import evaluate

    metrics, _ = evaluate(seqzoo.load(ns.name), data_dir=ns.data, accelerator=ns.accelerator, split=ns.split)
    if ns.json:
        print(json.dumps(metrics, indent=2))
    else:
        for key, value in metrics.items():
            print(f"{key:24s} {value:.6f}")
    return 0


def _cmd_export(ns: argparse.Namespace) -> int:
    from seqzoo.checkpoint import export
    from seqzoo.onnx_serving import ONNX_FILE

    path, metrics = export(
        ns.ckpt,
        ns.outdir,
        name=ns.name,
        evaluate_test=not ns.no_evaluate,
        weights_dtype=ns.weights_dtype,
        onnx=ns.onnx,
    )
    print(f"wrote {path}" + (f" (test metrics: {json.dumps(metrics)})" if metrics else ""))
    if ns.onnx:
        print(f"wrote {path / ONNX_FILE} {ONNX_CHECKED}")
    return 0


def _cmd_export_onnx(ns: argparse.Namespace) -> int:
    from seqzoo.onnx_serving import export_onnx

    for folder in ns.folders:
        print(f"wrote {export_onnx(folder)} {ONNX_CHECKED}")
    return 0


def _cmd_demo(ns: argparse.Namespace) -> int:
    from seqzoo.demo import run_demo

    run_demo(recipe=ns.recipe, epochs=ns.epochs, workdir=ns.workdir)
    return 0


def _cmd_push(ns: argparse.Namespace) -> int:
    from seqzoo.hub import prepare_upload, push

    plan = prepare_upload(ns.folder)
    print(f"{plan.folder} -> {ns.repo_id} (revision {ns.revision or 'main'}): {', '.join(plan.files)}")
    if plan.skipped:
        print(f"not uploaded: {', '.join(plan.skipped)}")
    if ns.dry_run:
        print(f"commit message: {ns.commit_message or plan.commit_message}")
        return 0
    url = push(
        ns.folder,
        ns.repo_id,
        revision=ns.revision,
        private=True if ns.private else None,
        commit_message=ns.commit_message,
    )
    print(f"pushed: {url}")
    return 0


def _cmd_download(ns: argparse.Namespace) -> int:
    from seqzoo.catalog import list_pretrained
    from seqzoo.errors import SeqzooError
    from seqzoo.hub import copy_artifacts

    if ns.all == bool(ns.names):
        raise SeqzooError("give checkpoint names or Hub repo ids, or --all (not both)")
    for copied in copy_artifacts(list_pretrained() if ns.all else ns.names, ns.to, revision=ns.revision):
        commit = f" (commit {copied.commit})" if copied.commit else ""
        print(f"{copied.name}{commit} -> {copied.destination}")
    return 0


def _tools_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqzoo", description="seqzoo tools")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="the catalogue of pretrained checkpoints")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style wildcard, e.g. '*.synthetic'")
    p.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("evaluate", help="re-measure a checkpoint on its test split")
    p.add_argument("name", help="catalogue name, artifact folder or Hub repo id")
    p.add_argument("--data", default=None, help="folder with the dataset files (for file-based datasets)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--accelerator", default="cpu")
    p.add_argument("--split", choices=["test", "val"], default="test", help="which split to measure")
    p.set_defaults(func=_cmd_evaluate)
    p = sub.add_parser("export", help="turn a Lightning checkpoint into an artifact folder")
    p.add_argument("ckpt")
    p.add_argument("outdir")
    p.add_argument("--name", default=None, help="catalogue name recorded in the card, e.g. gru.synthetic")
    p.add_argument("--no-evaluate", action="store_true", help="skip measuring test metrics for the card")
    p.add_argument(
        "--weights-dtype",
        choices=["float32", "float16"],
        default="float32",
        help="store the weights as float16 (half the size; upcast on load, metrics measured as stored)",
    )
    p.add_argument("--onnx", action="store_true", help="also write model.onnx (see export-onnx)")
    p.set_defaults(func=_cmd_export)
    p = sub.add_parser("export-onnx", help="add model.onnx to artifact folders, for ONNX Runtime serving")
    p.add_argument("folders", nargs="+", help="artifact folders of forecasting models")
    p.set_defaults(func=_cmd_export_onnx)
    p = sub.add_parser("demo", help="train, export, reload and compare on the synthetic task")
    p.add_argument("--recipe", default=None, help="recipe to train (default: recipes/synthetic/gru.yaml)")
    p.add_argument("--epochs", type=int, default=None, help="override the recipe's max_epochs")
    p.add_argument("--workdir", default="runs/demo")
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser("push", help="publish an artifact folder to the Hugging Face Hub")
    p.add_argument("folder", help="artifact folder (or a bundled checkpoint name)")
    p.add_argument("repo_id", help="Hub repo, e.g. my-org/gru-synthetic (created if missing)")
    p.add_argument("--revision", default=None, help="branch to commit to (created from main); default main")
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument("--commit-message", default=None, help="default: 'Upload NAME with seqzoo VERSION'")
    p.add_argument("--dry-run", action="store_true", help="check the folder, list what would go up, stop")
    p.set_defaults(func=_cmd_push)
    p = sub.add_parser("download", help="copy checkpoints into a folder for machines without network")
    p.add_argument("names", nargs="*", help="bundled names, Hub repo ids (org/repo) or artifact folders")
    p.add_argument("--all", action="store_true", help="every bundled checkpoint")
    p.add_argument("--to", required=True, help="destination folder; one sub-folder per name")
    p.add_argument("--revision", default=None, help="branch, tag or commit for Hub repo ids")
    p.set_defaults(func=_cmd_download)
    return parser


TOOLS = {"list", "evaluate", "export", "export-onnx", "demo", "push", "download"}


def _seqzoo_cause(err: BaseException | None) -> BaseException | None:
    """The SeqzooError behind `err`: jsonargparse re-raises errors of the model's and data's constructors
    (a fine-tune's conflicting arch_kwargs, say) as a ValueError listing every type it tried. Lightning's
    MisconfigurationException counts as one: it says which setting is wrong, the traceback adds nothing."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    from seqzoo.errors import SeqzooError

    while err is not None and not (
        isinstance(err, SeqzooError | MisconfigurationException) or _lightning_setting_error(err)
    ):
        err = err.__cause__ or err.__context__
    return err


# Lightning errors about a setting that already say what to change; a traceback would add nothing.
LIGHTNING_SETTING_ERRORS = (
    (RuntimeError, "conditioned on metric"),  # EarlyStopping on a metric nothing logs, after validating
    (ValueError, "`val_check_interval`"),  # more batches between validations than an epoch has
)


def _lightning_setting_error(err: BaseException) -> bool:
    """Whether `err` is one of Lightning's LIGHTNING_SETTING_ERRORS (`cli_checks` refuses the settings it
    can check before training: the task's own metric names, say)."""
    return any(isinstance(err, kind) and text in str(err) for kind, text in LIGHTNING_SETTING_ERRORS)


def main(argv: list[str] | None = None) -> Any:
    from seqzoo.errors import SeqzooError

    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help"):
        print(TOOLS_HELP)
        return 0
    if args[0] not in TOOLS:
        try:
            for recipe in config_files(args):
                read_recipe(recipe)
            _lightning_cli(None if argv is None else args)  # None: LightningCLI reads sys.argv itself
        except Exception as err:  # our own errors already say what is wrong: no traceback
            cause = _seqzoo_cause(err)
            if cause is None:
                raise
            message = str(cause) if isinstance(cause, SeqzooError) else " ".join(str(cause).split())
            print(f"seqzoo {args[0]}: error: {message}", file=sys.stderr)
            return 2
        return 0
    ns = _tools_parser().parse_args(args)
    try:
        return ns.func(ns)
    except SeqzooError as err:
        print(f"seqzoo {ns.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
