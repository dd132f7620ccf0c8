"""What the figure scripts share: headless matplotlib, PNG files with the same bytes on every rerun, and
the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no screen needed
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PNG = {"dpi": 110, "metadata": {"Software": None}}  # no version stamp: reruns give the same bytes


def save_png(fig: plt.Figure, path: Path) -> Path:
    """Lay the figure out, write it to `path` and free it."""
    fig.tight_layout()
    fig.savefig(path, **PNG)
    plt.close(fig)
    return path


def figure_arguments(doc: str, data: bool = False) -> argparse.Namespace:
    """The figure scripts' command line: `--out` (docs/img), and `--data` (../shared/data) for the
    scripts that read the real data files."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    if data:
        parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    return parser.parse_args()
