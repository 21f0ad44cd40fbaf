"""Data: the bundled 8×8 digits, an IDX reader for (Fashion-)MNIST, shuffled minibatches and
synthetic linear-regression data (d2l §3.2).

Every loader returns a `Split(X_train, y_train, X_test, y_test)`: X is float32 of shape
(n, pixels) scaled to [0, 1], y is int64 class indices of shape (n,).

Credits. The bundled datasets/digits.csv.gz is the "Optical Recognition of Handwritten Digits"
data set by E. Alpaydin and C. Kaynak (1998), from the UCI Machine Learning Repository, licensed
CC BY 4.0 (the 1797-image part that scikit-learn also ships). Fashion-MNIST is © Zalando SE,
MIT licence; it is read from files installed separately, never bundled.
"""
from __future__ import annotations

import gzip
import math
import os
import sys
import zlib
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO, Iterator, NamedTuple, Sequence

import numpy as np

from .i18n import Messages, Said


class DataError(ValueError):
    """A data file that is missing, truncated or not what it should be; the message names it.

    The message is a catalogue entry (locales/*.json, "data.*") with its fields: str(e) is
    English, `e.said(lang)` is in the learner's language (the training command uses it).
    """

    def __init__(self, key: str, **fields: object):
        self.message = Said(key, **fields)
        super().__init__(self.message("en"))

    def said(self, lang: str | Messages | None = None) -> str:
        return self.message(lang)


class DataNotFoundError(DataError, FileNotFoundError):
    """A data folder or file that is not there; the message says how to get it."""


class Split(NamedTuple):
    """Train and test parts of a data set. Unpacks as `X_train, y_train, X_test, y_test`."""
    X_train: np.ndarray  # float32, (n_train, pixels), values in [0, 1]
    y_train: np.ndarray  # int64, (n_train,)
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def num_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


# ---- the bundled digits ----

def load_digits(seed: int = 0, test_fraction: float = 0.2) -> Split:
    """The 8×8 handwritten digits bundled with the package (1797 images, 10 classes).

    Each class is split on its own (stratified) so train and test have the same class mix;
    the split is fixed by `seed`. Pixels 0..16 are divided by 16.
    Data: "Optical Recognition of Handwritten Digits", E. Alpaydin and C. Kaynak, UCI Machine
    Learning Repository, CC BY 4.0.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"load_digits: test_fraction must lie in (0, 1), got {test_fraction}")
    source = resources.files("tinygrad_sm").joinpath("datasets/digits.csv.gz")
    with source.open("rb") as raw, gzip.open(raw, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.int64)
    pixels, labels = table[:, :-1], table[:, -1]
    rng = np.random.default_rng(seed)
    train_parts, test_parts = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = int(round(test_fraction * len(members)))
        test_parts.append(members[:n_test])
        train_parts.append(members[n_test:])
    # mix the classes again so the order carries no information
    train = rng.permutation(np.concatenate(train_parts))
    test = rng.permutation(np.concatenate(test_parts))
    X = (pixels / 16.0).astype(np.float32)
    return Split(X[train], labels[train], X[test], labels[test])


# ---- IDX files (MNIST, Fashion-MNIST) ----

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions (count, rows, columns)
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension (count)

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


CHUNK = 1 << 22  # read in 4 MiB pieces, so a header's claim never allocates more than arrives


GZIP_MAX_RATIO = 1032  # deflate's limit: one compressed byte never unpacks to more than 1032
MAX_IDX_BYTES = 1 << 30  # the most an IDX file may unpack to (1 GiB; MNIST's largest file is 47 MB);
# a bigger header claim is refused before anything is unpacked. Raise it to read a larger file.


def _unpacked(raw: BinaryIO) -> BinaryIO:
    """`raw`, or a gunzipping view of it when it starts with the gzip signature."""
    signature = raw.read(2)
    raw.seek(0)
    return gzip.GzipFile(fileobj=raw, mode="rb") if signature == b"\x1f\x8b" else raw


def _read_at_most(stream: BinaryIO, limit: int) -> bytes:
    """Up to `limit` bytes of the stream (fewer at its end); nothing past them is unpacked."""
    pieces, count = [], 0
    while count < limit:
        piece = stream.read(min(CHUNK, limit - count))
        if not piece:
            break
        pieces.append(piece)
        count += len(piece)
    return b"".join(pieces)


def read_idx(path: str | os.PathLike, magic: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes (raw or gzipped) and return it as a uint8 array.

    `magic` is the expected magic number: 2051 for images (n, rows, columns), 2049 for labels (n,).
    The header is read first and checked before anything else is unpacked: sizes that the file
    cannot hold (more than its length, or for a .gz more than 1032 times it, deflate's largest
    ratio) or more than MAX_IDX_BYTES are refused, so a small .gz that claims gigabytes costs
    nothing. Then no more than the size the header gives is read (+1 byte to notice trailing data).
    """
    path = Path(path)
    try:
        with path.open("rb") as raw, _unpacked(raw) as stream:
            return _parse_idx(path, stream, magic, os.fstat(raw.fileno()).st_size)
    except FileNotFoundError:
        raise DataNotFoundError("data.file_not_found", path=path) from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:  # EOFError: a cut-off gzip stream
        raise DataError("data.broken_gzip", path=path, error=e) from None
    except OSError as e:
        raise DataError("data.cannot_read", path=path, error=e.strerror or e) from None


def _parse_idx(path: Path, stream: BinaryIO, magic: int, size: int) -> np.ndarray:
    """The array of an IDX stream read from a file of `size` bytes (raw or gzipped)."""
    kinds = {IMAGES_MAGIC: "data.kind_images", LABELS_MAGIC: "data.kind_labels"}
    kind = Said(kinds.get(magic, "data.kind_idx"))
    ndim = magic & 0xFF
    start = _read_at_most(stream, 4)
    if len(start) < 4:
        raise DataError("data.too_short", path=path, size=len(start), kind=kind, magic=magic)
    found = int.from_bytes(start, "big")
    if found != magic:
        hints = {IMAGES_MAGIC: "data.hint_images", LABELS_MAGIC: "data.hint_labels"}
        hint = Said(hints[found]) if found in hints else ""
        raise DataError("data.wrong_magic", path=path, found=found, hint=hint, magic=magic, kind=kind)
    header = 4 + 4 * ndim
    sizes = _read_at_most(stream, 4 * ndim)
    if len(sizes) < 4 * ndim:
        raise DataError("data.truncated_header", path=path, ndim=ndim, header=header,
                        found=4 + len(sizes))
    shape = tuple(int.from_bytes(sizes[4 * i: 4 * i + 4], "big") for i in range(ndim))
    if 0 in shape:
        raise DataError("data.empty", path=path, shape=shape, kind=kind)
    count = math.prod(shape)  # a Python int: sizes up to (2³² − 1)³ cannot wrap around
    if count > sys.maxsize:
        raise DataError("data.too_big", path=path, shape=shape, count=count)
    # Refused from the header, before anything more is unpacked: a plain file's length is exact,
    # a .gz cannot unpack to more than 1032 times its own.
    if not isinstance(stream, gzip.GzipFile) and header + count > size:
        raise DataError("data.truncated", path=path, shape=shape, expected=header + count,
                        found=size)
    if isinstance(stream, gzip.GzipFile) and header + count > size * GZIP_MAX_RATIO:
        raise DataError("data.implausible", path=path, shape=shape, expected=header + count,
                        size=size, most=size * GZIP_MAX_RATIO)
    if count > MAX_IDX_BYTES:
        raise DataError("data.over_cap", path=path, shape=shape, count=count, cap=MAX_IDX_BYTES)
    body = _read_at_most(stream, count + 1)
    if len(body) < count:
        raise DataError("data.truncated", path=path, shape=shape, expected=header + count,
                        found=header + len(body))
    if len(body) > count:
        raise DataError("data.too_long", path=path, shape=shape, expected=header + count)
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def _find(directory: Path, stem: str) -> Path:
    """`stem.gz` or `stem` in directory (the gzipped name first, as distributed)."""
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    raise DataNotFoundError("data.neither", directory=directory, stem=stem,
                            files=", ".join(MNIST_FILES.values()))


def _missing_idx_files(directory: Path) -> list[str]:
    """The MNIST_FILES stems with neither `stem.gz` nor `stem` in directory."""
    return [stem for stem in MNIST_FILES.values()
            if not any((directory / (stem + ext)).is_file() for ext in (".gz", ""))]


def _load_idx_folder(directory: Path, num_classes: int = 10) -> Split:
    parts = {}
    for key, stem in MNIST_FILES.items():
        path = _find(directory, stem)
        parts[key] = (path, read_idx(path, IMAGES_MAGIC if key.endswith("images") else LABELS_MAGIC))
    for part in ("train", "test"):
        (image_path, images), (label_path, labels) = parts[part + "_images"], parts[part + "_labels"]
        if len(images) != len(labels):
            raise DataError("data.count_mismatch", images=image_path, image_count=len(images),
                            labels=label_path, label_count=len(labels))
        if labels.size and labels.max() >= num_classes:
            raise DataError("data.label_range", path=label_path, label=labels.max(),
                            last=num_classes - 1)
    train_shape, test_shape = parts["train_images"][1].shape[1:], parts["test_images"][1].shape[1:]
    if train_shape != test_shape:
        raise DataError("data.image_size", path=parts["test_images"][0], h=test_shape[0],
                        w=test_shape[1], train_h=train_shape[0], train_w=train_shape[1])

    def pixels(images: np.ndarray) -> np.ndarray:
        flat = images.reshape(len(images), -1).astype(np.float32)
        flat /= 255.0
        return flat

    return Split(pixels(parts["train_images"][1]), parts["train_labels"][1].astype(np.int64),
                 pixels(parts["test_images"][1]), parts["test_labels"][1].astype(np.int64))


SYSTEM_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist


def _user_cache() -> Path | None:
    """$XDG_CACHE_HOME, else ~/.cache; None when neither can be named (HOME unset, no passwd
    entry). A relative XDG_CACHE_HOME is ignored, as the XDG specification says."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg)
    try:
        return Path.home() / ".cache"
    except (RuntimeError, KeyError, OSError):  # Path.home() raises these when there is no home
        return None


def fashion_mnist_search_path() -> Iterator[Path]:
    """Where `load_fashion_mnist()` looks when given no folder, in order, each named only when
    it is reached; a folder that cannot be named (no home) is skipped."""
    yield SYSTEM_FASHION_MNIST
    cache = _user_cache()
    if cache is not None:
        yield cache / "tinygrad_sm" / "fashion-mnist"


FASHION_MNIST_HOWTO = Said("data.fashion_howto")  # how to get the files, in any language


def _joined(items: list, key: str) -> object:
    """Items said one after another ("A and B and C"), in the learner's language."""
    return items[0] if len(items) == 1 else Said(key, first=items[0], second=_joined(items[1:], key))


def load_fashion_mnist(directory: str | os.PathLike | None = None) -> Split:
    """Fashion-MNIST (60 000 train, 10 000 test 28×28 images of clothes, 10 classes), pixels / 255.

    Without a folder, looks in `fashion_mnist_search_path()`: /usr/share/datasets/fashion-mnist
    (Debian's package dataset-fashion-mnist), then $XDG_CACHE_HOME (default ~/.cache)
    /tinygrad_sm/fashion-mnist. Data: © Zalando SE, MIT licence.
    """
    if directory is None:
        candidates, incomplete = [], []
        for folder in fashion_mnist_search_path():  # the first folder with all four files wins
            candidates.append(folder)
            missing = _missing_idx_files(folder)
            if not missing:
                return _load_idx_folder(folder)
            if len(missing) < len(MNIST_FILES):
                incomplete.append(Said("data.lacks", folder=folder, files=", ".join(missing)))
        details = Said("data.details", details=_joined(incomplete, "data.then")) if incomplete else ""
        raise DataNotFoundError("data.fashion_not_found", places=_joined(candidates, "data.and"),
                                details=details, howto=FASHION_MNIST_HOWTO)
    folder = Path(directory)
    if not folder.is_dir():
        raise DataNotFoundError("data.no_fashion_folder", folder=folder, howto=FASHION_MNIST_HOWTO)
    try:
        return _load_idx_folder(folder)
    except DataNotFoundError as e:
        raise DataNotFoundError("data.with_howto", error=e.message, howto=FASHION_MNIST_HOWTO) from None


def load_mnist(directory: str | os.PathLike) -> Split:
    """MNIST handwritten digits (60 000 train, 10 000 test, 28×28) from the four IDX files in
    `directory` (raw or .gz), pixels / 255."""
    folder = Path(directory)
    if not folder.is_dir():
        raise DataNotFoundError("data.no_mnist_folder", folder=folder,
                                files=", ".join(s + ".gz" for s in MNIST_FILES.values()))
    return _load_idx_folder(folder)


# ---- minibatches ----

def minibatches(X: np.ndarray, y: np.ndarray, batch_size: int,
                rng: np.random.Generator | int | None = None,
                shuffle: bool = True) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(X_batch, y_batch) pairs covering every example once; the last batch may be smaller.

    The order is a fresh permutation drawn from `rng` (a Generator, or a seed) on each call,
    so consecutive epochs that share one Generator see different orders, reproducibly.
    """
    if len(X) != len(y):
        raise ValueError(f"minibatches: X has {len(X)} rows but y has {len(y)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"minibatches: batch_size must be a whole number, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"minibatches: batch_size must be at least 1, got {batch_size}")
    return _batches(X, y, batch_size, rng, shuffle)  # checked now, not at the first batch


def _batches(X: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator | int | None,
             shuffle: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    n = len(X)
    if shuffle:
        order = np.random.default_rng(rng).permutation(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            yield X[idx], y[idx]
    else:
        for start in range(0, n, batch_size):
            yield X[start:start + batch_size], y[start:start + batch_size]


# ---- synthetic regression data (d2l §3.2) ----

def synthetic_regression(w: Sequence[float] = (2.0, -3.4), b: float = 4.2, noise: float = 0.01,
                         n: int = 1000, seed: int | np.random.Generator | None = 0,
                         dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) as in Dive into Deep Learning §3.2: X ~ N(0, 1) of shape (n, len(w)) and
    y = Xw + b + ε with ε ~ N(0, noise²), of shape (n, 1) (a column, as the model's output)."""
    w_true = np.asarray(w, dtype=np.float64)
    if w_true.ndim != 1 or w_true.size == 0:
        raise ValueError(f"synthetic_regression: w must be a non-empty list of numbers, got {w!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"synthetic_regression: n must be a whole number ≥ 1, got {n!r}")
    if not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise >= 0):
        raise ValueError(f"synthetic_regression: noise must be a number ≥ 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    X = rng.normal(0.0, 1.0, size=(n, w_true.size))
    y = X @ w_true + float(b) + rng.normal(0.0, noise, size=n)
    return X.astype(dtype), y.reshape(-1, 1).astype(dtype)
