"""Training through the real `seqzoo fit`: reproducible, resumable after SIGKILL, loud about NaN in every
task, TBPTT under a recipe's clipping, and a DDP worker that dies or hangs ends the job instead of
hanging it.

All runs are short (10-30 batches of the synthetic GRU recipe) and use one torch thread per process,
so two of them fit side by side on a 2-core CI machine. Test-only callbacks live in
tests/reliability_callbacks.py. Figures go to test-output/reliability_training.json.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from seqzoo.cli import _lightning_cli
from seqzoo.errors import SeqzooError
from seqzoo.tasks import ClassificationTask, ForecastingTask, Seq2SeqTask, SeqzooTask

from .conftest import ROOT, SEQZOO, quiet_trainer, run_seqzoo
from .reliability_callbacks import PoisonAtStep

REPORT = ROOT / "test-output" / "reliability_training.json"
ENV = {"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
CALLBACKS = "tests.reliability_callbacks"
FIGURES: dict[str, Any] = {}


def fit_args(root: Path, *extra: str) -> list[str]:
    """`seqzoo fit` of the GRU recipe with every output under `root` (logger version fixed to `v`)."""
    return [
        "fit",
        "--config",
        "recipes/synthetic/gru.yaml",
        "--trainer.limit_val_batches",
        "2",
        "--trainer.default_root_dir",
        str(root),
        "--trainer.logger.init_args.save_dir",
        str(root),
        "--trainer.logger.init_args.version",
        "v",
        *extra,
    ]


class Run:
    """A `seqzoo` process started in the background, its output going to a file."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        self.started = time.monotonic()
        with open(log, "w") as out:
            self.proc = subprocess.Popen(
                [*SEQZOO, *args],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **ENV, **(env or {})},
            )

    def wait(self, timeout: float = 300) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"still running after {timeout} s:\n{self.output()[-3000:]}") from None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def succeed(self, timeout: float = 300) -> None:
        assert self.wait(timeout) == 0, self.output()[-4000:]


def checkpoint(root: Path, name: str = "last.ckpt") -> dict[str, Any]:
    return torch.load(
        root / "gru.synthetic" / "v" / "checkpoints" / name, map_location="cpu", weights_only=True
    )


def assert_bit_identical(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["state_dict"].keys() == b["state_dict"].keys()
    different = [k for k in a["state_dict"] if not torch.equal(a["state_dict"][k], b["state_dict"][k])]
    assert not different, f"weights differ in {different}"


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(FIGURES, indent=2) + "\n")


@pytest.fixture(scope="module")
def twin_runs(tmp_path_factory) -> tuple[Path, Path]:
    """The recipe twice with its seed, side by side: 1 epoch of 30 batches."""
    roots = [tmp_path_factory.mktemp(name) for name in ("first", "second")]
    budget = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "30"]
    runs = [Run(fit_args(root, *budget), root / "log") for root in roots]
    for run in runs:
        run.succeed()
    return roots[0], roots[1]


# -- (a) the same recipe and seed give the same weights ------------------------------------------------
def test_same_recipe_and_seed_give_bit_identical_weights(twin_runs):
    first, second = (checkpoint(root) for root in twin_runs)
    assert first["global_step"] == second["global_step"] == 30
    assert_bit_identical(first, second)
    # The comparison itself notices a change of one unit in the last place of one weight.
    nudged = {"state_dict": dict(second["state_dict"])}
    bias = nudged["state_dict"]["net.head.bias"]
    nudged["state_dict"]["net.head.bias"] = torch.nextafter(bias, bias + 1)
    with pytest.raises(AssertionError, match=r"weights differ in \['net\.head\.bias'\]"):
        assert_bit_identical(first, nudged)
    FIGURES["determinism"] = {"runs": 2, "steps": 30, "tensors compared": len(first["state_dict"])}


# -- (b) SIGKILL mid-epoch, resume from the last epoch-boundary checkpoint -----------------------------
def test_resume_after_sigkill_matches_the_uninterrupted_run(tmp_path):
    """The recipe as it is: seqzoo's own checkpoints carry the random state (no extra callback)."""
    budget = ["--trainer.max_epochs", "3", "--trainer.limit_train_batches", "10"]
    whole = Run(fit_args(tmp_path / "whole", *budget), tmp_path / "whole.log")
    paused = tmp_path / "paused"
    killed_args = fit_args(tmp_path / "killed", *budget)
    pause = f"--trainer.callbacks+={CALLBACKS}.PauseAtStep"
    env = {"SEQZOO_TEST_PAUSE_AT_STEP": "25", "SEQZOO_TEST_PAUSE_FILE": str(paused)}
    victim = Run([*killed_args, pause], tmp_path / "killed.log", env=env)
    deadline = time.monotonic() + 300
    while not paused.exists():
        assert victim.proc.poll() is None and time.monotonic() < deadline, victim.output()[-3000:]
        time.sleep(0.2)
    assert paused.read_text() == "2 25"  # third epoch (0-based 2), half way through its 10 batches
    saved = checkpoint(tmp_path / "killed")
    assert (saved["epoch"], saved["global_step"]) == (1, 20), "the epoch-2 checkpoint exists before the kill"
    assert set(saved["seqzoo"]["rng"]) == {"cpu"}, "seqzoo stores the random state itself"
    os.kill(victim.proc.pid, signal.SIGKILL)
    assert victim.wait(60) == -signal.SIGKILL
    assert checkpoint(tmp_path / "killed")["global_step"] == 20  # the kill did not damage it

    # The control: the same checkpoint without its random state resumes to other weights.
    saved["seqzoo"] = {k: v for k, v in saved["seqzoo"].items() if k != "rng"}
    torch.save(saved, tmp_path / "no-rng.ckpt")
    blind_args = [*fit_args(tmp_path / "blind", *budget), "--ckpt_path", str(tmp_path / "no-rng.ckpt")]
    blind = Run(blind_args, tmp_path / "blind.log")
    resumed = Run([*killed_args, "--ckpt_path", "last"], tmp_path / "resumed.log")
    for run in (resumed, blind, whole):
        run.succeed()
    assert "Restored all states from the checkpoint" in resumed.output()
    assert "holds no random state" not in resumed.output()
    a, b = checkpoint(tmp_path / "whole"), checkpoint(tmp_path / "killed")
    assert (a["epoch"], a["global_step"]) == (b["epoch"], b["global_step"]) == (2, 30)
    assert_bit_identical(a, b)
    for state_a, state_b in zip(a["optimizer_states"], b["optimizer_states"], strict=True):
        for key, value in state_a["state"].items():
            assert all(torch.equal(value[n], state_b["state"][key][n]) for n in value), "optimizer state"
    assert "holds no random state" in blind.output(), "a checkpoint without it is resumed with a warning"
    c = checkpoint(tmp_path / "blind")
    assert c["global_step"] == 30
    with pytest.raises(AssertionError, match="weights differ"):
        assert_bit_identical(a, c)
    FIGURES["resume"] = {
        "killed at": "epoch 3 of 3, step 25 of 30",
        "resumed from": "step 20",
        "bit_identical": True,
        "control without the random state": "same steps, different weights (and a warning)",
    }


# -- (c) NaN/inf: training stops naming the step, export refuses the weights ---------------------------
def test_a_non_finite_loss_stops_training_naming_the_step(tmp_path):
    run = Run(
        fit_args(
            tmp_path,
            "--trainer.max_epochs",
            "1",
            "--trainer.limit_train_batches",
            "20",
            "--model.init_args.lr",
            "1e30",
        ),
        tmp_path / "log",
    )
    assert run.wait() != 0
    found = re.search(
        r"seqzoo fit: error: non-finite training loss (nan|inf|-inf) at global step (\d+)", run.output()
    )
    assert found, run.output()[-3000:]
    assert "Traceback" not in run.output()  # our own error says what went wrong; no stack to read
    assert int(found.group(2)) < 20, "it must stop at the first bad step, not at the end"
    FIGURES["non-finite loss"] = {
        "lr": 1e30,
        "stopped at global step": int(found.group(2)),
        "loss": found.group(1),
    }


def test_checkpoints_written_before_a_non_finite_loss_stay_finite(tmp_path):
    """Epoch 0 (5 steps) trains and checkpoints; the weights turn NaN before step 7, in epoch 1. The run
    stops there, and the epoch-0 checkpoints are kept as they were, not overwritten on the way out."""
    poison = json.dumps({"class_path": f"{CALLBACKS}.PoisonAtStep", "init_args": {"at_step": 7}})
    epochs = ["--trainer.max_epochs", "2", "--trainer.limit_train_batches", "5"]
    run = Run(fit_args(tmp_path, *epochs, f"--trainer.callbacks+={poison}"), tmp_path / "log")
    assert run.wait() != 0
    assert "non-finite training loss nan at global step 7 (epoch 1)" in run.output(), run.output()[-3000:]
    assert sorted(p.name for p in tmp_path.rglob("*.ckpt")) == ["best.ckpt", "last.ckpt"]
    for name in ("best.ckpt", "last.ckpt"):
        saved = checkpoint(tmp_path, name)
        assert saved["global_step"] == 5, f"{name} is not the end of epoch 0"
        assert all(torch.isfinite(t).all() for t in saved["state_dict"].values()), name


POISONED_AT = 3


def tiny_problem(kind: str) -> tuple[SeqzooTask, DataLoader]:
    """A small model of each task, and 8 batches of data for it."""
    gen = torch.Generator().manual_seed(0)
    if kind == "seq2seq":
        src = torch.randint(2, 6, (64, 3), generator=gen)
        target = torch.cat([torch.ones(64, 1, dtype=torch.long), src], dim=1)
        task = Seq2SeqTask(arch="seq2seq", arch_kwargs={"vocab_size": 6, "hidden_size": 8})
        return task, DataLoader(TensorDataset(src, target), batch_size=8)
    x = torch.randn(64, 12, 1, generator=gen)
    if kind == "classification":
        task = ClassificationTask(arch="gru", arch_kwargs={"hidden_size": 8})
        return task, DataLoader(TensorDataset(x, (x.sum((1, 2)) > 0).long()), batch_size=8)
    tbptt = {"tbptt_steps": 4} if kind == "forecasting with TBPTT" else {}
    task = ForecastingTask(arch="gru", arch_kwargs={"hidden_size": 8}, **tbptt)
    return task, DataLoader(TensorDataset(x, x[:, -1, 0]), batch_size=8)


@pytest.mark.parametrize("kind", ["forecasting", "forecasting with TBPTT", "classification", "seq2seq"])
def test_every_task_stops_at_the_first_non_finite_loss(kind):
    task, data = tiny_problem(kind)
    trainer = quiet_trainer(1)
    trainer.callbacks.append(PoisonAtStep(POISONED_AT))
    with pytest.raises(
        SeqzooError, match=rf"non-finite training loss nan at global step {POISONED_AT} \(epoch 0\)"
    ):
        trainer.fit(task, data)
    assert trainer.global_step == POISONED_AT, "no optimizer step after the bad loss"
    FIGURES.setdefault("non-finite loss, each task", {})[kind] = (
        f"stopped at global step {trainer.global_step}"
    )


def test_export_refuses_a_checkpoint_with_nan_weights(twin_runs, tmp_path):
    ckpt = checkpoint(twin_runs[0])
    ckpt["state_dict"]["net.head.bias"] = torch.full_like(ckpt["state_dict"]["net.head.bias"], float("nan"))
    torch.save(ckpt, tmp_path / "nan.ckpt")
    proc = run_seqzoo("export", str(tmp_path / "nan.ckpt"), str(tmp_path / "out"), check=False, env=ENV)
    assert proc.returncode == 2, proc.stderr
    assert "refusing to save non-finite weights in ['net.head.bias']" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()


# -- (d) a DDP worker that dies or hangs ends the job ---------------------------------------------------
def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains `text` (each run has its own tmp folder in it)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return [pid for pid in found if pid != os.getpid()]


def ddp_runs(tmp_path: Path, fault: str, callback: str, env: dict[int, dict[str, str]], *extra: str):
    """One two-process CPU run per faulty rank (1, then 0), side by side; returns {rank: (root, Run)}."""
    runs = {}
    for rank in (1, 0):
        root = tmp_path / f"rank{rank}-{fault}"
        args = fit_args(
            root,
            *("--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp"),
            *("--trainer.max_epochs", "1", "--trainer.limit_train_batches", "20", *extra),
            f"--trainer.callbacks+={CALLBACKS}.{callback}",
        )
        runs[rank] = (root, Run(args, tmp_path / f"rank{rank}-{fault}.log", env[rank]))
    return runs


def wait_for_ends(runs: dict, seconds: float) -> dict[int, float]:
    """The wall-clock time each run's launching process exited."""
    ended, deadline = {}, time.monotonic() + seconds
    while len(ended) < len(runs):
        assert time.monotonic() < deadline, (
            f"a DDP job with a faulty worker is still running after {seconds} s"
        )
        for rank, (_, run) in runs.items():
            if rank not in ended and run.proc.poll() is not None:
                ended[rank] = time.time()
        time.sleep(0.2)
    return ended


def assert_no_worker_left(root: Path, rank: int) -> None:
    gone_by = time.monotonic() + 60
    while (left := processes_mentioning(str(root))) and time.monotonic() < gone_by:
        time.sleep(0.5)
    for pid in left:  # clean up before failing
        os.kill(pid, signal.SIGKILL)
    assert not left, f"workers of the rank-{rank} run still alive a minute after it ended"


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc to find the workers")
def test_a_dead_ddp_worker_ends_the_job_instead_of_hanging(tmp_path):
    """A worker exits abruptly at step 3; or the launching rank 0 itself does, orphaning rank 1."""
    env = {rank: {"SEQZOO_TEST_DIE_RANK": str(rank), "SEQZOO_TEST_DIE_AT_STEP": "3"} for rank in (0, 1)}
    for rank in env:
        env[rank]["SEQZOO_TEST_DIE_FILE"] = str(tmp_path / f"rank{rank}-dies.died")
    runs = ddp_runs(tmp_path, "dies", "DieOnRank", env)
    ended = wait_for_ends(runs, 180)
    outcomes = {}
    for rank, (root, run) in runs.items():
        code, log = run.proc.returncode, run.output()
        assert code != 0 and "GLOBAL_RANK: 1, MEMBER: 2/2" in log, log[-3000:]  # both workers had started
        if rank == 1:  # gloo notices the closed socket of the dead peer; seqzoo says what that means
            assert re.search(r"Connection (closed|reset) by peer", log), log[-3000:]
            assert "seqzoo fit: error: rank 0 lost contact with the other processes" in log, log[-3000:]
        else:
            assert code == 13, "the launcher's exit code is the dead worker's"
        assert_no_worker_left(root, rank)
        died = float(Path(str(root) + ".died").read_text())
        outcomes[f"rank {rank} dies at step 3"] = {
            "exit code": code,
            "seconds from the death to the job's exit": round(ended[rank] - died, 1),
            "seconds from the death until no worker was left": round(time.time() - died, 1),
        }
    FIGURES["ddp worker death"] = outcomes


DDP_STRATEGY = "lightning.pytorch.strategies.DDPStrategy"
IN_PROCESS_CLI = pytest.mark.filterwarnings(
    "ignore:LightningCLI's args parameter"
)  # pytest's argv is not ours


@pytest.mark.parametrize(
    ("extra", "seconds"),
    [
        ([], 300),  # seqzoo's default instead of torch's 30 minutes
        (["--ddp_timeout", "20"], 20),
        (["--config", "RECIPE_WITH_60"], 60),  # a recipe can set it
        (
            [
                "--ddp_timeout",
                "20",
                "--trainer.strategy",
                DDP_STRATEGY,
                "--trainer.strategy.timeout",
                "0:00:42",
            ],
            42,
        ),
    ],
)
@IN_PROCESS_CLI
def test_ddp_timeout_bounds_the_process_group_wait(tmp_path, extra, seconds):
    (tmp_path / "recipe.yaml").write_text("ddp_timeout: 60\n")
    extra = [str(tmp_path / "recipe.yaml") if arg == "RECIPE_WITH_60" else arg for arg in extra]
    args = [
        "--config",
        "recipes/synthetic/gru.yaml",
        "--trainer.accelerator",
        "cpu",
        "--trainer.devices",
        "2",
    ]
    cli = _lightning_cli([*args, *extra], run=False)  # builds the trainer without launching workers
    assert cli.trainer.strategy._timeout == timedelta(seconds=seconds)


@IN_PROCESS_CLI
def test_a_ddp_timeout_that_is_not_positive_is_refused():
    with pytest.raises(SeqzooError, match="ddp_timeout must be a positive number of seconds, got 0"):
        _lightning_cli(["--config", "recipes/synthetic/gru.yaml", "--ddp_timeout", "0"], run=False)


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc to find the workers")
def test_a_hung_ddp_worker_fails_the_job_within_ddp_timeout(tmp_path):
    """A worker that stays alive but stops at step 3. With `--ddp_timeout 10` the other fails with a
    one-line error about 10 s later and no process is left; torch's own default would wait 30 minutes.
    A hung rank 1 is killed by the failing launcher; a hung launcher by Lightning's watch on its child."""
    timeout = 10
    env = {
        rank: {
            "SEQZOO_TEST_PAUSE_AT_STEP": "3",
            "SEQZOO_TEST_PAUSE_RANK": str(rank),
            "SEQZOO_TEST_PAUSE_FILE": str(tmp_path / f"rank{rank}-hangs.paused"),
        }
        for rank in (0, 1)
    }
    runs = ddp_runs(tmp_path, "hangs", "PauseAtStep", env, "--ddp_timeout", str(timeout))
    ended = wait_for_ends(runs, 180)
    outcomes = {}
    for rank, (root, run) in runs.items():
        code, log = run.proc.returncode, run.output()
        other = 1 - rank
        assert f"seqzoo fit: error: rank {other} lost contact with the other processes" in log, log[-3000:]
        assert f"ddp_timeout={timeout} s" in log and "Traceback" not in log, log[-3000:]
        assert code == (2 if rank == 1 else -signal.SIGKILL), log[-3000:]
        assert_no_worker_left(root, rank)
        stalled = Path(str(root) + ".paused").stat().st_mtime
        waited = ended[rank] - stalled
        assert timeout - 1 < waited < timeout + 30, f"the job ended {waited:.1f} s after the stall"
        outcomes[f"rank {rank} hangs at step 3"] = {
            "exit code": code,
            "seconds from the stall to the job's exit": round(waited, 1),
        }
    FIGURES["ddp worker hang"] = {"ddp_timeout": timeout, **outcomes}


# -- (e) TBPTT under a recipe's gradient clipping ---------------------------------------------------------
def test_tbptt_clips_with_the_recipes_gradient_clip_val(tmp_path):
    """Every recipe sets trainer.gradient_clip_val, which Lightning refuses for TBPTT's manual optimizer
    steps. `seqzoo fit` hands it to the model instead: each step's gradient norm stays within it (the
    control run without clipping exceeds it), and a second, different tbptt_clip is a clear error."""
    clip = 0.01
    tbptt = ["--model.init_args.tbptt_steps", "5", "--trainer.max_epochs", "1"]
    probe = [*tbptt, "--trainer.limit_train_batches", "5", f"--trainer.callbacks+={CALLBACKS}.GradNormProbe"]
    runs = {
        name: Run(
            fit_args(tmp_path / name, *probe, "--trainer.gradient_clip_val", value),
            tmp_path / f"{name}.log",
            {"SEQZOO_TEST_GRAD_NORM_FILE": str(tmp_path / f"{name}.norm")},
        )
        for name, value in (("clipped", str(clip)), ("unclipped", "null"))
    }
    conflict = run_seqzoo(
        *fit_args(tmp_path / "conflict", *tbptt, "--model.init_args.tbptt_clip", "0.5"), check=False, env=ENV
    )
    for run in runs.values():
        run.succeed()
    largest = {name: float((tmp_path / f"{name}.norm").read_text()) for name in runs}
    assert largest["clipped"] <= clip * (1 + 1e-5) < largest["unclipped"], largest
    ckpt = torch.load(
        tmp_path / "clipped" / "gru.synthetic" / "v" / "checkpoints" / "last.ckpt", weights_only=True
    )
    assert ckpt["hyper_parameters"]["tbptt_clip"] == clip and ckpt["global_step"] == 5
    assert conflict.returncode == 2, conflict.stderr[-3000:]
    assert "tbptt_clip=0.5, which conflicts with the trainer's gradient_clip_val=1.0" in conflict.stderr
    FIGURES["tbptt with gradient_clip_val"] = {"clip": clip, "largest gradient norm": largest}


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip(reason="SIGKILL and /proc semantics are Linux's")
