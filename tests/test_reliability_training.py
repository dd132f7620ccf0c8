"""Training through the real `seqzoo fit`: reproducible, resumable after SIGKILL, loud about NaN, and a
dead DDP worker ends the job instead of hanging it.

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
from pathlib import Path
from typing import Any

import pytest
import torch

from .conftest import ROOT, SEQZOO, run_seqzoo

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
    budget = ["--trainer.max_epochs", "3", "--trainer.limit_train_batches", "10"]
    rng = f"--trainer.callbacks+={CALLBACKS}.RestoreRngState"
    whole = Run(fit_args(tmp_path / "whole", *budget, rng), tmp_path / "whole.log")
    paused = tmp_path / "paused"
    killed_args = fit_args(tmp_path / "killed", *budget, rng)
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
    os.kill(victim.proc.pid, signal.SIGKILL)
    assert victim.wait(60) == -signal.SIGKILL
    assert checkpoint(tmp_path / "killed")["global_step"] == 20  # the kill did not damage it

    resumed = Run([*killed_args, "--ckpt_path", "last"], tmp_path / "resumed.log")
    resumed.succeed()
    whole.succeed()
    assert "Restored all states from the checkpoint" in resumed.output()
    a, b = checkpoint(tmp_path / "whole"), checkpoint(tmp_path / "killed")
    assert (a["epoch"], a["global_step"]) == (b["epoch"], b["global_step"]) == (2, 30)
    assert_bit_identical(a, b)
    for state_a, state_b in zip(a["optimizer_states"], b["optimizer_states"], strict=True):
        for key, value in state_a["state"].items():
            assert all(torch.equal(value[n], state_b["state"][key][n]) for n in value), "optimizer state"
    FIGURES["resume"] = {
        "killed at": "epoch 3 of 3, step 25 of 30",
        "resumed from": "step 20",
        "bit_identical": True,
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
    for ckpt in tmp_path.rglob("*.ckpt"):  # whatever was saved before the blow-up is still finite
        state = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
        assert all(torch.isfinite(t).all() for t in state.values()), ckpt
    FIGURES["non-finite loss"] = {
        "lr": 1e30,
        "stopped at global step": int(found.group(2)),
        "loss": found.group(1),
    }


def test_export_refuses_a_checkpoint_with_nan_weights(twin_runs, tmp_path):
    ckpt = checkpoint(twin_runs[0])
    ckpt["state_dict"]["net.head.bias"] = torch.full_like(ckpt["state_dict"]["net.head.bias"], float("nan"))
    torch.save(ckpt, tmp_path / "nan.ckpt")
    proc = run_seqzoo("export", str(tmp_path / "nan.ckpt"), str(tmp_path / "out"), check=False, env=ENV)
    assert proc.returncode == 2, proc.stderr
    assert "refusing to save non-finite weights in ['net.head.bias']" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()


# -- (d) a DDP worker that dies ends the job -------------------------------------------------------------
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


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc to find the workers")
def test_a_dead_ddp_worker_ends_the_job_instead_of_hanging(tmp_path):
    runs = {}
    for rank in (1, 0):  # a worker dies; or the launching rank 0 itself, orphaning rank 1
        root = tmp_path / f"rank{rank}-dies"
        args = fit_args(
            root,
            *("--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp"),
            *("--trainer.max_epochs", "1", "--trainer.limit_train_batches", "20"),
            f"--trainer.callbacks+={CALLBACKS}.DieOnRank",
        )
        env = {"SEQZOO_TEST_DIE_RANK": str(rank), "SEQZOO_TEST_DIE_AT_STEP": "3"}
        runs[rank] = (
            root,
            Run(args, tmp_path / f"rank{rank}.log", {**env, "SEQZOO_TEST_DIE_FILE": str(root) + ".died"}),
        )
    ended, deadline = {}, time.monotonic() + 180
    while len(ended) < len(runs):
        assert time.monotonic() < deadline, "a DDP job with a dead worker is still running after 180 s"
        for rank, (_, run) in runs.items():
            if rank not in ended and run.proc.poll() is not None:
                ended[rank] = time.time()
        time.sleep(0.2)
    outcomes = {}
    for rank, (root, run) in runs.items():
        code, log = run.proc.returncode, run.output()
        assert code != 0 and "GLOBAL_RANK: 1, MEMBER: 2/2" in log, log[-3000:]  # both workers had started
        if rank == 1:  # gloo notices the closed socket of the dead peer
            assert re.search(r"Connection (closed|reset) by peer", log), log[-3000:]
        else:
            assert code == 13, "the launcher's exit code is the dead worker's"
        gone_by = time.monotonic() + 60
        while (left := processes_mentioning(str(root))) and time.monotonic() < gone_by:
            time.sleep(0.5)
        for pid in left:  # clean up before failing
            os.kill(pid, signal.SIGKILL)
        assert not left, f"workers of the rank-{rank} run still alive a minute after it ended"
        died = float(Path(str(root) + ".died").read_text())
        outcomes[f"rank {rank} dies at step 3"] = {
            "exit code": code,
            "seconds from the death to the job's exit": round(ended[rank] - died, 1),
            "seconds from the death until no worker was left": round(time.time() - died, 1),
        }
    FIGURES["ddp worker death"] = outcomes


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip(reason="SIGKILL and /proc semantics are Linux's")
