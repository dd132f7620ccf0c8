"""What the figure scripts share: headless matplotlib, and PNG files with the same bytes on every rerun."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no screen needed
import matplotlib.pyplot as plt  # noqa: E402

PNG = {"dpi": 110, "metadata": {"Software": None}}  # no version stamp: reruns give the same bytes


def save_png(fig: plt.Figure, path: Path) -> Path:
    """Lay the figure out, write it to `path` and free it."""
    fig.tight_layout()
    fig.savefig(path, **PNG)
    plt.close(fig)
    return path
