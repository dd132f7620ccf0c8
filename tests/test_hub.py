"""The Hub path for real: a local olah server serves a git repository made from a bundled artifact over
the Hugging Face HTTP protocol, and `seqzoo.load` / `seqzoo download` fetch it through huggingface_hub
at tags, branches and commits, online and offline. Uploads are checked up to the HTTP call, because
no local server here implements the Hub's upload API (olah answers 405 to `create_repo`)."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

import seqzoo
from seqzoo.catalog import catalog
from seqzoo.cli import main
from seqzoo.data.synthetic import SeriesScaler
from seqzoo.errors import ArtifactError, UnknownNameError
from seqzoo.hub import copy_artifacts, prepare_upload, push
from seqzoo.tasks import ForecastingTask

from .conftest import run_seqzoo

REPO = "acme/gru-synth"
ENSEMBLE_REPO = "acme/synth-pair"  # an ensemble folder (ensemble.json + members/*) as one Hub repo
WINDOWS = np.random.default_rng(0).normal(size=(4, 10))
ARTIFACT = ["README.md", "config.json", "model.onnx", "model.safetensors", "recipe.yaml"]

# Loads each (repo, revision, local_files_only) in a fresh process, because huggingface_hub reads
# HF_ENDPOINT, HF_HUB_CACHE and HF_HUB_OFFLINE once, at import.
PROBE = """
import json, sys
import numpy as np
import seqzoo
windows = np.array(json.loads(sys.argv[1]))
results = []
for repo, revision, local_only in json.loads(sys.argv[2]):
    try:
        model = seqzoo.load(repo, revision=revision, local_files_only=local_only)
        results.append({"pred": model.predict(windows).tolist()})
    except seqzoo.SeqzooError as err:
        results.append({"error": type(err).__name__, "message": str(err)})
print("RESULTS " + json.dumps(results))
"""


@dataclass
class Hub:
    url: str
    env: dict[str, str]
    v1_sha: str
    main_sha: str
    bundled: np.ndarray
    perturbed: np.ndarray
    root: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _git(repo: Path, *args: str) -> str:
    ident = [
        "-c",
        "user.name=seqzoo tests",
        "-c",
        "user.email=tests@seqzoo.invalid",
        "-c",
        "commit.gpgsign=false",
    ]
    out = subprocess.run(["git", "-C", str(repo), *ident, *args], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def _make_mirror(mirrors: Path, root: Path) -> tuple[str, str, np.ndarray, np.ndarray]:
    """models/acme/gru-synth: commit 1 (tag v1) = the bundled gru.synthetic, commit 2 = perturbed weights."""
    repo = mirrors / "models" / REPO
    shutil.copytree(catalog()["gru.synthetic"].path, repo)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "gru.synthetic as bundled")
    _git(repo, "tag", "v1")
    model = seqzoo.load("gru.synthetic")
    bundled = model.predict(WINDOWS)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.05)
    perturbed = model.predict(WINDOWS)
    saved = model.save_pretrained(root / "perturbed")  # a separate folder: saving replaces the whole folder
    for file in saved.iterdir():
        shutil.copyfile(file, repo / file.name)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "perturbed weights")
    pair = seqzoo.ensemble(["gru.synthetic", "lstm.synthetic"]).save_pretrained(
        mirrors / "models" / ENSEMBLE_REPO
    )
    _git(pair, "init", "-q", "-b", "main")
    _git(pair, "add", ".")
    _git(pair, "commit", "-q", "-m", "gru + lstm")
    other = mirrors / "models" / "acme" / "not-seqzoo"  # a Hub repo that is no seqzoo artifact
    other.mkdir(parents=True)
    (other / "README.md").write_text("# not a seqzoo model\n")
    _git(other, "init", "-q", "-b", "main")
    _git(other, "add", ".")
    _git(other, "commit", "-q", "-m", "readme only")
    return _git(repo, "rev-parse", "v1"), _git(repo, "rev-parse", "main"), bundled, perturbed


def _wait_until_serving(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"olah exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/models/{REPO}/revision/main", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"olah did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Iterator[Hub]:
    """olah on 127.0.0.1 (offline mode: it never calls huggingface.co) serving ./mirrors as the Hub."""
    pytest.importorskip("olah", reason="olah is in the dev extra: pip install -e '.[dev]'")
    cli = Path(sys.executable).with_name("olah-cli")
    if not cli.is_file():
        cli = Path(shutil.which("olah-cli") or "olah-cli")
    root = tmp_path_factory.mktemp("hub")
    mirrors = root / "mirrors"
    v1_sha, main_sha, bundled, perturbed = _make_mirror(mirrors, root)
    port = _free_port()
    config = root / "olah.toml"
    config.write_text(
        "[basic]\n"
        f'host = "127.0.0.1"\nport = {port}\n'
        f"repos-path = {json.dumps(str(root / 'olah-cache'))}\n"
        f"mirrors-path = [{json.dumps(str(mirrors))}]\n"
        "[accessibility]\noffline = true\n"
    )
    log = root / "olah.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(cli), "--config", str(config), "--log-path", str(root / "olah-logs")],
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, proc, log)
        env = {
            "HF_ENDPOINT": url,
            "HF_HOME": str(root / "hf"),
            "HF_HUB_CACHE": str(root / "hf" / "hub"),
            "HF_HUB_OFFLINE": "0",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
        }
        yield Hub(url, env, v1_sha, main_sha, bundled, perturbed, root)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _probe(hub: Hub, requests: list[tuple[str, str | None, bool]], **env: str) -> list[dict]:
    workdir = hub.root / "workdir"  # no ./acme here, so "acme/..." can only mean the Hub
    workdir.mkdir(exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(WINDOWS.tolist()), json.dumps(requests)],
        cwd=workdir,
        env={**os.environ, **hub.env, **env},
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULTS ")]
    assert proc.returncode == 0 and lines, f"probe failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(lines[-1][len("RESULTS ") :])


@pytest.fixture(scope="module")
def fetched(hub: Hub) -> list[dict]:
    """One online process loading the repo at each revision (this fills the test's HF cache)."""
    return _probe(
        hub,
        [
            (REPO, "v1", False),
            (REPO, "main", False),
            (REPO, hub.v1_sha, False),
            (REPO, None, False),
            (REPO, "v2", False),
            ("acme/not-seqzoo", None, False),
            ("acme/missing", None, False),
            (ENSEMBLE_REPO, None, False),
        ],
    )


def pair_prediction() -> np.ndarray:
    return seqzoo.ensemble(["gru.synthetic", "lstm.synthetic"]).predict(WINDOWS)


def test_an_ensemble_repo_loads_by_repo_id(fetched):
    """Members, manifest and card travel as one repo; the loaded ensemble answers as the local one."""
    np.testing.assert_allclose(fetched[7]["pred"], pair_prediction(), rtol=1e-6)
    gru, lstm = seqzoo.load("gru.synthetic").predict(WINDOWS), seqzoo.load("lstm.synthetic").predict(WINDOWS)
    assert not np.allclose(fetched[7]["pred"], gru) and not np.allclose(fetched[7]["pred"], lstm)


def test_load_by_revision_returns_the_weights_of_that_commit(hub, fetched):
    assert not np.allclose(hub.bundled, hub.perturbed)  # the two commits really differ
    v1, main_, sha, default, *_ = fetched
    np.testing.assert_array_equal(v1["pred"], hub.bundled)  # tag v1 = the bundled checkpoint
    np.testing.assert_array_equal(sha["pred"], hub.bundled)  # its commit sha, the same
    np.testing.assert_array_equal(main_["pred"], hub.perturbed)  # the branch head = the re-saved model
    np.testing.assert_array_equal(default["pred"], hub.perturbed)  # no revision means main


def test_hub_errors_name_the_repo_the_revision_and_the_problem(fetched):
    no_revision, not_artifact, no_repo = fetched[4:7]
    assert no_revision["error"] == "ArtifactError"
    assert "'acme/gru-synth' at revision 'v2'" in no_revision["message"]
    assert "not found" in no_revision["message"]
    assert not_artifact["error"] == "ArtifactError"
    assert "'acme/not-seqzoo'" in not_artifact["message"]
    assert "not a seqzoo artifact" in not_artifact["message"] and "config.json" in not_artifact["message"]
    assert "'acme/missing' at revision 'main'" in no_repo["message"] and "not found" in no_repo["message"]


def test_offline_loads_come_from_the_cache_and_uncached_revisions_say_so(hub, fetched):
    dead = f"http://127.0.0.1:{_free_port()}"  # nothing listens: any network use would fail
    v1, head, uncached, uncached_local = _probe(
        hub,
        [(REPO, "v1", False), (REPO, hub.main_sha, False), (REPO, "v2", False), (REPO, "dev", True)],
        HF_HUB_OFFLINE="1",
        HF_ENDPOINT=dead,
    )
    np.testing.assert_array_equal(v1["pred"], hub.bundled)
    np.testing.assert_array_equal(head["pred"], hub.perturbed)
    assert uncached["error"] == "ArtifactError"
    message = uncached["message"]
    assert "'acme/gru-synth' at revision 'v2'" in message
    assert (
        "downloads are off (HF_HUB_OFFLINE=1)" in message and "not in the local Hugging Face cache" in message
    )
    assert (
        str(hub.root / "hf" / "hub") in message
        and "seqzoo download acme/gru-synth --revision v2 --to DIR" in message
    )
    assert "downloads are off (local_files_only=True)" in uncached_local["message"]
    assert "revision 'dev'" in uncached_local["message"]


def cached_file(cache: Path, repo_id: str, commit: str, name: str) -> Path:
    return cache / f"models--{repo_id.replace('/', '--')}" / "snapshots" / commit / name


def test_a_damaged_file_in_the_cache_is_fetched_again_or_named_offline(hub, fetched, tmp_path):
    """One flipped byte in the cached weights would change every answer, and a blob cut short would fail
    every load: each cached file is checked against the content address it is stored under."""
    cache = tmp_path / "hub-cache"
    shutil.copytree(hub.root / "hf" / "hub", cache, symlinks=True)
    blob = cached_file(cache, REPO, hub.main_sha, "model.safetensors").resolve()
    data = bytearray(blob.read_bytes())
    data[-3] ^= 0x01  # the last weight's bits: the file still loads, with other weights
    blob.write_bytes(bytes(data))
    dead = f"http://127.0.0.1:{_free_port()}"
    (offline,) = _probe(hub, [(REPO, hub.main_sha, False)], HF_HUB_CACHE=str(cache), HF_HUB_OFFLINE="1",
                        HF_ENDPOINT=dead)  # fmt: skip
    assert offline["error"] == "ArtifactError"
    assert "the cached ['model.safetensors'] do not match their content hashes" in offline["message"]
    (online,) = _probe(hub, [(REPO, hub.main_sha, False)], HF_HUB_CACHE=str(cache))
    np.testing.assert_array_equal(online["pred"], hub.perturbed)
    assert cached_file(cache, REPO, hub.main_sha, "model.safetensors").read_bytes() != bytes(data)


def test_an_offline_cache_holding_part_of_a_revision_says_so(hub, fetched, tmp_path):
    cache = tmp_path / "hub-cache"
    shutil.copytree(hub.root / "hf" / "hub", cache, symlinks=True)
    cached_file(cache, REPO, hub.main_sha, "model.safetensors").unlink()  # as if only config.json came
    shutil.rmtree(cache / "models--acme--gru-synth" / "trees")  # ... file by file, with no listing cached
    (partial,) = _probe(hub, [(REPO, hub.main_sha, False)], HF_HUB_CACHE=str(cache), HF_HUB_OFFLINE="1")
    assert "holds only part of this revision (no model.safetensors)" in partial["message"], partial


def test_a_connection_cut_mid_file_is_an_artifact_error_and_a_rerun_completes(hub, fetched, tmp_path):
    """A proxy in front of olah that ends the weights' body half way, then a healthy run on the same cache."""
    cut = _CuttingProxy(hub.url)
    cache = str(tmp_path / "hub-cache")
    try:
        (broken,) = _probe(hub, [(REPO, hub.v1_sha, False)], HF_HUB_CACHE=cache, HF_ENDPOINT=cut.url)
    finally:
        cut.close()
    assert broken["error"] == "ArtifactError", broken
    assert f"'{REPO}' at revision '{hub.v1_sha}'" in broken["message"] and "run it again" in broken["message"]
    (again,) = _probe(hub, [(REPO, hub.v1_sha, False)], HF_HUB_CACHE=cache)
    np.testing.assert_array_equal(again["pred"], hub.bundled)


def test_a_server_error_is_reported_as_one_not_as_an_unreachable_hub(hub, fetched, tmp_path):
    failing = _CuttingProxy(hub.url, fail=True)
    try:
        (answer,) = _probe(
            hub, [(REPO, hub.v1_sha, False)], HF_HUB_CACHE=str(tmp_path), HF_ENDPOINT=failing.url
        )
    finally:
        failing.close()
    assert answer["error"] == "ArtifactError", answer
    assert "answered with HTTP 500" in answer["message"] or "answered with an error" in answer["message"], (
        answer
    )
    assert "could not reach" not in answer["message"]


class _CuttingProxy:
    """Forwards every request to `upstream`, but sends only half of model.safetensors and hangs up, or
    (`fail=True`) answers 500 for it."""

    def __init__(self, upstream: str, fail: bool = False) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:  # noqa: N802
                self._forward(head=True)

            def do_GET(self) -> None:  # noqa: N802
                self._forward(head=False)

            def _forward(self, head: bool) -> None:
                if fail and self.path.endswith("model.safetensors"):
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {k: v for k, v in self.headers.items() if k != "Host"}
                request = urllib.request.Request(upstream + self.path, headers=headers, method=self.command)
                try:
                    answer = urllib.request.urlopen(request, timeout=30)
                except urllib.error.HTTPError as err:
                    answer = err
                body = b"" if head else answer.read()
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    if key.lower() not in ("transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.end_headers()
                if self.path.endswith("model.safetensors") and body:
                    body = body[: len(body) // 2]
                    self.close_connection = True
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_cli_download_copies_bundled_and_hub_artifacts_for_offline_use(hub, tmp_path):
    dest = tmp_path / "offline"
    proc = run_seqzoo("download", "gru.synthetic", REPO, "--revision", "v1", "--to", str(dest), env=hub.env)
    assert f"{REPO} (commit {hub.v1_sha}) -> {dest / REPO}" in proc.stdout
    zoo = catalog()["gru.synthetic"].path
    for folder in (dest / "gru.synthetic", dest / REPO):  # tag v1 is byte for byte the bundled folder
        assert sorted(p.name for p in folder.iterdir()) == ARTIFACT
        for name in ARTIFACT:
            assert (folder / name).read_bytes() == (zoo / name).read_bytes(), folder / name
    np.testing.assert_array_equal(seqzoo.load(dest / REPO).predict(WINDOWS), hub.bundled)


def test_cli_download_copies_an_ensemble_repo_with_its_members(hub, fetched, tmp_path):
    dest = tmp_path / "offline"
    proc = run_seqzoo("download", ENSEMBLE_REPO, "--to", str(dest), env=hub.env)
    assert f"{ENSEMBLE_REPO} (commit " in proc.stdout
    folder = dest / ENSEMBLE_REPO
    members = sorted(p.name for p in (folder / "members").iterdir())
    assert members == ["00-gru.synthetic", "01-lstm.synthetic"]
    member_files = sorted(p.name for p in (folder / "members" / members[0]).iterdir())
    assert member_files == [f for f in ARTIFACT if f != "model.onnx"]  # members: save_pretrained, no ONNX
    assert "# synth-pair" in (folder / "README.md").read_text()
    np.testing.assert_allclose(seqzoo.load(folder).predict(WINDOWS), pair_prediction(), rtol=1e-6)


def test_download_all_copies_every_bundled_checkpoint(tmp_path, capsys):
    dest = tmp_path / "zoo"
    assert main(["download", "--all", "--to", str(dest)]) == 0
    assert sorted(p.name for p in dest.iterdir()) == seqzoo.list_pretrained()
    for name in seqzoo.list_pretrained():
        source = catalog()[name].path
        copied = sorted(p.name for p in (dest / name).iterdir())
        assert copied == sorted(p.name for p in source.iterdir() if p.is_file())
        assert all((dest / name / f).read_bytes() == (source / f).read_bytes() for f in copied)
    assert f"gru.synthetic -> {dest / 'gru.synthetic'}" in capsys.readouterr().out


def test_download_refuses_what_it_cannot_do(tmp_path, capsys):
    assert main(["download", "--to", str(tmp_path)]) == 2
    assert "or --all" in capsys.readouterr().err
    assert main(["download", "gru.synthetc", "--to", str(tmp_path)]) == 2
    assert "Did you mean 'gru.synthetic'" in capsys.readouterr().err
    (tmp_path / "gru.synthetic").mkdir()
    (tmp_path / "gru.synthetic" / "notes.txt").write_text("mine")
    with pytest.raises(ArtifactError, match="refusing to replace .*gru.synthetic: .* holds notes.txt"):
        copy_artifacts(["gru.synthetic"], tmp_path)
    assert (tmp_path / "gru.synthetic" / "notes.txt").read_text() == "mine"


def test_a_local_folder_is_copied_by_its_folder_name_however_spelled_and_never_into_itself(
    tmp_path, monkeypatch
):
    """`runs/my-gru` looks like a Hub id `org/repo`: it went to `to/runs/my-gru` while `./runs/my-gru`
    went to `to/my-gru`, and a copy into the folder itself nested it there."""
    monkeypatch.chdir(tmp_path)
    seqzoo.load("gru.synthetic").save_pretrained(tmp_path / "runs" / "my-gru")
    copied = copy_artifacts(["runs/my-gru", "./runs/my-gru"], "out")
    assert [c.destination.resolve() for c in copied] == [(tmp_path / "out" / "my-gru").resolve()] * 2
    assert not (tmp_path / "out" / "runs").exists()
    with pytest.raises(ArtifactError, match="would write it into itself"):
        copy_artifacts(["runs/my-gru"], "runs/my-gru")
    with pytest.raises(ArtifactError, match="would write it into itself"):
        copy_artifacts(["runs/my-gru"], "runs")
    assert sorted(p.name for p in (tmp_path / "runs" / "my-gru").iterdir() if p.is_dir()) == []


def test_bundled_names_need_no_network_and_have_no_revisions(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise AssertionError("a bundled checkpoint tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    np.testing.assert_array_equal(
        seqzoo.load("gru.synthetic").predict(WINDOWS),
        seqzoo.load(catalog()["gru.synthetic"].path).predict(WINDOWS),
    )
    with pytest.raises(ArtifactError, match="bundled checkpoint: it has no revisions"):
        seqzoo.load("gru.synthetic", revision="v1")
    with pytest.raises(ArtifactError, match="a local folder has no revisions"):
        seqzoo.load(catalog()["gru.synthetic"].path, revision="v1")
    for bad in (1, b"v1", "", "  "):
        with pytest.raises(ArtifactError, match="revision must be a branch, tag or commit name"):
            seqzoo.load("acme/gru-synth", revision=bad)
    with pytest.raises(ArtifactError, match=r"revision='v1' applies to Hub repo ids, and none of \['gru"):
        copy_artifacts(["gru.synthetic"], tmp_path, revision="v1")  # `seqzoo download --revision`
    assert not any(tmp_path.iterdir())


def test_a_path_always_means_a_folder_even_one_named_like_a_bundled_checkpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    seqzoo.load("lstm.synthetic").save_pretrained("gru.synthetic")
    assert seqzoo.load(Path("gru.synthetic")).hparams.arch == "lstm"  # the folder here
    assert seqzoo.load("gru.synthetic").hparams.arch == "gru"  # a name is the bundled checkpoint
    shutil.rmtree("gru.synthetic")
    with pytest.raises(ArtifactError, match="no such folder; for the bundled checkpoint, give its name"):
        seqzoo.predictor(Path("gru.synthetic"))
    seqzoo.load("lstm.synthetic").save_pretrained("org/repo")  # a folder shaped like a Hub repo id
    with pytest.raises(ArtifactError, match="org/repo: a local folder has no revisions"):
        seqzoo.load(Path("org/repo"), revision="v1")  # as a Path, never the Hub
    with pytest.raises(UnknownNameError, match="unknown pretrained checkpoint, folder or Hub repo id ''"):
        seqzoo.load("")  # not the working folder
    Path("a-file").write_text("")
    with pytest.raises(ArtifactError, match="a-file is a file; give a folder"):
        copy_artifacts(["gru.synthetic"], "a-file")


@pytest.fixture
def artifact(tmp_path) -> Path:
    """A saved artifact with things beside it that must never be uploaded."""
    folder = seqzoo.load("gru.synthetic").save_pretrained(tmp_path / "my-gru", name="my-gru")
    (folder / "notes.txt").write_text("private")
    (folder / ".git").mkdir()
    return folder


def test_upload_plan_holds_only_the_artifact_files_and_names_the_version(artifact):
    plan = prepare_upload(artifact)
    assert plan.folder == artifact
    assert plan.files == ["config.json", "model.safetensors", "recipe.yaml", "README.md"]
    assert plan.skipped == [".git", "notes.txt"]
    assert plan.commit_message == f"Upload my-gru with seqzoo {seqzoo.__version__}"
    bundled = prepare_upload("gru.synthetic")
    assert bundled.folder == catalog()["gru.synthetic"].path
    assert bundled.commit_message == f"Upload gru.synthetic with seqzoo {seqzoo.__version__}"


def test_upload_plan_of_an_ensemble_holds_its_manifest_card_and_every_member(tmp_path):
    folder = seqzoo.ensemble(["gru.synthetic", "lstm.synthetic"]).save_pretrained(tmp_path / "pair")
    (folder / "notes.txt").write_text("private")
    plan = prepare_upload(folder)
    member = ["config.json", "model.safetensors", "recipe.yaml", "README.md"]
    assert plan.files == [
        "ensemble.json",
        "README.md",
        *(f"members/00-gru.synthetic/{f}" for f in member),
        *(f"members/01-lstm.synthetic/{f}" for f in member),
    ]
    assert plan.skipped == ["notes.txt"]
    assert plan.commit_message == f"Upload pair with seqzoo {seqzoo.__version__}"
    (folder / "members" / "01-lstm.synthetic" / "model.safetensors").write_bytes(b"changed")
    with pytest.raises(ArtifactError, match="does not match the manifest"):
        prepare_upload(folder)


def test_upload_plan_refuses_a_folder_that_would_not_load(artifact):
    (artifact / "README.md").unlink()
    with pytest.raises(ArtifactError, match="cannot publish without README.md"):
        prepare_upload(artifact)
    (artifact / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ArtifactError, match="model.safetensors: corrupt or truncated"):
        prepare_upload(artifact)


def test_cli_push_dry_run_shows_what_would_go_up(artifact, capsys):
    assert main(["push", str(artifact), "acme/my-gru", "--revision", "dev", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert (
        f"{artifact} -> acme/my-gru (revision dev): config.json, model.safetensors, recipe.yaml, README.md"
        in out
    )
    assert "not uploaded: .git, notes.txt" in out
    assert f"commit message: Upload my-gru with seqzoo {seqzoo.__version__}" in out


@pytest.fixture(scope="module")
def uploads(hub: Hub) -> Iterator[str]:
    """The Hub's upload API on 127.0.0.1, committing into the mirrors olah serves."""
    port = _free_port()
    server = Path(__file__).with_name("hub_upload_server.py")
    proc = subprocess.Popen(
        [sys.executable, str(server), str(port), str(hub.root / "mirrors")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "READY"
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def repo_files(hub: Hub, repo_id: str, revision: str = "main") -> list[str]:
    mirror = hub.root / "mirrors" / "models" / repo_id
    return sorted(_git(mirror, "ls-tree", "-r", "--name-only", revision).splitlines())


def test_a_push_replaces_every_file_of_the_last_one_and_loads_back_as_pushed(hub, uploads, tmp_path):
    """A model pushed over an ensemble, then a model without model.onnx over one with it: each load gives
    exactly what was pushed last, because the files an earlier push left are deleted in the same commit."""
    repo = "acme/pushed"
    pair = seqzoo.ensemble(["gru.synthetic", "lstm.synthetic"]).save_pretrained(tmp_path / "pair")
    url = push(pair, repo, endpoint=uploads, token="hf_test")
    assert url.startswith(f"{uploads}/{repo}/commit/")
    assert "ensemble.json" in repo_files(hub, repo)
    push("gru.synthetic", repo, endpoint=uploads, token="hf_test")  # the bundled folder has model.onnx
    assert repo_files(hub, repo) == [".gitattributes", *ARTIFACT]
    plain = ForecastingTask(arch="lstm", preprocessing=SeriesScaler(10, 0.0, 1.0).to_config())
    plain.push_to_hub(repo, endpoint=uploads, token="hf_test", name="plain-lstm")
    assert repo_files(hub, repo) == [".gitattributes", "README.md", "config.json", "model.safetensors"]
    plain.push_to_hub(repo, revision="dev", endpoint=uploads, token="hf_test")  # a new branch from main
    assert repo_files(hub, repo, "dev") == repo_files(hub, repo)
    (main_,) = _probe(hub, [(repo, None, False)])
    np.testing.assert_allclose(main_["pred"], plain.predict(WINDOWS), rtol=1e-6)


def test_push_refuses_a_repo_id_that_is_none(artifact):
    for bad in ("my-gru", "acme/../x", "acme/x/y", 123, None):
        with pytest.raises(ArtifactError, match="repo_id must be a Hub repo id 'org/name'"):
            push(artifact, bad, endpoint="http://127.0.0.1:9", token="hf_test")
    with pytest.raises(ArtifactError, match="repo_id must be a Hub repo id 'org/name', got 123"):
        seqzoo.load("gru.synthetic").push_to_hub(123)


def test_push_reaches_the_hub_api_and_reports_its_answer(hub, artifact):
    """olah implements no uploads: its 405 to create_repo shows push and push_to_hub really call the Hub."""
    with pytest.raises(ArtifactError) as err:
        push(artifact, "acme/new-gru", endpoint=hub.url, token="hf_test")
    assert "push" in str(err.value) and "'acme/new-gru' at revision 'main'" in str(err.value)
    assert "405 Method Not Allowed" in str(err.value) and hub.url in str(err.value)
    model = seqzoo.load("gru.synthetic")
    with pytest.raises(ArtifactError, match=r"'acme/new-gru' at revision 'dev'.*405 Method Not Allowed"):
        model.push_to_hub("acme/new-gru", revision="dev", endpoint=hub.url, token="hf_test")
