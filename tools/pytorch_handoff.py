#!/usr/bin/env python3
"""A network handed from PyTorch to typenet and one handed back, through safetensors files.

    python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch safetensors
    /tmp/torchvenv/bin/python tools/pytorch_handoff.py [--dir DIR] [--steps N] [--skip-build]

(The default Linux torch wheel pulls about 4 GB of CUDA libraries; it computes on the CPU all
the same.) Not run by the tests. It:

1. trains, in PyTorch (float32), the issue's LeNet with a batch norm after each convolution
   for N SGD steps (batches of 32 of the first 8,000 digits of data/mnist-10k), switches it to
   eval(), and writes its state_dict to DIR/torch_lenet.safetensors with
   safetensors.torch.save_file, and 16 held-out digits and its logits on them to
   DIR/torch_io.safetensors;
2. runs `cargo run --release --features pytorch --example pytorch_handoff -- --dir DIR
   --steps N`, which imports PyTorch's network into typenet (`load_safetensors`) and compares
   the logits, then trains the same network type in typenet and exports it
   (`save_safetensors_file`) to DIR/typenet_lenet.safetensors, with its logits on the same
   digits in DIR/typenet_logits.safetensors;
3. loads typenet's export into a fresh nn.Sequential with load_state_dict(strict=True) (every
   name, shape and buffer must be there, nothing more), and compares its logits in eval() with
   typenet's.

Both directions must agree to float32 rounding (a few units in the sixth digit of the logits)
and predict the same digits; the script exits non-zero if they do not.
"""

import argparse
import gzip
import os
import struct
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file
from torch import nn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(REPO, "data", "mnist-10k")
TRAIN, SHOWN = 8000, 16


def lenet():
    """typenet: net![Conv2d<1, 6, 5>, BatchNorm2d<6>, Relu, MaxPool2d<2>, Conv2d<6, 16, 5>,
    BatchNorm2d<16>, Relu, MaxPool2d<2>, Flatten, Dense<256, 120>, Relu, Dense<120, 84>, Relu,
    Dense<84, 10>] (layers numbered alike: 0.weight, 1.running_mean, ..., 13.bias)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


def idx(path):
    """An IDX file (gzip) as a uint8 tensor of its declared shape."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(f">{dims}I", data[4:4 + 4 * dims])
    return torch.frombuffer(bytearray(data[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)


def accuracy(model, images, labels):
    with torch.no_grad():
        return (model(images).argmax(1) == labels).double().mean().item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", help="where the files go (default: a new temporary directory)")
    ap.add_argument("--steps", type=int, default=300, help="SGD steps on each side")
    ap.add_argument("--skip-build", action="store_true",
                    help="run target/release/examples/pytorch_handoff as built")
    args = ap.parse_args()
    out = args.dir or tempfile.mkdtemp(prefix="typenet-handoff-")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(1)

    images = idx(os.path.join(DATA, "images-idx3-ubyte.gz")).to(torch.float32).div(255.0)
    images = images.reshape(-1, 1, 28, 28)
    labels = idx(os.path.join(DATA, "labels-idx1-ubyte.gz")).to(torch.int64)
    train_x, train_y = images[:TRAIN], labels[:TRAIN]
    test_x, test_y = images[TRAIN:], labels[TRAIN:]
    shown = test_x[:SHOWN].contiguous()

    # 1. PyTorch trains and saves
    model = lenet()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    loss_fn = nn.CrossEntropyLoss()  # the mean over the batch, as typenet's SoftmaxCrossEntropy
    model.train()
    for step in range(args.steps):
        batch = [(step * 32 + i) % TRAIN for i in range(32)]
        opt.zero_grad()
        loss_fn(model(train_x[batch]), train_y[batch]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        logits = model(shown)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(out, "torch_lenet.safetensors"))
    save_file({"images": shown, "logits": logits.contiguous()},
              os.path.join(out, "torch_io.safetensors"))
    print(f"torch {torch.__version__}: PyTorch's LeNet after {args.steps} steps: test accuracy "
          f"{accuracy(model, test_x, test_y):.4f}; state_dict of {len(state)} tensors "
          f"({', '.join(list(state)[:6])}, ...) written to {out}")

    # 2. typenet imports it, trains its own and exports that
    cmd = ["cargo", "run", "--quiet", "--release", "--features", "pytorch", "--example",
           "pytorch_handoff", "--"]
    if args.skip_build:
        cmd = [os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")),
                            "release", "examples", "pytorch_handoff")]
    cmd += ["--dir", out, "--steps", str(args.steps)]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=REPO, check=True)

    # 3. PyTorch loads typenet's export, strictly
    theirs = lenet()
    exported = load_file(os.path.join(out, "typenet_lenet.safetensors"))
    theirs.load_state_dict(exported, strict=True)
    theirs.eval()
    with torch.no_grad():
        ours = theirs(shown)
    expected = load_file(os.path.join(out, "typenet_logits.safetensors"))["logits"]
    worst = (ours - expected).abs().max().item()
    same = bool((ours.argmax(1) == expected.argmax(1)).all())
    print(f"typenet -> PyTorch: load_state_dict(strict=True) took {len(exported)} tensors "
          f"({exported['1.running_var'].dtype}, num_batches_tracked "
          f"{exported['1.num_batches_tracked'].dtype}); logits of {SHOWN} digits differ by at "
          f"most {worst:.2e} (largest logit {expected.abs().max().item():.2f}); same predicted "
          f"digits: {same}; test accuracy in PyTorch {accuracy(theirs, test_x, test_y):.4f}")
    if not same or worst > 1e-4 * max(1.0, expected.abs().max().item()):
        sys.exit("typenet's network computes something else in PyTorch")


if __name__ == "__main__":
    main()
