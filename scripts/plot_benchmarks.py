"""Draw the cost-growth figure of the benchmarks page from the JSON that `benchmarks/run.py` writes.

    python scripts/plot_benchmarks.py [--json docs/benchmarks.json] [--out docs/img]

`benchmark_cost_growth.png`: seconds per recipe epoch of gru, conv1d and conv1d_gru against the steps
a window has (left) and against the width (right), on log-log axes with linear and quadratic guides;
hollow markers: the same 240-step point with denormal floats flushed to zero.
A JSON without cost_growth rows (e.g. `--only serving`) is an error: exit status 2, saying so.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from figures import plt, save_png  # first: it picks the file-only backend
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = {"lookback": ("steps", "steps per window (lookback rows / 6)"), "width": ("width", "width")}


def cost_points(rows: list[dict], sweep: str) -> dict[str, list[tuple[float, float]]]:
    """arch -> sorted (x, seconds per epoch) of one sweep's cost_growth rows."""
    points: dict[str, list[tuple[float, float]]] = {}
    for row in rows:
        params = row.get("params") or {}
        if row["name"].startswith("cost_growth_") and params.get("sweep") == sweep:
            x = params["steps" if sweep == "flush_denormal" else SWEEPS[sweep][0]]
            points.setdefault(params["arch"], []).append((x, row["value"]))
    return {arch: sorted(p) for arch, p in points.items()}


def fixed(rows: list[dict], sweep: str) -> str:
    """What a sweep holds fixed, as measured: the width of the lookback sweep, the steps of the width one."""
    params = next(r["params"] for r in rows if (r.get("params") or {}).get("sweep") == sweep)
    return f"width {params['width']}" if sweep == "lookback" else f"{params['steps']} steps"


def plot_cost_growth(rows: list[dict], out: Path) -> Path:
    device = next(r["device"] for r in rows if r["name"].startswith("cost_growth_"))
    flushed = cost_points(rows, "flush_denormal")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, sweep in zip(axes, SWEEPS, strict=True):
        by_arch = cost_points(rows, sweep)
        for arch, xy in by_arch.items():
            (line,) = ax.plot(*zip(*xy, strict=True), marker="o", ms=4, lw=1.4, label=arch)
            if sweep == "lookback" and arch in flushed:
                x, y = zip(*flushed[arch], strict=True)
                ax.plot(x, y, ls="", marker="o", ms=7, mfc="none", color=line.get_color())
        x0, y0 = min(min(xy) for xy in by_arch.values())  # guides start at the cheapest first point
        x1 = max(x for xy in by_arch.values() for x, _ in xy)
        ax.plot([x0, x1], [y0, y0 * x1 / x0], color="grey", ls="--", lw=1, label="linear")
        if sweep == "width":
            ax.plot([x0, x1], [y0, y0 * (x1 / x0) ** 2], color="grey", ls=":", lw=1, label="quadratic")
        ax.set(xscale="log", yscale="log", xlabel=SWEEPS[sweep][1], ylabel="seconds per recipe epoch")
        ticks = sorted({x for xy in by_arch.values() for x, _ in xy})
        ax.set_xticks(ticks, [str(t) for t in ticks], minor=False)
        ax.set_xticks([], minor=True)
        ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # 20, not 2 x 10^1
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"Training cost against {sweep} ({fixed(rows, sweep)})", fontsize=11)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    note = "; hollow: denormals flushed to zero" if flushed else ""
    fig.suptitle(f"200 batches of 128 windows, forward + backward + AdamW; {device}{note}", fontsize=9)
    return save_png(fig, out / "benchmark_cost_growth.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--json", type=Path, default=ROOT / "docs" / "benchmarks.json", help="run.py's output"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="where the PNG goes")
    args = parser.parse_args(argv)
    rows = json.loads(args.json.read_text())["benchmarks"]
    if not any(r["name"].startswith("cost_growth_") for r in rows):
        print(
            f"{args.json} has no cost_growth rows; make them with "
            f"python benchmarks/run.py --only cost_growth --json {args.json}",
            file=sys.stderr,
        )
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"wrote {plot_cost_growth(rows, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
