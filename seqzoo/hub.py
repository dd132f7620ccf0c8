"""The Hugging Face Hub side of the zoo: resolve names for `seqzoo.load`, download repos at a revision,
copy artifacts for machines without network, and publish an artifact folder as a Hub repo.

Everything network-related goes through `huggingface_hub`, so its cache, `HF_ENDPOINT`, `HF_TOKEN`,
`HF_HUB_OFFLINE`, `local_files_only` and resumed downloads behave as in any other Hub library.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from seqzoo.catalog import catalog, list_pretrained, pretrained_path
from seqzoo.errors import ArtifactError, UnknownNameError
from seqzoo.fsutil import atomic_folder, check_replaceable, destination_folder
from seqzoo.hub_cache import damaged_files, forget

# The only files of a published artifact; anything else in a folder stays on the machine.
# model.onnx is optional: the network for ONNX Runtime serving (seqzoo.onnx_serving).
ARTIFACT_FILES = [
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "recipe.yaml",
    "README.md",
    "model.onnx",
]
REQUIRED_FILES = ["config.json", "model.safetensors", "README.md"]
# An ensemble folder (seqzoo.ensembles): its manifest and card, and one artifact folder per member.
ENSEMBLE_MANIFEST = "ensemble.json"  # a folder holding it is an ensemble, not a model
ENSEMBLE_FILES = [ENSEMBLE_MANIFEST, "README.md"]
ENSEMBLE_MEMBERS = "members"  # the folder of the members' artifact folders
ENSEMBLE_PATTERNS = [*ENSEMBLE_FILES, *(f"{ENSEMBLE_MEMBERS}/*/{f}" for f in ARTIFACT_FILES)]
# What a push replaces in a repo: every file an artifact or ensemble can have. A model pushed over an
# ensemble, or without the model.onnx of an earlier push, must not be loaded beside the old files.
PUBLISHED_PATTERNS = [*ARTIFACT_FILES, *ENSEMBLE_FILES, f"{ENSEMBLE_MEMBERS}/*"]


def check_members_replaceable(dest: Path) -> None:
    """An ensemble's member folders are written anew with every save or copy: each may hold only
    artifact files (`check_replaceable` covers the folder above them)."""
    members = dest / ENSEMBLE_MEMBERS
    for folder in sorted(members.iterdir()) if members.is_dir() else []:
        check_replaceable(folder, ARTIFACT_FILES, "ensemble member", keep_hidden=False)


def is_repo_id(text: str) -> bool:
    """`org/repo` (one slash, not a relative or absolute path) names a Hub repository."""
    return text.count("/") == 1 and not text.startswith((".", "/", "~")) and not text.endswith("/")


def check_repo_id(repo_id: object) -> None:
    """Refuse what cannot name a Hub repo before anything is written or sent."""
    if not isinstance(repo_id, str) or not is_repo_id(repo_id) or {".", ".."} & set(repo_id.split("/")):
        raise ArtifactError(f"repo_id must be a Hub repo id 'org/name', got {repo_id!r}")


def resolve(name_or_path: str | Path, revision: str | None = None, local_files_only: bool = False) -> Path:
    """Bundled name -> zoo folder (no network); existing folder -> itself; `org/repo` -> Hub snapshot.

    With a `revision`, an `org/repo` id always means the Hub, even if a folder of that name exists. A
    `Path` always means a folder, even one named like a bundled checkpoint.
    """
    if revision is not None and (not isinstance(revision, str) or not revision.strip()):
        raise ArtifactError(f"revision must be a branch, tag or commit name, got {revision!r}")
    text = str(name_or_path)
    if isinstance(name_or_path, os.PathLike):
        return _local_folder(Path(text).expanduser(), revision)
    if not text.strip():  # as a path "" would be the working folder, which an empty name never means
        raise UnknownNameError("pretrained checkpoint, folder or Hub repo id", text, list(catalog()))
    if text in catalog():
        if revision is not None:
            raise ArtifactError(
                f"{text!r} is a bundled checkpoint: it has no revisions (got revision={revision!r}); "
                "load a Hub copy by repo id, e.g. seqzoo.load('org/repo', revision=...)"
            )
        return pretrained_path(text)
    path = Path(text).expanduser()
    if path.exists() and not (revision is not None and is_repo_id(text)):
        return _local_folder(path, revision)
    if is_repo_id(text):
        return download(text, revision=revision, local_files_only=local_files_only)
    raise UnknownNameError("pretrained checkpoint, folder or Hub repo id", text, list(catalog()))


def _local_folder(path: Path, revision: str | None) -> Path:
    """A `Path` given to `resolve`: always a local folder, even one named like a bundled checkpoint."""
    if not path.exists():
        bundled = str(path) in catalog()
        hint = f"; for the bundled checkpoint, give its name as a string: {str(path)!r}" if bundled else ""
        raise ArtifactError(f"{path}: no such folder{hint}")
    if revision is not None:
        raise ArtifactError(f"{path}: a local folder has no revisions (got revision={revision!r})")
    return path


def _offline_reason(local_files_only: bool) -> str | None:
    from huggingface_hub import constants

    if local_files_only:
        return "local_files_only=True"
    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE=1"
    return None


def _first_line(err: BaseException) -> str:
    return next((line for line in str(err).splitlines() if line.strip()), type(err).__name__)


def network_errors() -> tuple[type[BaseException], ...]:
    """What a broken connection raises in huggingface_hub's HTTP client (httpx2, httpx or requests,
    by version), beside the OSError and ValueError of everything else that can go wrong on the way."""
    errors: list[type[BaseException]] = [OSError, ValueError]
    for client in ("httpx2", "httpx"):
        with contextlib.suppress(ImportError):
            errors.append(importlib.import_module(client).HTTPError)
    return tuple(errors)


def _status(err: BaseException) -> int | None:
    """The HTTP status behind a huggingface_hub error, if a server answered at all."""
    while err is not None:
        status = getattr(getattr(err, "response", None), "status_code", None)
        if isinstance(status, int):
            return status
        err = err.__cause__ or err.__context__
    return None


def _snapshot(repo_id: str, revision: str | None, local_files_only: bool, where: str) -> Path:
    """The repo's artifact files at `revision`, fetched into (or found in) the Hugging Face cache.

    Every failure is an `ArtifactError` naming the repo, the revision and what went wrong, because
    the raw `huggingface_hub` errors do not say which model load they belong to.
    """
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    offline = _offline_reason(local_files_only)
    try:
        return Path(
            snapshot_download(
                repo_id,
                revision=revision,
                allow_patterns=[*ARTIFACT_FILES, *ENSEMBLE_PATTERNS],
                local_files_only=local_files_only,
            )
        )
    except LocalEntryNotFoundError as err:
        cache = constants.HF_HUB_CACHE
        if offline:
            raise ArtifactError(
                f"{where}: downloads are off ({offline}) and this revision is not in the local Hugging "
                f"Face cache ({cache}). Load it once with network, or copy it on a machine with network "
                f"with `seqzoo download {repo_id}{'' if revision is None else f' --revision {revision}'} "
                f"--to DIR` and load the folder DIR/{repo_id}."
            ) from err
        status = _status(err)
        if status is not None:
            raise ArtifactError(
                f"{where}: the Hub at {constants.ENDPOINT} answered with HTTP {status}, and this revision "
                f"is not in the local Hugging Face cache ({cache}): {_first_line(err)}"
            ) from err
        raise ArtifactError(
            f"{where}: could not reach the Hub at {constants.ENDPOINT} and this revision is not in the "
            f"local Hugging Face cache ({cache}): {_first_line(err)}"
        ) from err
    except GatedRepoError as err:
        raise ArtifactError(
            f"{where}: the repo is gated; accept its conditions on the Hub and log in "
            f"(`hf auth login` or HF_TOKEN): {_first_line(err)}"
        ) from err
    except RevisionNotFoundError as err:
        raise ArtifactError(f"{where}: the repo has no such revision (branch, tag or commit)") from err
    except RepositoryNotFoundError as err:
        raise ArtifactError(
            f"{where}: not found at {constants.ENDPOINT}: the repo or the revision does not exist, or "
            f"the repo is private and no valid token was sent (`hf auth login` or HF_TOKEN)"
        ) from err
    except HfHubHTTPError as err:
        raise ArtifactError(f"{where}: the Hub answered with an error: {_first_line(err)}") from err
    except network_errors() as err:  # a connection cut mid-file; disk full; permissions
        raise ArtifactError(
            f"{where}: the download from {constants.ENDPOINT} failed ({type(err).__name__}: "
            f"{_first_line(err)}); run it again, it resumes from the cache"
        ) from err


def download(repo_id: str, revision: str | None = None, local_files_only: bool = False) -> Path:
    """Fetch an artifact repo into the Hugging Face cache and check it is a sound seqzoo artifact.

    Cached files that do not match their content addresses (`seqzoo.hub_cache`) are fetched again once;
    without network they are an error saying so.
    """
    where = f"Hub repo {repo_id!r} at revision {revision or 'main'!r}"
    offline = _offline_reason(local_files_only)
    folder = _snapshot(repo_id, revision, local_files_only, where)
    damaged = damaged_files(folder)
    if damaged and offline:
        raise ArtifactError(
            f"{where}: the cached {damaged} do not match their content hashes (damaged on disk, or cut "
            f"short); downloads are off ({offline}), so they cannot be fetched again"
        )
    if damaged:
        forget(folder, damaged)
        folder = _snapshot(repo_id, revision, local_files_only, where)
        if damaged_files(folder):
            raise ArtifactError(
                f"{where}: the Hub sent {damaged} with content that does not match their hashes, twice"
            )
    missing = [f for f in ("config.json", "model.safetensors") if not (folder / f).is_file()]
    if missing and offline and not is_ensemble(folder):
        raise ArtifactError(
            f"{where}: downloads are off ({offline}) and the local Hugging Face cache holds only part of "
            f"this revision (no {' and no '.join(missing)}); load it once with network"
        )
    if missing and not is_ensemble(folder):
        raise ArtifactError(
            f"{where}: not a seqzoo artifact, it has no {' and no '.join(missing)} "
            f"(a seqzoo repo holds {', '.join(ARTIFACT_FILES)}, or an ensemble's {ENSEMBLE_MANIFEST})"
        )
    return folder


def is_ensemble(folder: Path) -> bool:
    return (folder / ENSEMBLE_MANIFEST).is_file()


def load_folder(folder: Path):
    """What `seqzoo.load` builds from a folder: the ensemble or the model it holds, with every check."""
    if is_ensemble(folder):
        from seqzoo.ensembles import load_ensemble

        return load_ensemble(folder)
    from seqzoo.artifact import load_artifact

    return load_artifact(folder)


def published_files(folder: Path) -> list[str]:
    """The files (relative POSIX paths) that make up the artifact or ensemble in `folder`; call it after
    `load_folder`, which has validated the ensemble's manifest."""
    if not is_ensemble(folder):
        return [f for f in ARTIFACT_FILES if (folder / f).is_file()]
    members = [e["folder"] for e in json.loads((folder / ENSEMBLE_MANIFEST).read_text())["members"]]
    files = [f for f in ENSEMBLE_FILES if (folder / f).is_file()]
    return files + [f"{m}/{f}" for m in members for f in ARTIFACT_FILES if (folder / m / f).is_file()]


# -- copies for machines without network -----------------------------------------------------------
@dataclass(frozen=True)
class Copied:
    """One artifact copied by `copy_artifacts`: where from, where to, and the Hub commit if any."""

    name: str
    source: Path
    destination: Path
    commit: str | None


def _destination(to: Path, name: str, from_hub: bool) -> Path:
    """`to/<name>` for catalogue names and Hub repo ids (`org/repo` keeps its two levels); a local folder
    goes to `to/<its folder name>`, however its path is spelled."""
    if name in catalog() or from_hub:
        return to / name
    return to / Path(name).expanduser().resolve().name


def copy_artifacts(
    names: Iterable[str], to: str | Path, revision: str | None = None, local_files_only: bool = False
) -> list[Copied]:
    """Copy bundled checkpoints, Hub repos (at `revision`), artifact or ensemble folders into `to/<name>`.

    Each copy is checked by building its model first, so a folder carried to an offline machine is
    known to load there; each is written atomically and holds only the artifact files.
    """
    to = Path(to).expanduser()
    if to.exists() and not to.is_dir():
        raise ArtifactError(f"{to} is a file; give a folder to copy the checkpoints into")
    names = list(names)
    from_hub = [name not in catalog() and is_repo_id(name) and not (revision is None and Path(name).exists())
                for name in names]  # fmt: skip
    if revision is not None and not any(from_hub):
        raise ArtifactError(
            f"revision={revision!r} applies to Hub repo ids, and none of {names} is one (bundled "
            "checkpoints and folders have no revisions)"
        )
    done: list[Copied] = []
    for name, hub in zip(names, from_hub, strict=True):
        source = resolve(name, revision=revision if hub else None, local_files_only=local_files_only)
        load_folder(source)
        dest = destination_folder(_destination(to, name, hub), "copy")
        if dest.resolve() == source.resolve() or source.resolve() in dest.resolve().parents:
            raise ArtifactError(f"{name} is {source}: copying it to {dest} would write it into itself")
        keep = check_replaceable(dest, [*ARTIFACT_FILES, *ENSEMBLE_FILES, ENSEMBLE_MEMBERS], "copy")
        check_members_replaceable(dest)
        with atomic_folder(dest, keep) as tmp:
            for file in published_files(source):
                (tmp / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source / file, tmp / file)  # follows the Hub cache's symlinks
        done.append(Copied(name, source, dest, source.name if hub else None))
    return done


def copy_all_pretrained(to: str | Path) -> list[Copied]:
    """Every bundled checkpoint into `to/<name>` (the zoo for an offline machine)."""
    return copy_artifacts(list_pretrained(), to)


# -- publishing --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UploadPlan:
    """What `push` uploads: the folder, the files in it that go up, those that stay, the message."""

    folder: Path
    files: list[str]
    skipped: list[str]
    commit_message: str


def prepare_upload(folder_or_name: str | Path) -> UploadPlan:
    """Validate an artifact or ensemble folder (or bundled name) and list what a push would upload.

    The model is built from the folder first, so a broken artifact never reaches the Hub.
    """
    import seqzoo

    text = str(folder_or_name)
    folder = pretrained_path(text) if text in catalog() else Path(text).expanduser()
    loaded = load_folder(folder)
    required = ENSEMBLE_FILES if is_ensemble(folder) else REQUIRED_FILES
    missing = [f for f in required if not (folder / f).is_file()]
    if missing:
        raise ArtifactError(
            f"{folder}: cannot publish without {', '.join(missing)} (the model card README.md is "
            "written by save_pretrained and `seqzoo export`)"
        )
    files = published_files(folder)
    tops = {f.split("/")[0] for f in files}
    skipped = sorted(p.name for p in folder.iterdir() if p.name not in tops)
    config = getattr(loaded, "artifact_config", None) or {}
    label = config.get("name") or folder.resolve().name
    message = f"Upload {label} with seqzoo {seqzoo.__version__}"
    return UploadPlan(folder=folder, files=files, skipped=skipped, commit_message=message)


def push(
    folder_or_name: str | Path,
    repo_id: str,
    *,
    revision: str | None = None,
    private: bool | None = None,
    token: str | None = None,
    commit_message: str | None = None,
    endpoint: str | None = None,
) -> str:
    """Publish an artifact folder to the Hub repo `repo_id` (created if needed); returns the commit URL.

    A `revision` other than main is a branch, created from main when it does not exist yet.
    `endpoint` defaults to `HF_ENDPOINT` (or huggingface.co).
    """
    from huggingface_hub import HfApi

    check_repo_id(repo_id)
    plan = prepare_upload(folder_or_name)
    api = HfApi(endpoint=endpoint, token=token)
    branch = revision if revision not in (None, "main") else None
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        if branch:
            api.create_branch(repo_id, branch=branch, exist_ok=True, repo_type="model")
        info = api.upload_folder(
            repo_id=repo_id,
            folder_path=os.fspath(plan.folder),
            repo_type="model",
            revision=branch,
            allow_patterns=plan.files,
            delete_patterns=PUBLISHED_PATTERNS,  # in the same commit: no stale file of an earlier push stays
            commit_message=commit_message or plan.commit_message,
        )
    except network_errors() as err:  # HfHubHTTPError and LocalTokenNotFoundError are OSErrors
        raise ArtifactError(
            f"could not push {plan.folder} to Hub repo {repo_id!r} at revision {revision or 'main'!r} "
            f"({api.endpoint}): {_first_line(err)}"
        ) from err
    return str(info.commit_url)
