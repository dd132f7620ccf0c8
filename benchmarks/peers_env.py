"""The peer tools' own virtual environment (Keras 3 on TensorFlow's CPU build, and Darts), created on demand
beside the benchmarks: TensorFlow stays out of seqzoo's environment, and each tool gets its usual install."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

VENV = Path(__file__).resolve().parent / ".peers-venv"
# torch first and pinned: its CPU build installs from a local wheel in seconds, where darts' plain `torch`
# requirement would pull several GB of CUDA packages. The rest are the newest on PyPI when this was written.
STEPS = [["torch==2.13.0"], ["tensorflow-cpu==2.21.0", "keras==3.15.1", "darts[torch]==0.48.1"]]
DONE = VENV / "seqzoo-peers.txt"  # written last, so a half-finished install is started again


def peer_python() -> Path:
    """The environment's interpreter, installing it first when missing or incomplete (several minutes)."""
    wanted = "\n".join(" ".join(step) for step in STEPS)
    python = VENV / "bin" / "python"
    if DONE.is_file() and DONE.read_text() == wanted and python.is_file():
        return python
    start = time.perf_counter()
    print(f"peers: creating {VENV} (Keras, TensorFlow CPU, Darts: several minutes, once)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    for step in STEPS:
        print(f"peers: pip install {' '.join(step)}", flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "--progress-bar", "off", *step], check=True)
    DONE.write_text(wanted)
    print(f"peers: environment ready in {time.perf_counter() - start:.0f} s", flush=True)
    return python
