"""Name resolution for `seqzoo.load`: bundled catalogue names, local folders, Hugging Face Hub repos."""

from __future__ import annotations

from pathlib import Path

from seqzoo.catalog import catalog, pretrained_path
from seqzoo.errors import ArtifactError, UnknownNameError

ARTIFACT_FILES = ["config.json", "model.safetensors", "tokenizer.json", "recipe.yaml", "README.md"]


def resolve(name_or_path: str | Path, revision: str | None = None, local_files_only: bool = False) -> Path:
    """Bundled name -> zoo folder; existing folder -> itself; `org/repo` -> Hub snapshot folder."""
    text = str(name_or_path)
    if text in catalog() and revision is None:
        return pretrained_path(text)
    path = Path(text).expanduser()
    if path.exists():
        return path
    if text.count("/") == 1 and not text.startswith((".", "/", "~")):
        return download(text, revision=revision, local_files_only=local_files_only)
    raise UnknownNameError("pretrained checkpoint or folder", text, list(catalog()))


def download(repo_id: str, revision: str | None = None, local_files_only: bool = False) -> Path:
    """Fetch an artifact repo through huggingface_hub (its cache, HF_HUB_OFFLINE and resume apply)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        folder = snapshot_download(
            repo_id, revision=revision, allow_patterns=ARTIFACT_FILES, local_files_only=local_files_only
        )
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError, ValueError) as err:
        raise ArtifactError(
            f"could not fetch Hub repo {repo_id!r} at revision {revision or 'main'}: {err}"
        ) from err
    return Path(folder)
