"""The `seqzoo` command: LightningCLI's fit/validate/test/predict plus the zoo's own tools."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

TOOLS_HELP = """usage: seqzoo <command> [options]

Training (LightningCLI; `seqzoo fit --help` lists every option):
  fit        train from a recipe:        seqzoo fit --config recipes/synthetic/gru.yaml
  validate   validate a checkpoint:      seqzoo validate --config RECIPE --ckpt_path CKPT
  test       test a checkpoint:          seqzoo test --config RECIPE --ckpt_path CKPT
  predict    predict on the test split:  seqzoo predict --config RECIPE --ckpt_path CKPT

The zoo:
  list       the catalogue of pretrained checkpoints (name, task, params, metric)
  evaluate   re-measure a checkpoint on its test split:  seqzoo evaluate gru.synthetic --json
  export     Lightning checkpoint -> artifact folder:    seqzoo export CKPT OUTDIR
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
        """Records the resolved recipe on the model, so checkpoints and artifacts carry it."""

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
        args=args,
        run=run,
    )


def _cmd_list(ns: argparse.Namespace) -> int:
    from seqzoo.catalog import catalog, list_pretrained

    rows = [catalog()[name].row() for name in list_pretrained(ns.pattern)]
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

    metrics, _ = evaluate(seqzoo.load(ns.name), data_dir=ns.data, accelerator=ns.accelerator)
    if ns.json:
        print(json.dumps(metrics, indent=2))
    else:
        for key, value in metrics.items():
            print(f"{key:24s} {value:.6f}")
    return 0


def _cmd_export(ns: argparse.Namespace) -> int:
    from seqzoo.checkpoint import export

    path, metrics = export(ns.ckpt, ns.outdir, name=ns.name, evaluate_test=not ns.no_evaluate)
    print(f"wrote {path}" + (f" (test metrics: {json.dumps(metrics)})" if metrics else ""))
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
    p.set_defaults(func=_cmd_evaluate)
    p = sub.add_parser("export", help="turn a Lightning checkpoint into an artifact folder")
    p.add_argument("ckpt")
    p.add_argument("outdir")
    p.add_argument("--name", default=None, help="catalogue name recorded in the card, e.g. gru.synthetic")
    p.add_argument("--no-evaluate", action="store_true", help="skip measuring test metrics for the card")
    p.set_defaults(func=_cmd_export)
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


TOOLS = {"list", "evaluate", "export", "demo", "push", "download"}


def main(argv: list[str] | None = None) -> Any:
    from seqzoo.errors import SeqzooError

    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help"):
        print(TOOLS_HELP)
        return 0
    if args[0] not in TOOLS:
        try:
            _lightning_cli(None if argv is None else args)  # None: LightningCLI reads sys.argv itself
        except SeqzooError as err:  # our own errors already say what is wrong: no traceback
            print(f"seqzoo {args[0]}: error: {err}", file=sys.stderr)
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
