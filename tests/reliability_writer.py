"""A writer for tests/test_reliability_atomic.py: forks children that `save_pretrained` in a loop.

Run as `python -m tests.reliability_writer DEST_PARENT [--no-exchange]` from the repository root. It
writes two complete reference artifacts (`ref-old/`, `ref-new/`) and prints `ready` with the seconds
one save takes. Then, for every `go` line on stdin, it forks a child that saves the old and the new
model alternately into `DEST_PARENT/art` forever, prints `pid N`, waits for the child to die and
prints `dead SIGNAL`. The test kills the child.
Importing torch once and forking keeps 30 kills at a fraction of a second each instead of seconds.
`--no-exchange` makes `atomic_folder` take its fallback path (two renames), as on a system without
renameat2(RENAME_EXCHANGE).
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from pathlib import Path

import torch

import seqzoo.fsutil
from seqzoo.data.synthetic import SeriesScaler
from seqzoo.tasks import ForecastingTask


def model(seed: int, name: str) -> ForecastingTask:
    torch.manual_seed(seed)
    task = ForecastingTask(
        arch="gru", arch_kwargs={"hidden_size": 16}, preprocessing=SeriesScaler(10, 0.0, 1.0).to_config()
    )
    task.recipe = f"# the {name} model\nseed_everything: {seed}\n"
    return task


def write_forever(dest: Path, models: list[tuple[str, ForecastingTask]]) -> None:
    count = 0
    while True:
        name, task = models[count % 2]
        task.save_pretrained(dest, name=name)
        count += 1


def main() -> None:
    parent = Path(sys.argv[1])
    if "--no-exchange" in sys.argv:
        seqzoo.fsutil._exchange = lambda a, b: False  # as if renameat2 were missing
    torch.set_num_threads(1)  # no thread pool alive when forking
    models = [("old", model(1, "old")), ("new", model(2, "new"))]
    started = time.perf_counter()
    for _ in range(3):
        for name, task in models:
            task.save_pretrained(parent / f"ref-{name}", name=name)
    print(f"ready {(time.perf_counter() - started) / 6:.4f}", flush=True)  # seconds per save
    for line in sys.stdin:
        if line.strip() != "go":
            continue
        pid = os.fork()
        if pid == 0:  # the child: write until killed
            try:
                write_forever(parent / "art", models)
            except BaseException:
                traceback.print_exc()
            os._exit(1)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        died = os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status)
        print(f"dead {signal.Signals(died).name if died > 0 else died}", flush=True)


if __name__ == "__main__":
    main()
