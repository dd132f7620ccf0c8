"""Bad commands and configurations as a user types them: one clear error from `seqzoo`, exit 2, no
traceback, and, where it can be known before training, nothing trained or written."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .conftest import ROOT, SEQZOO, run_seqzoo

RECIPE = ["--config", "recipes/synthetic/gru.yaml"]
TINY = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "1"]


def tiny_fit(save_dir: Path, *extra: str) -> list[str]:
    return ["fit", *RECIPE, *TINY, "--trainer.logger.init_args.save_dir", str(save_dir), *extra]


def run_side_by_side(commands: dict[str, list[str]]) -> dict[str, subprocess.CompletedProcess]:
    """Run `seqzoo` commands as real processes at once; their outputs by name."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    procs = {
        name: subprocess.Popen(
            [*SEQZOO, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for name, args in commands.items()
    }
    done = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        done[name] = subprocess.CompletedProcess(commands[name], proc.returncode, stdout, stderr)
    return done


def error_lines(proc: subprocess.CompletedProcess, command: str) -> list[str]:
    """The lines from the first `seqzoo COMMAND: error:` on, after checking it failed without a traceback."""
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    first = next((i for i, line in enumerate(lines) if line.startswith(f"seqzoo {command}: error: ")), None)
    assert first is not None, proc.stderr[-3000:]
    return lines[first:]


def test_fit_ckpt_path_last_with_nothing_to_resume_says_where_it_looked(tmp_path):
    """The bug: Lightning only warns and trains a fresh model in a new version folder. The control: a named
    run resumes from its last checkpoint."""
    run_seqzoo(*tiny_fit(tmp_path, "--trainer.logger.init_args.version", "a"))
    runs = tmp_path / "gru.synthetic"
    assert (runs / "a" / "checkpoints" / "last.ckpt").is_file()
    procs = run_side_by_side(
        {
            "unnamed": tiny_fit(tmp_path, "--ckpt_path", "last"),
            "named": tiny_fit(tmp_path, "--trainer.logger.init_args.version", "a", "--ckpt_path", "last"),
        }
    )
    (line,) = error_lines(procs["unnamed"], "fit")
    looked = runs / "version_0" / "checkpoints"
    assert f"seqzoo fit: error: --ckpt_path last: no last checkpoint in {looked}. " in line
    assert "--trainer.logger.init_args.version NAME" in line
    assert sorted(p.name for p in runs.iterdir()) == ["a"], "no new version folder"
    named = procs["named"]
    assert named.returncode == 0, named.stderr[-3000:]
    assert (
        f"Restored all states from the checkpoint at {runs / 'a' / 'checkpoints' / 'last.ckpt'}"
        in named.stderr
    )


def test_parser_errors_are_a_few_lines_without_the_usage_block(tmp_path):
    (tmp_path / "bytes.yaml").write_bytes(bytes(range(128, 256)))
    (tmp_path / "notes.yaml").write_text("# notes\n```\nseqzoo fit\n```\n")
    cases = {
        "unknown key": (
            ["--model.init_args.foo", "3"],
            "Parser key \"model\": Problem with given class_path 'seqzoo.tasks.ForecastingTask': "
            "Option 'foo' is not accepted",
        ),
        "wrong type": (
            ["--model.init_args.lr", "abc"],
            "Parser key \"lr\": Expected a <class 'float'>. Got value: abc",
        ),
        "wrong trainer type": (
            ["--trainer.max_epochs", "abc"],
            "Parser key \"trainer.max_epochs\": Expected a <class 'int'> (given: abc)",
        ),
        "missing recipe": (["--config", str(tmp_path / "nope.yaml")], "File does not exist: '"),
        "binary recipe": (["--config", str(tmp_path / "bytes.yaml")], "bytes.yaml: not a YAML recipe ("),
        "markdown recipe": (["--config", str(tmp_path / "notes.yaml")], "notes.yaml: not a YAML recipe ("),
    }
    commands = {name: ["fit", *RECIPE, *args] for name, (args, _) in cases.items()}
    commands["help"] = ["fit", *RECIPE, "--help"]
    procs = run_side_by_side(commands)
    for name, (_, expected) in cases.items():
        lines = error_lines(procs[name], "fit")
        assert expected in lines[0], (name, lines)
        assert len(procs[name].stderr.strip().splitlines()) <= 2, procs[name].stderr
        assert "usage:" not in procs[name].stderr
    assert procs["unknown key"].stderr.strip().splitlines()[1] == "`seqzoo fit --help` lists every option"
    help_text = procs["help"].stdout
    assert procs["help"].returncode == 0 and help_text.startswith("usage: seqzoo [options] fit")
    for option in ("--trainer.max_epochs", "--trainer.accumulate_grad_batches", "--ckpt_path", "--model"):
        assert option in help_text


def test_training_settings_that_fail_in_training_are_one_line_before_anything_is_written(tmp_path):
    metrics = "train_loss, val_loss, val_mae, val_mse, val_naive_mae, val_naive_mse"
    cases = {
        "accumulate 0": (
            ["--trainer.accumulate_grad_batches", "0"],
            "trainer.accumulate_grad_batches must be an integer >= 1 (batches per optimizer step), got 0",
        ),
        "accumulate under tbptt": (
            ["--model.init_args.tbptt_steps", "5", "--trainer.accumulate_grad_batches", "2"],
            "trainer.accumulate_grad_batches=2: this model steps its optimizer itself",
        ),
        "early stopping": (
            [
                "--trainer.callbacks+=lightning.pytorch.callbacks.EarlyStopping",
                "--trainer.callbacks.monitor",
                "val_accuracy",
            ],
            f"EarlyStopping monitors 'val_accuracy', which a forecasting model does not log while fitting; "
            f"it logs {metrics}",
        ),
        "checkpoint": (
            ["--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint"]
            + ["--trainer.callbacks.monitor", "val_mae_typo"],
            "ModelCheckpoint monitors 'val_mae_typo', which a forecasting model does not log",
        ),
        "Lightning's misconfiguration": (
            ["--trainer.gradient_clip_algorithm", "sideways"],
            "`gradient_clip_algorithm` sideways is invalid. Allowed algorithms: ['value', 'norm'].",
        ),
    }
    procs = run_side_by_side({name: tiny_fit(tmp_path / name, *args) for name, (args, _) in cases.items()})
    for name, (_, expected) in cases.items():
        (line,) = error_lines(procs[name], "fit")
        assert line.startswith(f"seqzoo fit: error: {expected}"), (name, line)
        assert not (tmp_path / name).exists(), f"{name}: wrote a run folder before failing"


def test_settings_lightning_finds_wrong_once_running_are_one_line_too(tmp_path):
    """A monitored name outside the task's own could come from another callback, so it is only found
    out when the first validation ends; validating every 1,000 batches of a 3-batch epoch once the
    data is loaded. Lightning's message says what to change; it comes as one line."""
    watch = ["--trainer.callbacks+=lightning.pytorch.callbacks.EarlyStopping", "--trainer.callbacks.monitor"]
    procs = run_side_by_side(
        {
            "monitor": tiny_fit(tmp_path / "monitor", *watch, "my_metric"),
            "interval": tiny_fit(tmp_path / "interval", "--trainer.val_check_interval", "1000"),
        }
    )
    (line,) = error_lines(procs["monitor"], "fit")
    assert "Early stopping conditioned on metric `my_metric` which is not available" in line, line
    assert "val_mae" in line
    (line,) = error_lines(procs["interval"], "fit")
    assert "`val_check_interval` (1000) must be less than or equal to the number of the training" in line


def test_a_failed_fit_removes_the_run_folder_it_created_and_nothing_else(tmp_path):
    """A learning rate of 1e30 trains one step, then fails on a non-finite loss after Lightning has written
    the run's config.yaml: the folder the command created goes; one that existed stays as it was."""
    existing = tmp_path / "gru.synthetic" / "mine"
    existing.mkdir(parents=True)
    (existing / "notes.txt").write_text("mine")
    explode = ["--model.init_args.lr", "1e30"]
    procs = run_side_by_side(
        {
            "new": tiny_fit(tmp_path, *explode),
            "existing": tiny_fit(tmp_path, *explode, "--trainer.logger.init_args.version", "mine"),
        }
    )
    for proc in procs.values():
        (line,) = error_lines(proc, "fit")
        assert "non-finite training loss" in line
    assert sorted(p.name for p in (tmp_path / "gru.synthetic").iterdir()) == ["mine"]
    assert sorted(p.name for p in existing.iterdir()) == ["config.yaml", "hparams.yaml", "notes.txt"]


def test_demo_refuses_options_it_cannot_finish_before_training(tmp_path):
    cases = {
        "no epochs": (
            ["--epochs", "0"],
            "--epochs must be at least 1 (the demo exports what it trained), got 0",
        ),
        "negative epochs": (["--epochs", "-3"], "--epochs must be at least 1"),
        "imdb recipe": (
            ["--recipe", "recipes/imdb/gru.yaml"],
            "--recipe recipes/imdb/gru.yaml: the demo compares with the bundled gru.synthetic",
        ),
        "missing recipe": (["--recipe", "nope.yaml"], "--recipe nope.yaml: recipe file not found"),
    }
    commands = {name: ["demo", *args, "--workdir", str(tmp_path / name)] for name, (args, _) in cases.items()}
    commands["lstm"] = ["demo", "--recipe", "recipes/synthetic/lstm.yaml", "--epochs", "1"]
    commands["lstm"] += ["--workdir", str(tmp_path / "lstm")]
    procs = run_side_by_side(commands)
    for name, (_, expected) in cases.items():
        (line,) = error_lines(procs[name], "demo")
        assert line.startswith(f"seqzoo demo: error: {expected}"), (name, line)
        assert not (tmp_path / name).exists()
    control = procs["lstm"]  # a synthetic recipe of another architecture passes the checks and completes
    assert control.returncode == 0, control.stderr[-3000:]
    assert 'bundled seqzoo.load("gru.synthetic")' in control.stdout
