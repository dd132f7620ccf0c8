"""The built site as a reader sees it: headless Chromium on a real local HTTP server.

Builds the site itself (`mkdocs build --strict` into a temp dir), so `make test` checks the docs too;
skips, saying why, when the docs extra, Playwright or Debian's chromium is not installed.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest

import seqzoo

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = ROOT / "test-output" / "zoo.png"
# The network here is closed: no QUIC, no background fetches, no component updates, a fresh profile.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _skip(reason: str) -> None:
    print(f"SKIP: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    if importlib.util.find_spec("mkdocs") is None:
        _skip("mkdocs is not installed: pip install -e '.[docs]' to build and check the site")
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, (
        f"mkdocs build --strict failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return out


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="module")
def base_url(site):
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMIUM.is_file():
        _skip(f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver")
    if importlib.util.find_spec("playwright") is None:
        _skip("playwright is not installed: pip install -e '.[dev]'")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # a new, empty --user-data-dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        yield context
        context.close()


@pytest.fixture
def page(base_url, browser):
    """A fresh tab that records script errors and every request that leaves 127.0.0.1."""
    tab = browser.new_page()
    tab.errors, tab.outside = [], []
    tab.on("pageerror", lambda err: tab.errors.append(str(err)))
    tab.on(
        "request", lambda r: urlparse(r.url).hostname not in ("127.0.0.1", None) and tab.outside.append(r.url)
    )
    yield tab
    assert not tab.errors, f"JavaScript errors on the page: {tab.errors}"
    assert not tab.outside, f"the site asked for outside resources (it must work offline): {tab.outside}"
    tab.close()


def test_site_builds_strictly_with_the_zoo_and_its_recipes(site):
    """Needs only mkdocs, so the build is checked even where no browser can be had."""
    zoo = (site / "zoo" / "index.html").read_text()
    for name in seqzoo.list_pretrained():
        assert f"<code>{name}</code>" in zoo
    assert (site / "recipes" / "synthetic" / "gru.yaml").is_file()
    assert (site / "img" / "synthetic_training.png").is_file()


def test_home_page_renders_with_the_quickstart(page, base_url):
    page.goto(f"{base_url}/")
    assert "seqzoo" in page.title()
    assert page.locator("article h1").inner_text().strip().startswith("seqzoo")
    code = page.locator("article pre").all_inner_texts()
    assert any('seqzoo.load("gru.synthetic")' in c and ".predict(" in c for c in code), code
    tabs = page.locator(".md-tabs").inner_text()
    for section in ("Get started", "Model zoo", "Tutorials", "Guides", "Reference"):
        assert section in tabs
    assert "Installation" in page.locator("nav.md-nav--primary").inner_text()


def test_zoo_page_lists_every_catalogue_entry(page, base_url):
    page.goto(f"{base_url}/zoo/")
    table = page.locator("article table").first
    names = [n.strip() for n in table.locator("tbody tr td:first-child").all_inner_texts()]
    assert sorted(names) == seqzoo.list_pretrained()
    headers = [h.strip().lower() for h in table.locator("thead th").all_inner_texts()]
    assert headers[:4] == ["name", "task", "architecture", "parameters"] and headers[-1] == "recipe"
    for link in table.locator("tbody a").all():  # every recipe link serves the YAML
        response = page.request.get(link.evaluate("a => a.href"))
        assert response.ok and "class_path" in response.text(), link.get_attribute("href")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000


def test_search_finds_gru(page, base_url):
    from playwright.sync_api import expect

    page.goto(f"{base_url}/")
    meta = page.locator(".md-search-result__meta")
    expect(meta).to_have_text("Type to start searching", timeout=20_000)  # the index has loaded
    page.locator("input.md-search__input").press_sequentially("GRU", delay=50)  # as a person types
    expect(meta).to_contain_text("matching document", timeout=20_000)
    texts = page.locator(".md-search-result__item").all_inner_texts()
    assert any("gru" in t.lower() for t in texts), texts


def test_tutorial_figures_load_and_api_reference_is_generated(page, base_url):
    page.goto(f"{base_url}/tutorials/synthetic/")
    images = page.locator("article img")
    assert images.count() == 2
    for i in range(images.count()):
        assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 500")
    page.goto(f"{base_url}/reference/api/")
    text = page.locator("article").inner_text()
    for name in (
        "seqzoo.load",
        "seqzoo.list_pretrained",
        "UnknownNameError",
        "ForecastingTask",
        "save_pretrained",
    ):
        assert name in text
