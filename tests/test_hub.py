"""The Hub path for real: a local olah server serves a git repository made from a bundled artifact over
the Hugging Face HTTP protocol, and `seqzoo.load` / `seqzoo download` fetch it through huggingface_hub
at tags, branches and commits, online and offline. Uploads are checked up to the HTTP call, because
no local server here implements the Hub's upload API (olah answers 405 to `create_repo`)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
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
from seqzoo.errors import ArtifactError, UnknownNameError
from seqzoo.hub import copy_artifacts, prepare_upload, push

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
    assert str(hub.root / "hf" / "hub") in message and "seqzoo download acme/gru-synth --to DIR" in message
    assert "downloads are off (local_files_only=True)" in uncached_local["message"]
    assert "revision 'dev'" in uncached_local["message"]


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


def test_push_reaches_the_hub_api_and_reports_its_answer(hub, artifact):
    """olah implements no uploads: its 405 to create_repo shows push and push_to_hub really call the Hub."""
    with pytest.raises(ArtifactError) as err:
        push(artifact, "acme/new-gru", endpoint=hub.url, token="hf_test")
    assert "push" in str(err.value) and "'acme/new-gru' at revision 'main'" in str(err.value)
    assert "405 Method Not Allowed" in str(err.value) and hub.url in str(err.value)
    model = seqzoo.load("gru.synthetic")
    with pytest.raises(ArtifactError, match=r"'acme/new-gru' at revision 'dev'.*405 Method Not Allowed"):
        model.push_to_hub("acme/new-gru", revision="dev", endpoint=hub.url, token="hf_test")
