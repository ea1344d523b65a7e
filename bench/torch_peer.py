#!/usr/bin/env python3
"""typenet's speed workloads (examples/bench.rs, benches/workloads.rs) in idiomatic PyTorch on
the CPU, in float32, as a peer in the benchmark comparison (bench/compare.py).

    python3 bench/torch_peer.py [--rounds N] [--threads T] [--data DIR] [--only A,B]

It prints one line per workload, `<name> <median seconds>`, in this order:

- `W1` (seconds per SGD step): `nn.Sequential` of 10 -> five `nn.Linear(.., 32)` + `nn.Sigmoid`
  -> `nn.Linear(32, 2)` + `nn.Sigmoid`, one sample `x_i = i / 10` (a batch of 1) with target
  (0.2, 0.8), loss `0.5 * ((y - t) ** 2).sum()`, `torch.optim.SGD` at 0.01.
- `W2` (seconds per run): a fresh 2-2-2 sigmoid network trained on the seeds' nine points
  (scaled by 1/20, targets one-hot smoothed to 0.01/0.99), batch 1, 1000 epochs, SGD at 2,
  the same half-SSE loss.
- `W3-784-100-10`, `W3-784-50-10` (seconds per epoch): `nn.Linear(784, H)`, `nn.ReLU`,
  `nn.Linear(H, 10)` (He-normal weights, zero biases), `nn.CrossEntropyLoss` on the logits,
  SGD at 0.1, batches of 100; one epoch = the samples shuffled, then 600 steps over 60,000
  samples. The images stay uint8 and each batch is converted (`/ 255`) when it is used.
- `W4-deep-sigmoid`, `W4-784-100-10` (seconds per call): one sample `x_i = (i mod 7) / 7`
  forward through the W1 network and through 784-100-10, under `torch.inference_mode()`.

Every step is `opt.zero_grad(set_to_none=True)`, `loss.backward()`, `opt.step()`.

Options (the same for every program in the comparison):

- `--rounds N`: each figure is the median of N rounds (default 5).
- `--threads T`: `torch.set_num_threads(T)` (default 1); OpenMP/MKL are also told by the
  environment before torch is imported.
- `--data DIR`: W3's samples from an MNIST-format directory holding `train-images-idx3-ubyte`
  and `train-labels-idx1-ubyte` (raw or `.gz`; at least 60,000 samples, e.g. Fashion-MNIST);
  default: the repository's 10,000 digits (`data/mnist-10k`) six times over.
- `--only A,B`: just these workloads (unknown names are ignored).
"""

import argparse
import gzip
import os
import sys
import time
import zlib

NAMES = ["W1", "W2", "W3-784-100-10", "W3-784-50-10", "W4-deep-sigmoid", "W4-784-100-10"]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

W1_STEPS = 2_000  # SGD steps in one W1 round
W4_CALLS = 5_000  # calls in one W4 round
W3_SAMPLES = 60_000
W3_BATCH = 100


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    positive = lambda v: int(v) if int(v) > 0 else p.error(f"`{v}` is not a positive count")
    p.add_argument("--rounds", type=positive, default=5)
    p.add_argument("--threads", type=positive, default=1)
    p.add_argument("--data", default=None)
    p.add_argument("--only", default=None)
    args = p.parse_args(argv)
    args.only = None if args.only is None else args.only.split(",")
    return args


ARGS = parse_args(sys.argv[1:])
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import torch  # noqa: E402
from torch import nn  # noqa: E402


def read_idx(path, magic, dims):
    """The uint8 tensor of the IDX file `path` (raw or gzip), which must have `magic` and `dims`
    dimensions."""
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
            buf = bytearray(size)  # the tensor below shares it: no copy
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
    if size == 0:
        return torch.empty(shape, dtype=torch.uint8)
    return torch.frombuffer(buf, dtype=torch.uint8).reshape(shape)


def find(directory, stem):
    plain = os.path.join(directory, stem)
    return plain if os.path.isfile(plain) else plain + ".gz"


def training_set(directory):
    """(images as uint8 [n, 784], labels as int64 [n]), at least 60,000 of them."""
    if directory is None:
        shipped = os.path.join(REPO, "data", "mnist-10k")
        images = read_idx(os.path.join(shipped, "images-idx3-ubyte.gz"), 2051, 3)
        labels = read_idx(os.path.join(shipped, "labels-idx1-ubyte.gz"), 2049, 1)
    else:
        images = read_idx(find(directory, "train-images-idx3-ubyte"), 2051, 3)
        labels = read_idx(find(directory, "train-labels-idx1-ubyte"), 2049, 1)
    n, rows, cols = images.shape
    if labels.shape[0] != n:
        raise SystemExit(f"error: {n} images but {labels.shape[0]} labels")
    if rows * cols != 784:
        raise SystemExit(f"error: images of {rows}x{cols} pixels; W3 needs 784")
    if n and int(labels.max()) >= 10:
        raise SystemExit(f"error: label {int(labels.max())}; W3 needs labels below 10")
    images, labels = images.reshape(n, 784), labels.long()
    if directory is None:
        images, labels = images.repeat(6, 1), labels.repeat(6)
    if images.shape[0] < W3_SAMPLES:
        raise SystemExit(f"error: {images.shape[0]} samples; W3 needs {W3_SAMPLES}")
    return images, labels


def deep_sigmoid():
    layers = []
    for fan_in, fan_out in [(10, 32), (32, 32), (32, 32), (32, 32), (32, 32), (32, 2)]:
        layers += [nn.Linear(fan_in, fan_out), nn.Sigmoid()]
    return nn.Sequential(*layers)


def mlp(hidden):
    net = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    for layer in (net[0], net[2]):
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
        nn.init.zeros_(layer.bias)
    return net


def half_sse(y, t):
    return 0.5 * ((y - t) ** 2).sum()


def median(rounds, per, f):
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) / per)
    times.sort()
    return times[len(times) // 2]


def main():
    args = ARGS
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}: threads {torch.get_num_threads()}, "
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}",
        file=sys.stderr,
    )
    wants = lambda name: name in args.only if args.only is not None else name != "GEMM-512"
    report = lambda name, seconds: print(f"{name} {seconds:.9f}", flush=True)

    if wants("W1"):
        torch.manual_seed(0)
        net = deep_sigmoid()
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
        x = (torch.arange(10, dtype=torch.float32) / 10).reshape(1, 10)
        t = torch.tensor([[0.2, 0.8]])

        def w1():
            for _ in range(W1_STEPS):
                opt.zero_grad(set_to_none=True)
                loss = half_sse(net(x), t)
                loss.backward()
                opt.step()

        report("W1", median(args.rounds, W1_STEPS, w1))

    if wants("W2"):
        points = torch.tensor(
            [[2, 4], [4, 11], [6, 6], [8, 5], [10, 7], [12, 16], [14, 8], [16, 3], [18, 7]],
            dtype=torch.float32,
        ) / 20
        labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 1])
        targets = torch.full((9, 2), 0.01)
        targets[torch.arange(9), labels] = 0.99
        samples = list(zip(points.split(1), targets.split(1)))

        def w2():
            torch.manual_seed(2)
            net = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 2), nn.Sigmoid())
            opt = torch.optim.SGD(net.parameters(), lr=2.0)
            for _ in range(1000):
                for x, t in samples:
                    opt.zero_grad(set_to_none=True)
                    loss = half_sse(net(x), t)
                    loss.backward()
                    opt.step()
            return net

        report("W2", median(args.rounds, 1, w2))

    sizes = [h for h in (100, 50) if wants(f"W3-784-{h}-10")]
    if sizes:
        images, labels = training_set(args.data)
        loss_fn = nn.CrossEntropyLoss()
        for hidden in sizes:
            torch.manual_seed(3)
            net = mlp(hidden)
            opt = torch.optim.SGD(net.parameters(), lr=0.1)

            def epoch():
                order = torch.randperm(images.shape[0])
                for batch in order[:W3_SAMPLES].split(W3_BATCH):
                    x = images[batch].float().div_(255)
                    y = labels[batch]
                    opt.zero_grad(set_to_none=True)
                    loss = loss_fn(net(x), y)
                    loss.backward()
                    opt.step()

            report(f"W3-784-{hidden}-10", median(args.rounds, 1, epoch))

    torch.manual_seed(4)
    deep, mnist = deep_sigmoid(), mlp(100)
    for name, net, inputs in (("W4-deep-sigmoid", deep, 10), ("W4-784-100-10", mnist, 784)):
        if wants(name):
            x = ((torch.arange(inputs) % 7) / 7).reshape(1, inputs)

            def w4():
                with torch.inference_mode():
                    for _ in range(W4_CALLS):
                        net(x)

            report(name, median(args.rounds, W4_CALLS, w4))


if __name__ == "__main__":
    main()
