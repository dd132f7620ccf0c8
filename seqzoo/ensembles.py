"""Ensembles: average the predictions of compatible checkpoints.

    ens = seqzoo.ensemble(["gru.synthetic", "lstm.synthetic"])
    ens.predict(windows)              # the mean of the members' predictions, in raw units
    ens.save_pretrained("my-ens/")    # ensemble.json + one artifact folder per member
    seqzoo.load("my-ens/")            # the same ensemble back

Each member encodes the raw input with its own preprocessing and decodes to raw units, so members may
differ in architecture, statistics or vocabulary; they must agree on the task and on the protocol: what
raw input they accept and what their output means (the preprocessor's `protocol` fields, e.g. Jena's
columns, lookback and delay). Classifiers are combined by soft voting: the mean of their probabilities.
The folder holds no pickle: a JSON manifest and ordinary artifact folders, checked by sha256 on load.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import seqzoo
from seqzoo.card import render_ensemble_card
from seqzoo.errors import ArtifactError, InputError
from seqzoo.fsutil import atomic_folder, check_replaceable, destination_folder
from seqzoo.hub import ENSEMBLE_FILES, ENSEMBLE_MEMBERS, check_members_replaceable
from seqzoo.hub import ENSEMBLE_MANIFEST as MANIFEST
from seqzoo.tasks.base import SeqzooTask

FORMAT_VERSION = 1
COMBINE = {"forecasting": "mean", "classification": "soft_vote"}


def _protocol(model: SeqzooTask) -> dict[str, Any]:
    """The preprocessing fields every member must share; all of them when the class names none."""
    config = model.preprocessing or {}
    fields = getattr(type(model.preprocessor), "protocol", None)
    keys = ["kind", *fields] if fields is not None else sorted(config)
    return {k: config.get(k) for k in keys}


def _mismatch(a: SeqzooTask, b: SeqzooTask) -> str | None:
    """What makes `b` unusable next to `a` in one ensemble, or None."""
    if a.task_name != b.task_name:
        return f"task {a.task_name!r} vs {b.task_name!r}"
    if a.hparams.get("num_classes") != b.hparams.get("num_classes"):
        return f"num_classes {a.hparams.get('num_classes')} vs {b.hparams.get('num_classes')}"
    pa, pb = _protocol(a), _protocol(b)
    if pa["kind"] != pb["kind"]:
        return f"preprocessing kind {pa['kind']!r} vs {pb['kind']!r}"
    differ = [
        f"{k} {pa.get(k)!r} vs {pb.get(k)!r}" for k in sorted(set(pa) | set(pb)) if pa.get(k) != pb.get(k)
    ]
    return ", ".join(differ) or None


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "member"


class Ensemble:
    """Members of one task and protocol whose `predict` outputs are averaged."""

    def __init__(self, members: Sequence[SeqzooTask], names: Sequence[str]) -> None:
        if len(members) < 2:
            raise InputError(f"an ensemble needs at least 2 members, got {len(members)}")
        if len(names) != len(members):
            raise InputError(f"got {len(members)} members but {len(names)} names")
        first = members[0]
        if first.task_name not in COMBINE:
            raise InputError(
                f"{names[0]!r} is a {first.task_name} model; ensembles average forecasts and class "
                f"probabilities ({' and '.join(COMBINE)} tasks), not {first.task_name} outputs"
            )
        for member, name in zip(members[1:], names[1:], strict=True):
            problem = _mismatch(first, member)
            if problem:
                raise InputError(f"cannot ensemble {names[0]!r} with {name!r}: {problem}")
        self.members = [m.eval() for m in members]
        self.names = list(names)
        self.task_name = first.task_name

    def __len__(self) -> int:
        return len(self.members)

    def __repr__(self) -> str:
        return f"Ensemble({self.task_name}, {self.names})"

    def predict(self, raw: Any, **options: Any) -> Any:
        """Raw input -> the mean of the members' `predict` outputs (arrays, floats or pandas Series);
        `options` go to every member (e.g. `rolling=True`, `batch_size=...`)."""
        outputs = [member.predict(raw, **options) for member in self.members]
        total = outputs[0]
        for output in outputs[1:]:
            total = total + output
        return total / len(outputs)

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write `ensemble.json`, a Hub model card and one artifact folder per member under `members/`,
        atomically; `seqzoo push` publishes the folder as one Hub repo."""
        from seqzoo.artifact import WEIGHTS
        from seqzoo.download import sha256_file

        dest = destination_folder(directory, "ensemble")
        keep = check_replaceable(dest, [*ENSEMBLE_FILES, ENSEMBLE_MEMBERS], "ensemble")
        check_members_replaceable(dest)
        entries = []
        with atomic_folder(dest, keep) as tmp:
            for i, (member, name) in enumerate(zip(self.members, self.names, strict=True)):
                folder = f"{ENSEMBLE_MEMBERS}/{i:02d}-{_safe(name)}"
                member.save_pretrained(tmp / folder, **_card(member))
                entries.append(
                    {"name": name, "folder": folder, "weights_sha256": sha256_file(tmp / folder / WEIGHTS)}
                )
            manifest = {
                "format_version": FORMAT_VERSION,
                "seqzoo_version": seqzoo.__version__,
                "task": self.task_name,
                "combine": COMBINE[self.task_name],
                "members": entries,
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
            configs = [json.loads((tmp / e["folder"] / "config.json").read_text()) for e in entries]
            (tmp / "README.md").write_text(render_ensemble_card(dest.resolve().name, manifest, configs))
        return dest


def _card(member: SeqzooTask) -> dict[str, Any]:
    """A loaded member keeps its name, metrics, data and limitations in the copy."""
    config = getattr(member, "artifact_config", None)
    if not config:
        return {}
    return {
        "name": config.get("name"),
        "metrics": config.get("metrics"),
        "data": config.get("provenance", {}).get("data"),
        "limitations": config.get("limitations"),
    }


def _name(loaded: SeqzooTask, given: SeqzooTask | str | Path) -> str:
    """What a member is called in ensemble.json, its folder name, the card and evaluate's metric keys:
    the name its artifact records, else the catalogue name or Hub id it was given, else its folder's
    name (never a local path, which would travel to the Hub), else its architecture."""
    config = getattr(loaded, "artifact_config", None) or {}
    if config.get("name"):
        return config["name"]
    if isinstance(given, str) and not Path(given).exists():
        return given  # a Hub repo id
    if isinstance(given, str | Path):
        return Path(given).expanduser().resolve().name
    return loaded.hparams.arch


def _unique(names: list[str]) -> list[str]:
    """Names told apart where members share one (`gru.synthetic`, `gru.synthetic-2`): evaluate reports
    each member's metrics under its name, and one would hide the other."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return unique


def ensemble(models: Sequence[SeqzooTask | str | Path]) -> Ensemble:
    """An ensemble of checkpoints: names, folders or Hub ids (loaded with `seqzoo.load`) or loaded models."""
    if isinstance(models, str | Path):
        raise InputError("expected a list of checkpoints, got a single name; e.g. ensemble(['a', 'b'])")
    models = list(models)  # read twice: loaded, then named
    members = []
    for model in models:
        loaded = seqzoo.load(model) if isinstance(model, str | Path) else model
        if not isinstance(loaded, SeqzooTask):
            raise InputError(f"ensemble members must be single checkpoints, got {type(loaded).__name__}")
        members.append(loaded)
    names = [_name(loaded, given) for loaded, given in zip(members, models, strict=True)]
    return Ensemble(members, _unique(names))


def load_ensemble(folder: str | Path) -> Ensemble:
    """Rebuild an ensemble from its folder, checking every member's weights against the manifest."""
    from seqzoo.artifact import WEIGHTS, load_artifact
    from seqzoo.download import sha256_file

    folder = Path(folder)
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ArtifactError(f"{path}: not a readable JSON manifest ({err})") from err
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        found = manifest.get("format_version") if isinstance(manifest, dict) else type(manifest).__name__
        raise ArtifactError(
            f"{path}: expected an object with format_version {FORMAT_VERSION}, found {found!r}"
        )
    entries = manifest.get("members")
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("name"), str) and isinstance(e.get("folder"), str)
        for e in entries
    ):
        raise ArtifactError(f"{path}: 'members' must be a list of {{name, folder, weights_sha256}} objects")
    members = []
    for entry in entries:
        relative = PurePosixPath(entry["folder"])
        if relative.is_absolute() or ".." in relative.parts:
            raise ArtifactError(
                f"{path}: member folder {entry['folder']!r} must lie inside the ensemble folder"
            )
        member_folder = folder / relative
        digest = sha256_file(member_folder / WEIGHTS) if (member_folder / WEIGHTS).is_file() else None
        if digest != entry.get("weights_sha256"):
            raise ArtifactError(
                f"{member_folder / WEIGHTS}: sha256 {digest} does not match the manifest's "
                f"{entry.get('weights_sha256')}; the member was changed or is missing"
            )
        members.append(load_artifact(member_folder))
    try:
        return Ensemble(members, [e["name"] for e in entries])
    except InputError as err:
        raise ArtifactError(f"{path}: {err}") from err
