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

- `W5-LeNet`, `W5-SimpleConvNet` (seconds per epoch): LeNet-5 (`nn.Conv2d(1, 6, 5)`, ReLU,
  `nn.MaxPool2d(2)`, `nn.Conv2d(6, 16, 5)`, ReLU, `nn.MaxPool2d(2)`, `nn.Flatten`,
  `nn.Linear(256, 120)`, ReLU, `nn.Linear(120, 84)`, ReLU, `nn.Linear(84, 10)`) and
  SimpleConvNet (`nn.Conv2d(1, 30, 5)`, ReLU, `nn.MaxPool2d(2)`, `nn.Flatten`,
  `nn.Linear(4320, 100)`, ReLU, `nn.Linear(100, 10)`), He-normal weights, zero biases,
  `nn.CrossEntropyLoss`, SGD at 0.1, batches of 100 images (W3's samples as 1x28x28 images,
  converted `/ 255` when used), 600 steps an epoch. With `--w5-steps N` only the first N steps
  are timed and the time is scaled to 600.
- `W5-LeNet-infer`, `W5-SimpleConvNet-infer` (seconds per image): one image, pixel (y, x) =
  `((28 y + x) mod 7) / 7`, a batch of one, under `torch.inference_mode()`.

- `W6-GRU-H`, `W6-LSTM-H` for H = 8, 16, 32 (seconds per sample): `nn.GRU(1, H)` (or
  `nn.LSTM(1, H)`) then `nn.Linear(H, 1)`, streamed as RTNeural streams: one call of each per
  sample, the input a `(1, 1, 1)` tensor, the hidden state (and the LSTM's cell) returned by one
  call passed to the next, under `torch.inference_mode()`. Every parameter uniform in
  `[-1, 1]`, the inputs a ring of 4,096 frames `sin(0.05 t)` (typenet's method,
  `benches/workloads.rs`). With `--w6-steps N` (default 2,000) steps a round.
- `W6-Conv1d-d1`, `W6-Conv1d-d4` (seconds per sample): `nn.Conv1d(8, 8, 3, dilation=D)`, one
  8-channel sample at a time, causal. The cheapest honest per-sample formulation in eager
  PyTorch: the last `2D + 1` frames kept twice over in a `(1, 8, 2 (2D + 1))` buffer (the
  doubled ring: frame t is written at `t mod (2D + 1)` and at that plus `2D + 1`, in one
  slice assignment), so that the receptive field is always one contiguous slice, a view; the
  module is called on that view (output length 1). Inputs: a ring of 256 frames, channel c of
  frame t `sin(0.05 t + c)`.
- `W6-BPTT` (seconds per step): one training step of `nn.GRU(1, 16)` + `nn.Linear(16, 1)`
  (PyTorch's default initialisation) on 16 sequences of 256 samples (one `(256, 16, 1)`
  tensor, one call of the GRU over the whole sequence), `nn.MSELoss` over every output,
  `torch.optim.Adam` at 1e-3: zero_grad, forward, loss, backward through time, step. Input
  of sequence s at step t `sin(0.05 t + 0.4 s)`, target `0.5 tanh(2 x)`. Five steps a round.

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

import os
import sys

sys.dont_write_bytecode = True  # importing peer_common must not leave bench/__pycache__
from peer_common import (W1_STEPS, W3_BATCH, W3_SAMPLES, W4_CALLS, W5_CALLS, W5_STEPS,
                         W6_BPTT_LENGTH, W6_BPTT_SEQUENCES, W6_BPTT_STEPS, W6_DILATIONS, W6_HIDDEN,
                         W6_RING, W6_STEPS, median, parse_args, training_bytes)

ARGS = parse_args(
    sys.argv[1:], __doc__,
    lambda p: p.add_argument("--w6-steps", type=int, default=W6_STEPS,
                             help=f"per-sample steps in one W6 streaming round (default {W6_STEPS})"),
)
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import torch  # noqa: E402
from torch import nn  # noqa: E402


def training_set(directory):
    """(images as uint8 [n, 784], labels as int64 [n]), at least 60,000 of them."""
    images, n, labels, copies = training_bytes(directory)
    # The tensors share the bytearrays: no copy.
    images = torch.frombuffer(images, dtype=torch.uint8).reshape(n, 784)
    labels = torch.frombuffer(labels, dtype=torch.uint8).long()
    if copies > 1:
        images, labels = images.repeat(copies, 1), labels.repeat(copies)
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


def lenet():
    return he(nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    ))


def simple_conv_net():
    return he(nn.Sequential(
        nn.Conv2d(1, 30, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(4320, 100), nn.ReLU(), nn.Linear(100, 10),
    ))


def he(net):
    for layer in net:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    return net


def uniform(*modules):
    """Every parameter of `modules` uniform in [-1, 1], as RTNeural's benchmark draws them."""
    with torch.no_grad():
        for m in modules:
            for p in m.parameters():
                p.uniform_(-1.0, 1.0)


def w6(args, wants, report):
    """The W6 workloads (issue 14): per-sample streaming and one step of BPTT."""
    steps = args.w6_steps
    t = torch.arange(W6_RING, dtype=torch.float32)
    ring = list(torch.sin(0.05 * t).reshape(W6_RING, 1, 1, 1).unbind(0))  # (1, 1, 1) frames
    for kind, cls in (("GRU", nn.GRU), ("LSTM", nn.LSTM)):
        for hidden in W6_HIDDEN:
            name = f"W6-{kind}-{hidden}"
            if not wants(name):
                continue
            torch.manual_seed(100 + hidden)
            rnn, head = cls(1, hidden), nn.Linear(hidden, 1)
            uniform(rnn, head)
            carried = [None]  # the state, from round to round

            def stream():
                with torch.inference_mode():
                    state, y = carried[0], None
                    for i in range(steps):
                        out, state = rnn(ring[i % W6_RING], state)
                        y = head(out)
                    carried[0] = state
                return y

            stream()  # warm-up
            report(name, median(args.rounds, steps, stream))

    frames = torch.sin(0.05 * torch.arange(256, dtype=torch.float32)[:, None]
                       + torch.arange(8, dtype=torch.float32)[None, :])
    frames = list(frames.reshape(256, 1, 8, 1).unbind(0))  # (1, 8, 1) frames
    for dilation in W6_DILATIONS:
        name = f"W6-Conv1d-d{dilation}"
        if not wants(name):
            continue
        torch.manual_seed(300 + dilation)
        conv = nn.Conv1d(8, 8, 3, dilation=dilation)
        uniform(conv)
        span = 2 * dilation + 1
        buf = torch.zeros(1, 8, 2 * span)
        where = [0]  # the ring position, from round to round

        def stream():
            with torch.inference_mode():
                pos, y = where[0], None
                for i in range(steps):
                    buf[:, :, pos::span] = frames[i % 256]  # at pos and pos + span
                    y = conv(buf[:, :, pos + 1 : pos + 1 + span])  # oldest .. newest
                    pos = pos + 1 if pos + 1 < span else 0
                where[0] = pos
            return y

        stream()
        report(name, median(args.rounds, steps, stream))

    if wants("W6-BPTT"):
        torch.manual_seed(7)
        gru, head = nn.GRU(1, 16), nn.Linear(16, 1)
        opt = torch.optim.Adam([*gru.parameters(), *head.parameters()], lr=1e-3)
        loss_fn = nn.MSELoss()
        time = torch.arange(W6_BPTT_LENGTH, dtype=torch.float32)[:, None]
        phase = 0.4 * torch.arange(W6_BPTT_SEQUENCES, dtype=torch.float32)[None, :]
        xs = torch.sin(0.05 * time + phase).unsqueeze(-1)  # (time, sequence, 1)
        ys = 0.5 * torch.tanh(2 * xs)

        def train():
            for _ in range(W6_BPTT_STEPS):
                opt.zero_grad(set_to_none=True)
                out, _ = gru(xs)
                loss = loss_fn(head(out), ys)
                loss.backward()
                opt.step()

        train()
        report("W6-BPTT", median(args.rounds, W6_BPTT_STEPS, train))


def half_sse(y, t):
    return 0.5 * ((y - t) ** 2).sum()


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

    nets = [(n, f) for n, f in (("LeNet", lenet), ("SimpleConvNet", simple_conv_net))
            if wants(f"W5-{n}")]
    if nets:
        images, labels = training_set(args.data)
        images = images.reshape(-1, 1, 28, 28)
        loss_fn = nn.CrossEntropyLoss()
        for name, make in nets:
            torch.manual_seed(5)
            net = make()
            opt = torch.optim.SGD(net.parameters(), lr=0.1)
            steps = min(args.w5_steps, W5_STEPS)

            def epoch():
                order = torch.randperm(images.shape[0])
                for batch in order[: steps * W3_BATCH].split(W3_BATCH):
                    x = images[batch].float().div_(255)
                    y = labels[batch]
                    opt.zero_grad(set_to_none=True)
                    loss = loss_fn(net(x), y)
                    loss.backward()
                    opt.step()

            report(f"W5-{name}", median(args.rounds, 1, epoch) * W5_STEPS / steps)

    image = ((torch.arange(784) % 7) / 7).reshape(1, 1, 28, 28)
    for name, make in (("LeNet", lenet), ("SimpleConvNet", simple_conv_net)):
        if wants(f"W5-{name}-infer"):
            torch.manual_seed(6)
            net = make()

            def infer():
                with torch.inference_mode():
                    for _ in range(W5_CALLS):
                        net(image)

            report(f"W5-{name}-infer", median(args.rounds, W5_CALLS, infer))

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

    w6(args, wants, report)


if __name__ == "__main__":
    main()
