"""Data: the bundled digits, the IDX reader on good and broken files it writes itself, the real
Fashion-MNIST files when installed, and minibatches."""
from __future__ import annotations

import gzip
import re
import subprocess
import sys
import textwrap
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest

from tinygrad_sm import data
from tinygrad_sm.data import (IMAGES_MAGIC, LABELS_MAGIC, DataError, DataNotFoundError, Split,
                              load_digits, load_fashion_mnist, load_mnist, minibatches, read_idx)

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file of unsigned bytes: magic (0, 0, 8, ndim), the sizes, then the values."""
    array = np.asarray(array, dtype=np.uint8)
    magic = 0x0800 + array.ndim if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.tobytes()


def write_idx(path: Path, array: np.ndarray, compress: bool = False, magic: int | None = None) -> Path:
    blob = idx_bytes(array, magic)
    path.write_bytes(gzip.compress(blob) if compress else blob)
    return path


def write_mnist_folder(folder: Path, n_train: int = 30, n_test: int = 10, side: int = 28,
                       seed: int = 0, compress: bool = True) -> dict[str, np.ndarray]:
    """A tiny MNIST-shaped folder; returns the arrays written."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, side, side)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, side, side)),
        "t10k-labels-idx1-ubyte": np.arange(n_test) % 10,
    }
    for stem, array in arrays.items():
        write_idx(folder / (stem + (".gz" if compress else "")), array, compress)
    return arrays


# ---- digits ----

def test_digits_split_shapes_types_and_scaling():
    split = load_digits()
    assert isinstance(split, Split)
    X_train, y_train, X_test, y_test = split  # unpacks as a 4-tuple
    assert X_train.shape == (1438, 64) and X_test.shape == (359, 64)
    assert len(y_train) + len(y_test) == 1797
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    assert X_train.min() == 0.0 and X_train.max() == 1.0
    # pixels were integers 0..16, divided by 16
    assert np.array_equal(X_train * 16, np.round(X_train * 16))
    assert split.num_features == 64 and split.num_classes == 10


def test_digits_split_is_stratified_and_fixed():
    split = load_digits()
    train_counts, test_counts = np.bincount(split.y_train), np.bincount(split.y_test)
    totals = train_counts + test_counts
    assert np.array_equal(totals, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    assert np.all(np.abs(test_counts - 0.2 * totals) <= 0.5)  # each class rounded to 20 %
    again = load_digits()
    assert all(np.array_equal(a, b) for a, b in zip(split, again))
    other = load_digits(seed=1)
    assert not np.array_equal(split.y_test, other.y_test)
    # the order is mixed: not sorted by class
    assert np.any(np.diff(split.y_train) < 0)


def test_digits_train_and_test_rows_come_from_the_csv_once():
    split = load_digits()
    rows = np.concatenate([np.column_stack([split.X_train * 16, split.y_train]),
                           np.column_stack([split.X_test * 16, split.y_test])])
    source = data.resources.files("tinygrad_sm").joinpath("datasets/digits.csv.gz")
    with source.open("rb") as raw, gzip.open(raw, "rt") as text:
        table = np.loadtxt(text, delimiter=",")
    as_sorted = lambda a: a[np.lexsort(a.T[::-1])]
    assert np.array_equal(as_sorted(rows), as_sorted(table))


def test_digits_bad_fraction():
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits(test_fraction=1.5)


# ---- IDX reader ----

@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, compress):
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    labels = np.array([3, 1])
    path = write_idx(tmp_path / "images", images, compress)
    assert np.array_equal(read_idx(path, IMAGES_MAGIC), images)
    got = read_idx(write_idx(tmp_path / "labels", labels, compress), LABELS_MAGIC)
    assert got.dtype == np.uint8 and np.array_equal(got, labels)


def test_read_idx_wrong_magic_names_file_and_both_numbers(tmp_path):
    path = write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros(5))  # a labels file
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: magic number 2049 \(a labels "
                                        r"file\), expected 2051"):
        read_idx(path, IMAGES_MAGIC)
    junk = tmp_path / "junk"
    junk.write_bytes(b"<html>not found</html>")
    with pytest.raises(DataError, match="junk: magic number .* expected 2049"):
        read_idx(junk, LABELS_MAGIC)


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_truncated_and_too_long(tmp_path, compress):
    blob = idx_bytes(np.ones((3, 4, 4)))
    path = tmp_path / "cut"
    path.write_bytes(gzip.compress(blob[:-5]) if compress else blob[:-5])
    with pytest.raises(DataError, match=r"cut: truncated: the header gives shape \(3, 4, 4\), "
                                        r"so 64 bytes are expected, found 59"):
        read_idx(path, IMAGES_MAGIC)
    path.write_bytes(blob + b"\0")
    with pytest.raises(DataError, match="longer than its header says"):
        read_idx(path, IMAGES_MAGIC)
    path.write_bytes(blob[:10])  # inside the dimension sizes
    with pytest.raises(DataError, match="truncated header"):
        read_idx(path, IMAGES_MAGIC)
    path.write_bytes(b"\0\0")
    with pytest.raises(DataError, match="only 2 bytes"):
        read_idx(path, IMAGES_MAGIC)


def test_read_idx_broken_gzip(tmp_path):
    packed = gzip.compress(idx_bytes(np.ones((50, 28, 28))))
    path = tmp_path / "half.gz"
    path.write_bytes(packed[:len(packed) // 2])
    with pytest.raises(DataError, match="half.gz: broken gzip data"):
        read_idx(path, IMAGES_MAGIC)


@pytest.mark.parametrize("shape", [(2 ** 22, 2 ** 22, 2 ** 20), (2 ** 32 - 1, 2 ** 32 - 1, 1)])
def test_read_idx_sizes_that_overflow_int64(tmp_path, shape):
    """np.prod of these wraps around in int64 (to 0, or to a negative number)."""
    path = tmp_path / "huge-idx3"
    path.write_bytes(IMAGES_MAGIC.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in shape))
    with pytest.raises(DataError, match=rf"huge-idx3: broken header: shape \({shape[0]}, "
                                        rf"{shape[1]}, {shape[2]}\) would be {np.prod(shape, dtype=object)} bytes"):
        read_idx(path, IMAGES_MAGIC)


def test_read_idx_claim_larger_than_the_file(tmp_path):
    path = tmp_path / "claims"
    blob = IMAGES_MAGIC.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (2 ** 20,) * 3)
    path.write_bytes(blob + b"\1" * 10)
    with pytest.raises(DataError, match=rf"claims: truncated: .* so {2 ** 60 + 16} bytes are "
                                        "expected, found 26"):
        read_idx(path, IMAGES_MAGIC)
    path.write_bytes(gzip.compress(blob + b"\1" * 10))
    size = path.stat().st_size
    with pytest.raises(DataError, match=rf"claims: broken header: shape \(1048576, 1048576, "
                                        rf"1048576\) means {2 ** 60 + 16} bytes, but a gzip file "
                                        rf"of {size} bytes unpacks to at most {size * 1032}"):
        read_idx(path, IMAGES_MAGIC)


def gzip_bomb(path: Path, shape: tuple[int, ...], unpacked: int) -> Path:
    """An images header claiming `shape`, then `unpacked` bytes of zeros, gzipped: one 16 MiB
    member of zeros packed once and repeated (a .gz may hold several members), so it is quick."""
    header = IMAGES_MAGIC.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in shape)
    member = gzip.compress(bytes(16 << 20), compresslevel=9)
    with path.open("wb") as out:
        out.write(gzip.compress(header))
        for _ in range(unpacked >> 24):
            out.write(member)
    return path


PEAK_SCRIPT = textwrap.dedent("""
    import json, resource, sys
    from tinygrad_sm import data
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        data.read_idx(sys.argv[1], data.IMAGES_MAGIC)
        said = "read"
    except data.DataError as e:
        said = str(e)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps([said, (after - before) * 1024]))
""")


def peak_of_reading(path: Path) -> tuple[str, int]:
    """What read_idx says of `path` and the growth of peak memory it caused, in a fresh process."""
    import json
    run = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(path)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    said, grown = json.loads(run.stdout)
    return said, grown


def test_a_bomb_claiming_more_than_gzip_can_hold_is_refused_from_its_header(tmp_path):
    """1 GiB of zeros in a 1.04 MB .gz behind a header claiming 65536³ bytes: deflate gives at
    most 1032 bytes per byte, so the claim is refused before anything is unpacked."""
    path = gzip_bomb(tmp_path / "bomb-idx3.gz", (65536, 65536, 65536), 1 << 30)
    assert 1_000_000 < path.stat().st_size < 1_100_000
    said, grown = peak_of_reading(path)
    assert said.startswith(f"{path}: broken header: shape (65536, 65536, 65536) means "
                           f"{2 ** 48 + 16} bytes, but a gzip file of"), said
    assert grown < 100 << 20, f"peak memory grew by {grown / 2 ** 20:.0f} MB"


def test_a_bomb_claiming_4_million_images_is_refused_by_the_cap(tmp_path):
    """A header for 4 000 000 images of 28 × 28 (3.1 GB) and the zeros to fill it (a 3 MB .gz):
    plausible for gzip, but more than MAX_IDX_BYTES, so refused before unpacking."""
    shape = (4_000_000, 28, 28)
    path = gzip_bomb(tmp_path / "many-idx3.gz", shape, 4_000_000 * 784 + (16 << 20))
    assert 16 + 4_000_000 * 784 <= path.stat().st_size * 1032  # deflate could unpack that much
    said, grown = peak_of_reading(path)
    assert said == (f"{path}: the header gives shape {shape}, {4_000_000 * 784} bytes, more "
                    f"than the {1 << 30} bytes an IDX file may hold here (raise "
                    "tinygrad_sm.data.MAX_IDX_BYTES to read it)"), said
    assert grown < 100 << 20, f"peak memory grew by {grown / 2 ** 20:.0f} MB"


def test_the_cap_can_be_raised_and_the_most_packed_gzip_still_reads(tmp_path, monkeypatch):
    """Zeros packed at level 9 come close to deflate's 1032:1 and are still read; the cap is a
    setting: a file over it reads once it is raised."""
    zeros = np.zeros((3000, 28, 28))
    path = write_idx(tmp_path / "zeros-idx3.gz", zeros, compress=True)
    assert path.stat().st_size * 900 < zeros.size  # packed about 1000:1
    np.testing.assert_array_equal(read_idx(path, IMAGES_MAGIC), zeros)
    monkeypatch.setattr(data, "MAX_IDX_BYTES", 1000)
    with pytest.raises(DataError, match=r"zeros-idx3.gz: the header gives shape \(3000, 28, 28\), "
                                        r"2352000 bytes, more than the 1000 bytes"):
        read_idx(path, IMAGES_MAGIC)
    monkeypatch.setattr(data, "MAX_IDX_BYTES", 1 << 30)
    assert read_idx(path, IMAGES_MAGIC).shape == (3000, 28, 28)


@pytest.mark.parametrize("array, magic", [(np.zeros((0, 28, 28)), IMAGES_MAGIC),
                                          (np.zeros((5, 0, 28)), IMAGES_MAGIC),
                                          (np.zeros(0), LABELS_MAGIC)])
def test_read_idx_with_no_items(tmp_path, array, magic):
    path = write_idx(tmp_path / "empty-idx", array, compress=True)
    with pytest.raises(DataError, match=r"empty-idx: empty: the header gives shape \(.*\), so it "
                                        "holds no (images|labels)"):
        read_idx(path, magic)


def test_mnist_folder_with_zero_images_names_the_file(tmp_path):
    write_mnist_folder(tmp_path, n_test=0)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz: empty"):
        load_mnist(tmp_path)


def test_gzip_bomb_is_not_unpacked(tmp_path):
    """A valid header for 2 tiny images, then 256 MB of zeros: about 250 kB gzipped. The reader
    stops one byte after what the header announces instead of unpacking everything."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip framing
    pieces = [packer.compress(idx_bytes(np.ones((2, 2, 2))))]
    zeros = bytes(1 << 20)
    pieces += [packer.compress(zeros) for _ in range(256)] + [packer.flush()]
    path = tmp_path / "bomb.gz"
    path.write_bytes(b"".join(pieces))
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="bomb.gz: longer than its header says"):
            read_idx(path, IMAGES_MAGIC)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"{peak / 2 ** 20:.0f} MB held while reading"


def test_read_idx_corrupt_deflate_data(tmp_path):
    packed = bytearray(gzip.compress(idx_bytes(np.arange(4000).reshape(10, 20, 20))))
    packed[20:40] = b"\xff" * 20  # inside the deflate stream
    path = tmp_path / "corrupt.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(DataError, match="corrupt.gz: broken gzip data"):
        read_idx(path, IMAGES_MAGIC)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(DataNotFoundError, match="nothere: file not found"):
        read_idx(tmp_path / "nothere", LABELS_MAGIC)
    assert issubclass(DataNotFoundError, FileNotFoundError) and issubclass(DataNotFoundError, DataError)


# ---- folders of IDX files ----

@pytest.mark.parametrize("compress", [False, True])
def test_load_mnist_small_folder(tmp_path, compress):
    arrays = write_mnist_folder(tmp_path, compress=compress)
    split = load_mnist(tmp_path)
    assert split.X_train.shape == (30, 784) and split.X_test.shape == (10, 784)
    assert split.X_train.dtype == np.float32 and split.y_train.dtype == np.int64
    np.testing.assert_allclose(split.X_train, arrays["train-images-idx3-ubyte"].reshape(30, -1) / 255,
                               rtol=1e-6)
    assert np.array_equal(split.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert load_fashion_mnist(tmp_path).X_test.shape == (10, 784)


def test_load_mnist_mismatched_counts(tmp_path):
    write_mnist_folder(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(7), compress=True)
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz holds 10 images but "
                                        r".*t10k-labels-idx1-ubyte.gz holds 7 labels"):
        load_mnist(tmp_path)


def test_load_mnist_bad_label_and_image_size(tmp_path):
    write_mnist_folder(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.full(30, 12), compress=True)
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: label 12 found, expected 0..9"):
        load_mnist(tmp_path)
    write_mnist_folder(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((10, 20, 20)), compress=True)
    with pytest.raises(DataError, match="images are 20×20 but the training images are 28×28"):
        load_mnist(tmp_path)


def test_load_mnist_missing_file_and_folder(tmp_path):
    write_mnist_folder(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataNotFoundError, match="neither train-labels-idx1-ubyte.gz nor "
                                                "train-labels-idx1-ubyte is there"):
        load_mnist(tmp_path)
    with pytest.raises(DataNotFoundError, match="no such folder for MNIST. Download the four IDX"):
        load_mnist(tmp_path / "absent")
    with pytest.raises(DataNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path / "absent")
    with pytest.raises(DataNotFoundError, match="train-labels-idx1-ubyte is there .* apt-get install"):
        load_fashion_mnist(tmp_path)  # a folder with a file missing: also says how to get them


def test_fashion_mnist_search_path(tmp_path, monkeypatch):
    first, second = tmp_path / "system", tmp_path / "cache"
    monkeypatch.setattr(data, "fashion_mnist_search_path", lambda: [first, second])
    with pytest.raises(DataNotFoundError, match=f"looked in {first} and {second}.*apt-get install "
                                                "dataset-fashion-mnist"):
        load_fashion_mnist()
    write_mnist_folder(second, n_train=20)
    assert len(load_fashion_mnist().y_train) == 20
    write_mnist_folder(first, n_train=40)  # the first place wins
    assert len(load_fashion_mnist().y_train) == 40


def test_fashion_mnist_search_skips_an_incomplete_folder(tmp_path, monkeypatch):
    first, second = tmp_path / "system", tmp_path / "cache"
    monkeypatch.setattr(data, "fashion_mnist_search_path", lambda: [first, second])
    write_mnist_folder(first, n_train=40)
    (first / "t10k-labels-idx1-ubyte.gz").unlink()       # train-images is there, a file is not
    (first / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataNotFoundError) as error:
        load_fashion_mnist()
    message = str(error.value)
    assert f"looked in {first} and {second}" in message
    assert f"{first} lacks train-labels-idx1-ubyte, t10k-labels-idx1-ubyte" in message
    assert "sudo apt-get install dataset-fashion-mnist" in message
    write_mnist_folder(second, n_train=20)
    assert len(load_fashion_mnist().y_train) == 20        # the next, complete folder is used


def test_default_search_path_documents_debian_then_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert list(data.fashion_mnist_search_path()) == [FASHION_DIR,
                                                      tmp_path / "tinygrad_sm" / "fashion-mnist"]
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert list(data.fashion_mnist_search_path())[1] == Path.home() / ".cache/tinygrad_sm/fashion-mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # not a valid XDG value: ignored
    assert list(data.fashion_mnist_search_path())[1] == Path.home() / ".cache/tinygrad_sm/fashion-mnist"


def no_home(monkeypatch) -> None:
    """HOME unset and no passwd entry for this user: Path.home() cannot name a folder."""
    def no_entry(uid):
        raise KeyError(f"getpwuid(): uid not found: {uid}")
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr("pwd.getpwuid", no_entry)
    with pytest.raises((KeyError, RuntimeError)):
        Path.home()


def test_search_without_a_home_skips_the_cache_folder(tmp_path, monkeypatch):
    no_home(monkeypatch)
    monkeypatch.setattr(data, "SYSTEM_FASHION_MNIST", tmp_path / "system")
    assert list(data.fashion_mnist_search_path()) == [tmp_path / "system"]
    with pytest.raises(DataNotFoundError, match=f"looked in {tmp_path / 'system'}\\. On Debian"):
        load_fashion_mnist()
    write_mnist_folder(tmp_path / "system", n_train=20)
    assert len(load_fashion_mnist().y_train) == 20


@pytest.mark.skipif(not (FASHION_DIR / "train-images-idx3-ubyte.gz").exists(),
                    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_real_fashion_mnist_files():
    split = load_fashion_mnist()
    assert split.X_train.shape == (60000, 784) and split.X_test.shape == (10000, 784)
    assert split.X_train.dtype == np.float32 and split.y_test.dtype == np.int64
    assert split.X_train.min() == 0.0 and split.X_train.max() == 1.0
    assert np.array_equal(np.bincount(split.y_train), [6000] * 10)
    assert np.array_equal(np.bincount(split.y_test), [1000] * 10)
    # the IDX reader on the real files, read directly
    labels = read_idx(FASHION_DIR / "t10k-labels-idx1-ubyte.gz", LABELS_MAGIC)
    assert np.array_equal(labels, split.y_test)


# ---- minibatches ----

def test_minibatches_cover_everything_once_and_stay_paired():
    X = np.arange(23, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    y = np.arange(23)
    batches = list(minibatches(X, y, 5, rng=0))
    assert [len(b[1]) for b in batches] == [5, 5, 5, 5, 3]
    seen = np.concatenate([b[1] for b in batches])
    assert sorted(seen) == list(range(23)) and not np.array_equal(seen, y)
    for xb, yb in batches:
        assert np.array_equal(xb[:, 0], yb)


def test_minibatches_seeded_order():
    X, y = np.zeros((50, 2)), np.arange(50)
    order = lambda rng: np.concatenate([b for _, b in minibatches(X, y, 8, rng)])
    assert np.array_equal(order(3), order(3))
    assert not np.array_equal(order(3), order(4))
    shared = np.random.default_rng(3)  # one Generator across epochs: a new order each epoch
    first, second = order(shared), order(shared)
    assert not np.array_equal(first, second)
    shared = np.random.default_rng(3)
    assert np.array_equal(order(shared), first)
    assert np.array_equal(np.concatenate([b for _, b in minibatches(X, y, 8, shuffle=False)]), y)


def test_minibatches_errors():
    with pytest.raises(ValueError, match="X has 3 rows but y has 2"):
        list(minibatches(np.zeros((3, 1)), np.zeros(2), 1))
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        list(minibatches(np.zeros((3, 1)), np.zeros(3), 0))
    for bad in (2.5, "4", True, None):
        with pytest.raises(TypeError, match=rf"minibatches: batch_size must be a whole number, "
                                            rf"got {re.escape(repr(bad))}"):
            minibatches(np.zeros((3, 1)), np.zeros(3), bad)  # at the call, not at the first batch
    assert len(list(minibatches(np.zeros((3, 1)), np.zeros(3), np.int64(2)))) == 2
