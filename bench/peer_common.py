"""What the Python peers of the benchmark comparison (bench/numpy_peer.py, bench/torch_peer.py)
share: the workload constants, the command line, the MNIST-format files read as bytes, and the
median of the timed rounds.

Standard library only: a peer parses its arguments with this module and sets the thread counts
in the environment before it imports NumPy or PyTorch, which read them when they load.
"""

import argparse
import gzip
import os
import time
import zlib

NAMES = ["W1", "W2", "W3-784-100-10", "W3-784-50-10", "W4-deep-sigmoid", "W4-784-100-10",
         "W5-LeNet", "W5-SimpleConvNet", "W5-LeNet-infer", "W5-SimpleConvNet-infer",
         "W6-GRU-8", "W6-GRU-16", "W6-GRU-32", "W6-LSTM-8", "W6-LSTM-16", "W6-LSTM-32",
         "W6-Conv1d-d1", "W6-Conv1d-d4", "W6-Dense-8", "W6-Dense-16", "W6-Dense-32", "W6-BPTT"]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

W1_STEPS = 2_000  # SGD steps in one W1 round
W4_CALLS = 5_000  # calls in one W4 round
W3_SAMPLES = 60_000
W3_BATCH = 100
SHIPPED_COPIES = 6  # the repository's 10,000 digits, six times over, make W3's 60,000 samples
W5_STEPS = W3_SAMPLES // W3_BATCH  # steps in one W5 epoch (600 batches of 100 images)
W5_CALLS = 200  # single-image calls in one W5 inference round
W6_STEPS = 2_000  # per-sample calls in one W6 streaming round of a Python peer (~75 µs each)
W6_RING = 4096  # W6's input ring of one-value frames (256 frames of 8 values for Conv1d)
W6_HIDDEN = (8, 16, 32)  # W6's GRU and LSTM widths
W6_DILATIONS = (1, 4)  # W6's causal Conv1d 8 -> 8, kernel 3
W6_BPTT_SEQUENCES = 16  # W6-BPTT: one Adam step on 16 sequences ...
W6_BPTT_LENGTH = 256  # ... of 256 samples
W6_BPTT_STEPS = 5  # BPTT steps in one round of a Python peer (~37 ms each)


def parse_args(argv, doc, extra=None):
    """The options every peer takes (`--rounds`, `--threads`, `--data`, `--only`, the last one
    split at the commas); `extra(parser)` may add the peer's own. `doc` is the peer's docstring,
    whose first paragraph describes it in `--help`."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    positive = lambda v: int(v) if int(v) > 0 else p.error(f"`{v}` is not a positive count")
    p.add_argument("--rounds", type=positive, default=5)
    p.add_argument("--threads", type=positive, default=1)
    p.add_argument("--data", default=None)
    p.add_argument("--only", default=None)
    p.add_argument("--w5-steps", type=positive, default=W5_STEPS,
                   help="time this many W5 steps and report seconds per epoch as their time x "
                        f"{W5_STEPS} / steps (default {W5_STEPS}: a whole epoch)")
    if extra is not None:
        extra(p)
    args = p.parse_args(argv)
    args.only = None if args.only is None else args.only.split(",")
    return args


def read_idx(path, magic, dims):
    """(shape as a list of `dims` sizes, the uint8 data as a bytearray) of the IDX file `path`
    (raw or gzip), which must have `magic` and `dims` dimensions; a bad file ends the program
    with `error: <path>: ...`."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            header = f.read(4 + 4 * dims)
            if len(header) < 4 + 4 * dims:
                raise ValueError("shorter than its header")
            found = int.from_bytes(header[:4], "big")
            if found != magic:
                raise ValueError(f"magic number {found}, expected {magic}")
            shape = [int.from_bytes(header[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
            size = 1
            for d in shape:
                size *= d
            if size > 1 << 32:  # the largest MNIST-format set is 47 MB: refuse before allocating
                raise ValueError(f"the header claims {size} bytes of data")
            buf = bytearray(size)  # the peers' arrays and tensors share it: no copy
            view, read = memoryview(buf), 0
            while read < size:
                got = f.readinto(view[read:])
                if not got:
                    break
                read += got
            if read != size:
                raise ValueError(f"{read} bytes of data, the header promises {size}")
            if f.read(1):
                raise ValueError("longer than its header says")
    except OSError as e:  # missing, unreadable, not gzip
        raise SystemExit(f"error: {path}: {e.strerror or e}")
    except (EOFError, ValueError, zlib.error) as e:
        raise SystemExit(f"error: {path}: not a valid IDX file: {e or 'truncated'}")
    return shape, buf


def find(directory, stem):
    plain = os.path.join(directory, stem)
    return plain if os.path.isfile(plain) else plain + ".gz"


def training_bytes(directory):
    """W3's training set as (images: bytearray of n * 784 uint8 pixels, row after row, n,
    labels: bytearray of n uint8 labels below 10, copies): from the MNIST-format `directory`
    with copies = 1, or with `directory` None the repository's digits with copies =
    SHIPPED_COPIES, which the peer repeats that many times. Checked: copies * n is at least
    W3_SAMPLES; anything wrong ends the program with `error: ...`."""
    if directory is None:
        shipped = os.path.join(REPO, "data", "mnist-10k")
        image_shape, images = read_idx(os.path.join(shipped, "images-idx3-ubyte.gz"), 2051, 3)
        label_shape, labels = read_idx(os.path.join(shipped, "labels-idx1-ubyte.gz"), 2049, 1)
        copies = SHIPPED_COPIES
    else:
        image_shape, images = read_idx(find(directory, "train-images-idx3-ubyte"), 2051, 3)
        label_shape, labels = read_idx(find(directory, "train-labels-idx1-ubyte"), 2049, 1)
        copies = 1
    n, rows, cols = image_shape
    if label_shape[0] != n:
        raise SystemExit(f"error: {n} images but {label_shape[0]} labels")
    if rows * cols != 784:
        raise SystemExit(f"error: images of {rows}x{cols} pixels; W3 needs 784")
    if n and max(labels) >= 10:
        raise SystemExit(f"error: label {max(labels)}; W3 needs labels below 10")
    if copies * n < W3_SAMPLES:
        raise SystemExit(f"error: {copies * n} samples; W3 needs {W3_SAMPLES}")
    return images, n, labels, copies


def median(rounds, per, f):
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) / per)
    times.sort()
    return times[len(times) // 2]
