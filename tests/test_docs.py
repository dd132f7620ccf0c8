"""The documentation tells the truth: every Python snippet on the site runs, the zoo table is the
catalogue, and the tutorial's figure script says what it needs."""

from __future__ import annotations

import importlib.util
import re
import sys
import textwrap
from pathlib import Path

import pytest

import seqzoo
from seqzoo.catalog import catalog

from .conftest import require_shared_data

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# A fenced ```python block, possibly indented (inside a list or an admonition); group 2 is its body.
FENCE = re.compile(r"^([ \t]*)```python[^\n]*\n(.*?)^\1```[ \t]*$", re.MULTILINE | re.DOTALL)


def python_blocks(page: Path) -> list[tuple[int, str]]:
    """(line number, dedented code) of every ```python block of a Markdown page, in order."""
    text = page.read_text()
    return [(text.count("\n", 0, m.start()) + 2, textwrap.dedent(m.group(2))) for m in FENCE.finditer(text)]


PAGES = sorted(p for p in DOCS.rglob("*.md") if python_blocks(p))


def _load_script(name: str):
    if str(ROOT / "scripts") not in sys.path:  # as when run: the scripts import their shared figures.py
        sys.path.insert(0, str(ROOT / "scripts"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_pages_with_snippets_are_found():
    found = {p.relative_to(DOCS).as_posix() for p in PAGES}
    assert {"index.md", "tutorials/synthetic.md", "guides/artifact.md"} <= found, found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_python_snippets_run(page, monkeypatch):
    """A page's blocks run in order in one namespace, as a reader pastes them, from the repo root."""
    monkeypatch.chdir(ROOT)
    if "../shared/data" in page.read_text():
        require_shared_data()  # the page reads the real data files; a fresh clone has none
    namespace: dict = {"__name__": "__docs__"}
    for line, code in python_blocks(page):
        where = f"{page.relative_to(ROOT)}:{line}"
        try:
            exec(compile(code, where, "exec"), namespace)
        except Exception as err:
            raise AssertionError(f"the snippet at {where} fails: {type(err).__name__}: {err}") from err


def test_code_lines_fit_the_page_without_scrolling():
    """The content column shows about 78 monospace characters at 1280 px; longer lines hide their end."""
    too_long = []
    for page in sorted(DOCS.rglob("*.md")):
        inside = False
        for number, line in enumerate(page.read_text().splitlines(), 1):
            if line.lstrip().startswith("```"):
                inside = not inside
            elif inside and len(line) > 76:
                too_long.append(f"{page.relative_to(ROOT)}:{number}: {len(line)} characters")
    assert not too_long, "\n".join(too_long)


def test_fence_parser_reads_indented_blocks_and_ignores_other_languages(tmp_path):
    text = "x\n```python\na = 1\n```\n```bash\nls\n```\n- item\n\n    ```python\n    b = 2\n    ```\n"
    page = tmp_path / "fence.md"
    page.write_text(text)
    assert python_blocks(page) == [(3, "a = 1\n"), (11, "b = 2\n")]


def test_zoo_table_has_one_row_per_catalogue_entry_with_its_numbers():
    table = _load_script("docs_hooks").zoo_table()
    rows = [line for line in table.splitlines()[2:] if line.startswith("| `")]
    assert len(rows) == len(seqzoo.list_pretrained())
    header = table.splitlines()[0]
    for column in ("name", "task", "architecture", "parameters", "artifact size", "test metric", "naive"):
        assert column in header
    assert header.endswith("| recipe |")
    for name, row in zip(seqzoo.list_pretrained(), rows, strict=True):
        entry = catalog()[name]
        start = f"| `{name}` | {entry.task} | `{entry.architecture}` | {entry.num_parameters:,} |"
        assert row.startswith(start), row
        assert f"{entry.metric:.4f}" in row
        if entry.naive is not None:
            assert f"{entry.naive:.4f}" in row
        assert entry.recipe and (ROOT / entry.recipe).is_file()
        assert f"]({entry.recipe})" in row  # relative link to the copy served with the site


def test_zoo_table_links_the_repository_when_it_is_configured():
    hooks = _load_script("docs_hooks")
    table = hooks.zoo_table("reference", repo_url="https://example.org/seqzoo/")
    assert "](https://example.org/seqzoo/blob/main/recipes/synthetic/gru.yaml)" in table
    assert "](../recipes/synthetic/gru.yaml)" in hooks.zoo_table("reference")


def test_plot_script_draws_predictions_and_names_missing_training_logs(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="matplotlib is in the docs extra: pip install -e '.[docs]'")
    none = str(tmp_path / "none")
    code = _load_script("plot_synthetic").main(["--curves", none, "--runs", none, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert (tmp_path / "synthetic_predictions.png").stat().st_size > 10_000
    assert not (tmp_path / "synthetic_training.png").exists()
    for name in seqzoo.list_pretrained("*.synthetic"):
        assert f"{name}/zoo/metrics.csv" in err
        assert f"python scripts/build_zoo.py {catalog()[name].recipe}" in err


@pytest.mark.parametrize("tutorial", sorted((DOCS / "tutorials").glob("*.md")), ids=lambda p: p.stem)
def test_every_tutorial_shows_figures_that_exist(tutorial):
    shown = re.findall(r"\]\(\.\./img/([\w.-]+\.png)\)", tutorial.read_text())
    assert shown, f"{tutorial.name} shows no figure"
    for png in shown:
        assert (DOCS / "img" / png).stat().st_size > 10_000, png


def test_every_figure_is_shown_on_a_page():
    pages = "".join(p.read_text() for p in DOCS.rglob("*.md"))
    unshown = [png.name for png in (DOCS / "img").glob("*.png") if f"img/{png.name})" not in pages]
    assert not unshown, f"figures no page shows: {unshown}"
