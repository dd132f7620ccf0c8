"""mkdocs hooks (see `hooks:` in mkdocs.yml): the model zoo table is generated from the catalogue at
build time, so the site can never drift from `seqzoo list`.

The recipes are copied into the site too, so each row's recipe link resolves even without `repo_url`;
with `repo_url` set in mkdocs.yml the links point at the file on the repository instead.
"""

from __future__ import annotations

import logging
import posixpath
import re
from pathlib import Path

from seqzoo.catalog import catalog, list_pretrained

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- seqzoo:zoo-table -->"
METRICS_MARKER = re.compile(r"<!-- seqzoo:metrics-table (\S+) ([^>]+?) -->")  # PATTERN METRIC...
COLUMNS = ("name", "task", "architecture", "parameters", "artifact size", "test metric", "naive baseline")
log = logging.getLogger("mkdocs.plugins.seqzoo")  # mkdocs --strict fails on its warnings


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1024:.1f} KiB" if n_bytes < 1024**2 else f"{n_bytes / 1024**2:.1f} MiB"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def recipe_link(recipe: str | None, page_dir: str = "", repo_url: str | None = None) -> str:
    """A link to the recipe on the repository, or to the copy in the site, relative to the page."""
    if not recipe:
        return "—"
    if not (ROOT / recipe).is_file():
        log.warning(f"zoo table: recipe {recipe} named by the catalogue does not exist")
    if repo_url:
        return f"[`{recipe}`]({repo_url.rstrip('/')}/blob/main/{recipe})"
    return f"[`{recipe}`]({posixpath.relpath(recipe, page_dir or '.')})"


def zoo_table(page_dir: str = "", repo_url: str | None = None) -> str:
    """The catalogue as a Markdown table, one row per `CatalogEntry.row()`, sorted by name."""
    lines = [f"| {' | '.join((*COLUMNS, 'recipe'))} |", "|" + " --- |" * (len(COLUMNS) + 1)]
    for name in sorted(catalog()):
        r = catalog()[name].row()
        cells = (
            f"`{r['name']}`",
            r["task"],
            f"`{r['architecture']}`",
            f"{r['params']:,}",
            _size(r["artifact_bytes"]),
            f"{_number(r['value'])} ({r['metric']})",
            _number(r["naive"]),
            recipe_link(r["recipe"], page_dir, repo_url),
        )
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def on_pre_build(config):
    """`mkdocs serve` rebuilds in one process: re-read the zoo folders each time."""
    catalog.cache_clear()


def on_files(files, config):
    """Serve every recipe YAML at `recipes/...` in the site, next to the pages that link to it."""
    from mkdocs.structure.files import File

    for path in sorted((ROOT / "recipes").rglob("*.yaml")):
        files.append(File.generated(config, path.relative_to(ROOT).as_posix(), abs_src_path=str(path)))
    return files


def _value(entry, key: str) -> str:
    """A table cell: a test metric, a validation metric (`val_*`), or a derived fact."""
    if key == "gain":
        gain = entry.gain_percent
        return "—" if gain is None else f"{gain:.1f} %"
    if key == "train_time":
        seconds = entry.training.get("seconds")
        return "—" if seconds is None else f"{seconds / 60:.1f} min"
    if key == "size":
        return _size(entry.artifact_bytes)
    source = entry.training.get("validation", {}) if key.startswith("val_") else entry.metrics
    return _number(source.get(key))


def metrics_table(pattern: str, columns: list[str]) -> str:
    """Chosen metrics of the catalogue entries matching `pattern`, for a tutorial's results table."""
    names = list_pretrained(pattern)
    if not names:
        log.warning(f"metrics table: no catalogue entry matches {pattern!r}")
    lines = [f"| model | parameters | {' | '.join(columns)} |", "|" + " --- |" * (len(columns) + 2)]
    for name in names:
        entry = catalog()[name]
        values = [_value(entry, c) for c in columns]
        lines.append(f"| `{name}` | {entry.num_parameters:,} | {' | '.join(values)} |")
    return "\n".join(lines)


def on_page_markdown(markdown, page, config, files):
    markdown = METRICS_MARKER.sub(lambda m: metrics_table(m[1], m[2].split()), markdown)
    if MARKER not in markdown:
        return markdown
    page_dir = posixpath.dirname(page.file.src_uri)
    table = zoo_table(page_dir, config.get("repo_url"))
    return markdown.replace(MARKER, f'<div class="seqzoo-zoo" markdown>\n\n{table}\n\n</div>')
