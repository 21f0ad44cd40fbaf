"""Writing a command's files so that nothing is lost (used by `train`, `step --html`, `demo`).

- Nothing is deleted first and nothing is written in place. Every file is made in a private
  staging folder inside the output folder (same file system), then renamed over the old one:
  a rename replaces a planted symlink instead of writing through it, and a run that fails,
  is interrupted or meets a full disk leaves each old file whole (the staging folder goes).
- The renames of one run happen together, with Ctrl-C and SIGTERM held for those microseconds.
- Files get the mode a new file gets from the umask (0644 under the usual 022), whatever the
  program that made them chose.
- A run removes only files it can prove it wrote: `publish` returns each file's SHA-256, the
  command keeps that list (train: in metrics.json's "files"), and `remove_stale` later removes
  a listed file only while its content is still what was written. A user's own file of the
  same name is never removed.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable

from .process import signals_held

STAGING_PREFIX = ".tinygrad-sm-"


def ensure_writable_folder(folder: Path, create: bool = True) -> None:
    """Make `folder` (when `create`) and prove it takes a file; raises OSError otherwise."""
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=STAGING_PREFIX + "check-"):
        pass


def new_file_mode() -> int:
    """The mode open() gives a new file: 0o666 less the umask (read without changing it for
    long: os.umask is the only way to read it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def digest(path: Path) -> str:
    """"sha256:…" of the file's bytes."""
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return "sha256:" + sha.hexdigest()


class Staging:
    """A private folder inside `folder` where a run makes its files (`stage / name`), then
    `publish` renames them into `folder`. Whatever is not published is removed on exit."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.path = Path(tempfile.mkdtemp(dir=self.folder, prefix=STAGING_PREFIX))

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def names(self) -> list[str]:
        return sorted(p.name for p in self.path.iterdir() if p.is_file() and not p.is_symlink())

    def publish(self, last: Iterable[str] = ()) -> dict[str, str]:
        """Rename every staged file over its namesake in `folder` (the names in `last` after
        the others); returns {name: digest}."""
        last = [name for name in last if (self.path / name).is_file()]
        order = [name for name in self.names() if name not in last] + last
        mode, written = new_file_mode(), {}
        for name in order:
            os.chmod(self.path / name, mode)
            written[name] = digest(self.path / name)
        with signals_held():
            for name in order:
                os.replace(self.path / name, self.folder / name)
        return written

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def write_file(path: Path, make: Callable[[Path], object]) -> Path:
    """`make(temporary_path)` writes the file; it then replaces `path` in one rename."""
    path = Path(path)
    with Staging(path.parent) as stage:
        make(stage / path.name)
        stage.publish()
    return path


def json_text(value: object) -> str:
    """Strict JSON (NaN and infinity refused: ValueError before anything is written)."""
    return json.dumps(value, indent=2, allow_nan=False) + "\n"


def write_json(path: Path, value: object) -> None:
    """value as strict JSON, replacing path in one rename: the old file or the whole new one."""
    text = json_text(value)
    write_file(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def remove_stale(folder: Path, earlier: dict[str, str], keep: Iterable[str]) -> list[str]:
    """Remove the files an earlier run wrote (`earlier`: name → digest) that this run did not
    (`keep`), each only while it holds exactly what was written; returns the names removed."""
    keep, removed = set(keep), []
    for name, written in earlier.items():
        path = folder / name
        if name in keep or os.sep in name or name.startswith(".") or not path.is_file() \
                or path.is_symlink():
            continue
        with contextlib.suppress(OSError):
            if digest(path) == written:
                path.unlink()
                removed.append(name)
    return removed


def read_manifest(path: Path) -> dict[str, str]:
    """The "files" an earlier run listed in the JSON file `path` ({} when none can be read)."""
    try:
        files = json.loads(path.read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError, AttributeError):
        return {}
    if not isinstance(files, dict):
        return {}
    return {name: value for name, value in files.items()
            if isinstance(name, str) and isinstance(value, str)}

