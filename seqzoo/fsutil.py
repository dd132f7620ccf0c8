"""Atomic folder writes: an artifact is built in a temporary sibling and swapped into place."""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import socket
import tempfile
import uuid
from collections.abc import Collection, Iterator
from pathlib import Path

from seqzoo.errors import ArtifactError

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with Linux renameat2(RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def _fsync_dir(folder: Path) -> None:
    """Make a folder's entries (a new file, a rename) durable, where the platform allows it."""
    with contextlib.suppress(OSError):
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def _umask() -> int:
    """The process's umask (reading it means setting it: set it straight back)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def write_file_atomically(path: Path, data: bytes) -> None:
    """Write `path` under a temporary name beside it, flush it to disk and rename it into place:
    readers see the old file or the new one, never a part."""
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide the file from other users
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _copy_entry(source: Path, target: Path) -> None:
    """Copy a file, link or folder as it is (modes and links kept) and flush the copied files to disk."""
    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, target, symlinks=True)
    elif source.exists() or source.is_symlink():
        shutil.copy2(source, target, follow_symlinks=False)
    copied = [target] if not target.is_dir() or target.is_symlink() else [target, *target.rglob("*")]
    for path in copied:
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(target.parent)


def _finish_tree(folder: Path) -> None:
    """Flush every file to disk and give the folder the permissions a plain mkdir would have.

    Sub-folders (an ensemble's member artifacts) are finished the same way, depth first.
    """
    umask = _umask()
    os.chmod(folder, 0o777 & ~umask)
    for path in folder.iterdir():
        if path.is_dir() and not path.is_symlink():
            _finish_tree(path)
            continue
        os.chmod(path, 0o666 & ~umask)
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    _fsync_dir(folder)


def _owner_tag() -> str:
    """Host and process id in temporary names, so a later writer can tell which writers are dead."""
    return f"{re.sub(r'[^A-Za-z0-9_.]', '_', socket.gethostname())}-{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: alive, not ours to judge
        return True
    return True


def _sweep_dead_writers(dest: Path) -> None:
    """Remove the temporary folders that killed writers of `dest` on this host left behind.

    Only folders named by this module with this host's name and the id of a process that no longer
    exists; a live writer's folder (or one from another host sharing the disk) is never touched.
    """
    host = _owner_tag().rsplit("-", 1)[0]
    pattern = re.compile(rf"\.{re.escape(dest.name)}\.(?:tmp|old)-{re.escape(host)}-(\d+)-")
    with contextlib.suppress(OSError):
        for entry in dest.parent.iterdir():
            match = pattern.match(entry.name)
            if match and not _alive(int(match.group(1))):
                shutil.rmtree(entry, ignore_errors=True)


def destination_folder(directory: str | Path, what: str) -> Path:
    """The folder to write `what` into, as the user meant `directory`: `~` expanded, a symbolic link
    written through (its target is replaced, the link stays), and refused with an ArtifactError where
    writing cannot work or would pull the floor from under the caller: the current working folder or
    one holding it, or a path below a file."""
    dest = Path(directory).expanduser()
    if dest.is_symlink():
        dest = dest.resolve()
    real, here = dest.resolve(), Path.cwd().resolve()
    if real == here or real in here.parents:
        raise ArtifactError(
            f"refusing to write the {what} into {directory}: writing replaces the whole folder, and it is "
            "the current working folder or holds it; give a new folder, e.g. ./my-model"
        )
    blocking = next((p for p in dest.parents if p.exists()), None)  # the nearest that exists
    if blocking is not None and not blocking.is_dir():
        raise ArtifactError(f"{blocking} is a file; cannot write the {what} into {dest}")
    return dest


def check_replaceable(
    dest: Path, own_names: Collection[str], what: str, keep_hidden: bool = True
) -> list[str]:
    """Refuse to write `what` (an artifact, an ensemble) over `dest` when `dest` is a file, or a folder
    holding anything but `own_names`: `atomic_folder` swaps in a whole new folder, and whatever else
    the old one held (a project's code, notes beside an artifact) would be deleted with it.

    Hidden entries (`.git`, `.gitattributes`, `.DS_Store`, `.cache`) are not refused but returned, for
    `atomic_folder` to carry into the new folder; leftovers of an interrupted atomic write of one of
    `own_names` (`.model.onnx.XXXX`) are neither. With `keep_hidden=False` hidden entries are refused too.
    """
    if not dest.exists():
        return []
    if not dest.is_dir():
        raise ArtifactError(f"{dest} is a file; give a folder to write the {what} into")
    leftovers = tuple(f".{name}." for name in own_names)
    others = [p.name for p in dest.iterdir() if p.name not in own_names and not p.name.startswith(leftovers)]
    hidden = sorted(name for name in others if name.startswith(".")) if keep_hidden else []
    foreign = sorted(set(others) - set(hidden))
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise ArtifactError(
            f"refusing to replace {dest}: writing the {what} replaces the whole folder, and it holds "
            f"{shown}, which no {what} has; write into a new or empty folder, or move them away"
        )
    return hidden


@contextlib.contextmanager
def atomic_folder(destination: str | Path, keep: Collection[str] = ()) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it replaces `destination` in one step, with copies
    of the entries named in `keep` (see `check_replaceable`) carried over from the old one.

    A crash at any point leaves `destination` as it was (old complete content or absent), never a mix.
    With renameat2(RENAME_EXCHANGE) (Linux) the swap is one step and `destination` never disappears;
    elsewhere it is moved aside first, so a crash between the two renames leaves it absent (its old
    content stays in a hidden `.NAME.old-*` sibling). Temporary siblings of crashed writers are
    removed by the next write to the same destination.
    """
    dest = Path(destination).absolute()
    dest.parent.mkdir(parents=True, exist_ok=True)
    _sweep_dead_writers(dest)
    tag = _owner_tag()
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-{tag}-", dir=dest.parent))
    try:
        yield tmp
        _finish_tree(tmp)
        for name in keep:  # copies: a crash before the swap leaves the originals where they were
            _copy_entry(dest / name, tmp / name)
        if not dest.exists():
            os.rename(tmp, dest)
        elif _exchange(tmp, dest):
            shutil.rmtree(tmp)  # now holds the old content
        else:
            old = dest.with_name(f".{dest.name}.old-{tag}-{uuid.uuid4().hex}")
            os.rename(dest, old)
            os.rename(tmp, dest)
            shutil.rmtree(old)
        _fsync_dir(dest.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
