"""Atomic artifact writes under SIGKILL: the folder is absent, the old model or the new one, never a mix.

A real process (tests/reliability_writer.py) saves two models alternately into one folder in a loop and
is SIGKILLed at random moments, 30 times with renameat2(RENAME_EXCHANGE) and 30 times on the fallback
path. After each kill, `seqzoo.load` of the folder must give exactly the old or the new model (weights,
config and recipe from the same model) or find no folder; stray `.art.tmp-*` / `.art.old-*` folders
may remain, but each either fails to load with an `ArtifactError` or is itself a complete model.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import seqzoo
from seqzoo.errors import ArtifactError

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "test-output" / "reliability_atomic.json"
KILLS = 30
WINDOWS = np.random.default_rng(0).normal(size=(8, 10))
FILES = ["README.md", "config.json", "model.safetensors", "recipe.yaml"]


class Writer:
    """The writer process: `go()` starts a child that writes in a loop, `kill()` SIGKILLs it."""

    def __init__(self, parent: Path, exchange: bool) -> None:
        args = [sys.executable, "-m", "tests.reliability_writer", str(parent)]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            args + ([] if exchange else ["--no-exchange"]),
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready, seconds = self.readline().split()
        assert ready == "ready"
        self.save_seconds = float(seconds)

    def readline(self) -> str:
        line = self.proc.stdout.readline().strip()
        if not line:
            raise AssertionError(f"the writer stopped (exit code {self.proc.poll()})")
        return line

    def go(self) -> int:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return int(self.readline().removeprefix("pid "))

    def kill(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)
        assert self.readline() == "dead SIGKILL", "the child died of something else than our SIGKILL"

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def identify(folder: Path, references: dict[str, np.ndarray]) -> str:
    """Which complete model `folder` holds; fails on a missing file or any mix of two models' files."""
    model = seqzoo.load(folder)
    prediction = model.predict(WINDOWS)
    same = [name for name, expected in references.items() if np.array_equal(prediction, expected)]
    assert len(same) == 1, f"{folder}: weights match neither the old nor the new model"
    name = same[0]
    assert sorted(p.name for p in folder.iterdir()) == FILES, sorted(folder.iterdir())
    assert json.loads((folder / "config.json").read_text())["name"] == name, "config of the other model"
    for file in ("recipe.yaml", "README.md"):
        reference = folder.parent / f"ref-{name}" / file
        assert (folder / file).read_text() == reference.read_text(), f"{file} of the other model"
    return name


def check_strays(parent: Path, references: dict[str, np.ndarray]) -> Counter:
    """Leftover temporary folders: refused by `seqzoo.load`, or one model's consistent files, possibly
    cut short (a writer killed while writing recipe.yaml or the card leaves a folder that loads)."""
    found: Counter = Counter()
    for stray in parent.glob(".art.*"):
        kind = "tmp" if ".tmp-" in stray.name else "old"
        try:
            model = seqzoo.load(stray)
        except ArtifactError:
            found[f".art.{kind}-*: partial, refused by seqzoo.load"] += 1
            continue
        prediction = model.predict(WINDOWS)
        same = [name for name, expected in references.items() if np.array_equal(prediction, expected)]
        assert len(same) == 1, f"{stray}: weights match neither model"
        name = same[0]
        assert json.loads((stray / "config.json").read_text())["name"] == name, f"{stray}: a mix"
        for file in ("recipe.yaml", "README.md"):
            if (stray / file).exists():
                reference = (parent / f"ref-{name}" / file).read_text()
                assert reference.startswith((stray / file).read_text()), f"{stray / file}: from another model"
        found[f".art.{kind}-*: loads as one model"] += 1
    return found


@pytest.fixture(scope="module")
def figures():
    results: dict = {}
    yield results
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(results, indent=2) + "\n")


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2-exchange", "fallback-renames"])
def test_sigkill_during_save_pretrained_never_leaves_a_mix(tmp_path, exchange, figures):
    writer = Writer(tmp_path, exchange)
    try:
        references = {name: seqzoo.load(tmp_path / f"ref-{name}").predict(WINDOWS) for name in ("old", "new")}
        assert not np.array_equal(references["old"], references["new"])
        rng = random.Random(9)
        dest = tmp_path / "art"
        outcomes: Counter = Counter()
        strays: Counter = Counter()
        for kill in range(KILLS):
            if kill % 6 == 0 and dest.exists():
                shutil.rmtree(dest)  # sometimes start from nothing: absent or complete, never partial
            existed = dest.exists()
            pid = writer.go()
            time.sleep(rng.uniform(0.0, 4 * writer.save_seconds))  # anywhere in the first few saves
            writer.kill(pid)
            if dest.exists():
                outcomes[identify(dest, references)] += 1
            else:
                outcomes["absent (it existed before)" if existed else "absent (it did not exist yet)"] += 1
            strays += check_strays(tmp_path, references)
        assert outcomes["old"] and outcomes["new"], f"the kills did not land across writes: {outcomes}"
        if exchange:  # one renameat2 call: an existing artifact is never missing, not even for an instant
            assert not outcomes["absent (it existed before)"], outcomes
    finally:
        writer.close()
    # Whatever the kills left behind, the next save replaces the folder cleanly, loads, and removes
    # the temporary folders of the dead writers.
    seqzoo.load(tmp_path / "ref-new").save_pretrained(dest, name="new")
    assert identify(dest, references) == "new"
    assert not list(tmp_path.glob(".art.*")), list(tmp_path.glob(".art.*"))
    figures["renameat2 exchange" if exchange else "fallback (two renames)"] = {
        "kills": KILLS,
        "seconds per save": writer.save_seconds,
        "outcomes": dict(outcomes),
        "stray folders seen after kills (cumulative)": dict(strays),
    }


def test_a_live_writers_folder_and_another_hosts_are_never_swept(tmp_path):
    from seqzoo.data.synthetic import SeriesScaler
    from seqzoo.fsutil import _owner_tag
    from seqzoo.tasks import ForecastingTask

    host, pid = _owner_tag().rsplit("-", 1)
    live = tmp_path / f".art.tmp-{host}-{pid}-abc"  # this very process: alive
    other_host = tmp_path / ".art.tmp-elsewhere-1-abc"
    dead = tmp_path / f".art.tmp-{host}-{2**22 + 12345}-abc"  # above Linux's default pid_max: no such process
    for folder in (live, other_host, dead):
        folder.mkdir()
        (folder / "config.json").write_text("{")
    ForecastingTask(arch="gru", preprocessing=SeriesScaler(10, 0.0, 1.0).to_config()).save_pretrained(
        tmp_path / "art"
    )
    assert live.exists() and other_host.exists() and not dead.exists()
