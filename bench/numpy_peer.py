#!/usr/bin/env python3
"""typenet's speed workloads (examples/bench.rs, benches/workloads.rs) written the way the seed
NumPy tutorials write them, as a peer in the benchmark comparison (bench/compare.py).

    python3 bench/numpy_peer.py [--rounds N] [--threads T] [--data DIR] [--only A,B]
                                [--dtype float64|float32]

It prints one line per workload, `<name> <median seconds>`, in this order:

- `W1` (seconds per SGD step): 10 -> five sigmoid layers of 32 -> 2 sigmoid, one sample
  `x_i = i / 10` with target (0.2, 0.8), half the sum of squared errors, SGD at 0.01.
- `W2` (seconds per run): a fresh 2-2-2 sigmoid network trained on the seeds' nine points
  (scaled by 1/20, targets one-hot smoothed to 0.01/0.99), batch 1, 1000 epochs, SGD at 2.
- `W3-784-100-10`, `W3-784-50-10` (seconds per epoch): ReLU MLPs 784-H-10 (He-normal weights,
  zero biases), softmax cross-entropy averaged over the batch, SGD at 0.1, batches of 100; one
  epoch = the samples shuffled, then 600 steps over 60,000 samples. The images stay uint8 and
  each batch is converted (`/ 255`) when it is used.
- `W4-deep-sigmoid`, `W4-784-100-10` (seconds per call): one sample `x_i = (i mod 7) / 7`
  forward through the W1 network and through 784-100-10.
- `W5-LeNet`, `W5-SimpleConvNet` (seconds per epoch): LeNet-5 (Conv 1->6 5x5, ReLU, max-pool 2,
  Conv 6->16 5x5, ReLU, max-pool 2, Affine 256-120, ReLU, Affine 120-84, ReLU, Affine 84-10)
  and the book's SimpleConvNet (Conv 1->30 5x5, ReLU, max-pool 2, Affine 4320-100, ReLU,
  Affine 100-10), written as "Deep Learning from Scratch" chapter 7 writes them: `im2col` /
  `col2im`, `Convolution`, `Pooling` and `Affine` layers with `forward`/`backward`;
  He-normal weights, zero biases, softmax cross-entropy, SGD at 0.1, batches of 100 images
  (W3's samples as 1x28x28 images, converted `/ 255` when used), 600 steps an epoch. With
  `--w5-steps N` only the first N steps are timed and the time is scaled to 600.
- `W5-LeNet-infer`, `W5-SimpleConvNet-infer` (seconds per image): one image, pixel (y, x) =
  `((28 y + x) mod 7) / 7`, through each network's `predict`.
- `GEMM-512` (seconds per product, only when `--only` names it): `a @ b` of two 512x512
  matrices of `--dtype`, through NumPy's BLAS.

The style is the "deep learning from scratch" one of the seeds: a network class with a `params`
dict (`W1`, `b1`, ...), row-major batches `x @ W + b`, layers `Affine`/`Relu`/`Sigmoid`/
`SoftmaxWithLoss` with `forward`/`backward`, and SGD as `params[k] -= lr * grads[k]`. One
departure, so that every program does the same work: the first layer (`Affine` or
`Convolution`) does not compute the gradient of the input (nobody uses it; PyTorch, dfdx and
typenet do not compute it either). The book's `im2col` makes its buffers with `np.zeros`
(float64); here they take the input's dtype, so that `--dtype float32` computes in float32.

Options (the same for every program in the comparison):

- `--rounds N`: each figure is the median of N rounds (default 5).
- `--threads T`: BLAS threads (default 1), set through the environment before NumPy is
  imported and again with threadpoolctl; the BLAS found and its kernel go to stderr.
- `--data DIR`: W3's samples from an MNIST-format directory holding `train-images-idx3-ubyte`
  and `train-labels-idx1-ubyte` (raw or `.gz`; at least 60,000 samples, e.g. Fashion-MNIST);
  default: the repository's 10,000 digits (`data/mnist-10k`) six times over.
- `--only A,B`: just these workloads (unknown names are ignored).
- `--dtype float64|float32`: float64 is what the seeds use (default).
"""

import os
import sys

sys.dont_write_bytecode = True  # importing peer_common must not leave bench/__pycache__
from peer_common import (W1_STEPS, W3_BATCH, W3_SAMPLES, W4_CALLS, W5_CALLS, W5_STEPS, median,
                         parse_args, training_bytes)

GEMM_PRODUCTS = 20  # products in one GEMM-512 round


def add_dtype(p):
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")


ARGS = parse_args(sys.argv[1:], __doc__, extra=add_dtype)
# The BLAS reads these when it is loaded, i.e. when numpy is imported: set them first.
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402


# ---------------------------------------------------------------------------------------------
# The seeds' functions and layers
# ---------------------------------------------------------------------------------------------


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    x = x - np.max(x, axis=-1, keepdims=True)  # against overflow
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


def cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    # one-hot targets -> the indices of the right answers
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


class Affine:
    def __init__(self, W, b, input_grad=True):
        self.W = W
        self.b = b
        self.input_grad = input_grad
        self.x = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.x = x
        return np.dot(x, self.W) + self.b

    def backward(self, dout):
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return np.dot(dout, self.W.T) if self.input_grad else None


class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0
        return dout


class Sigmoid:
    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class SoftmaxWithLoss:
    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        return (self.y - self.t) * dout / batch_size


class HalfSquaredError:
    """`0.5 * sum((y - t)**2)` per sample, averaged over the batch (the seeds' "half-MSE")."""

    def __init__(self):
        self.y = None
        self.t = None

    def forward(self, y, t):
        self.y = y
        self.t = t
        return 0.5 * np.sum((y - t) ** 2) / y.shape[0]

    def backward(self, dout=1):
        return (self.y - self.t) * dout / self.y.shape[0]


class MultiLayerNet:
    """Fully connected: `sizes[0] -> ... -> sizes[-1]`, `activation` between the layers,
    `output` (a layer class or None) after the last one, then `loss`."""

    def __init__(self, sizes, activation, output, loss, weight_init, rng, dtype):
        self.params = {}
        self.layers = []
        self.affines = []
        for i in range(1, len(sizes)):
            scale = np.sqrt((2.0 if weight_init == "he" else 1.0) / sizes[i - 1])
            W = (scale * rng.standard_normal((sizes[i - 1], sizes[i]))).astype(dtype)
            b = np.zeros(sizes[i], dtype=dtype)
            self.params[f"W{i}"] = W
            self.params[f"b{i}"] = b
            affine = Affine(W, b, input_grad=i > 1)
            self.affines.append(affine)
            self.layers.append(affine)
            if i < len(sizes) - 1:
                self.layers.append(activation())
        if output is not None:
            self.layers.append(output())
        self.last_layer = loss()

    def predict(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        return self.last_layer.forward(self.predict(x), t)

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        grads = {}
        for i, affine in enumerate(self.affines, start=1):
            grads[f"W{i}"] = affine.dW
            grads[f"b{i}"] = affine.db
        return grads


def sgd(params, grads, lr):
    for key in params:
        params[key] -= lr * grads[key]  # in place: the layers hold the same arrays


# ---------------------------------------------------------------------------------------------
# Chapter 7: im2col, Convolution, Pooling (common/util.py and common/layers.py of the book)
# ---------------------------------------------------------------------------------------------


def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    N, C, H, W = input_data.shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1

    img = np.pad(input_data, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant")
    col = np.zeros((N, C, filter_h, filter_w, out_h, out_w), dtype=input_data.dtype)

    for y in range(filter_h):
        y_max = y + stride * out_h
        for x in range(filter_w):
            x_max = x + stride * out_w
            col[:, :, y, x, :, :] = img[:, :, y:y_max:stride, x:x_max:stride]

    col = col.transpose(0, 4, 5, 1, 2, 3).reshape(N * out_h * out_w, -1)
    return col


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    N, C, H, W = input_shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    col = col.reshape(N, out_h, out_w, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)

    img = np.zeros((N, C, H + 2 * pad + stride - 1, W + 2 * pad + stride - 1), dtype=col.dtype)
    for y in range(filter_h):
        y_max = y + stride * out_h
        for x in range(filter_w):
            x_max = x + stride * out_w
            img[:, :, y:y_max:stride, x:x_max:stride] += col[:, :, y, x, :, :]

    return img[:, :, pad:H + pad, pad:W + pad]


class Convolution:
    def __init__(self, W, b, stride=1, pad=0, input_grad=True):
        self.W = W
        self.b = b
        self.stride = stride
        self.pad = pad
        self.input_grad = input_grad
        self.x = None
        self.col = None
        self.col_W = None
        self.dW = None
        self.db = None

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        N, C, H, W = x.shape
        out_h = 1 + int((H + 2 * self.pad - FH) / self.stride)
        out_w = 1 + int((W + 2 * self.pad - FW) / self.stride)

        col = im2col(x, FH, FW, self.stride, self.pad)
        col_W = self.W.reshape(FN, -1).T

        out = np.dot(col, col_W) + self.b
        out = out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)

        self.x = x
        self.col = col
        self.col_W = col_W
        return out

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)

        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout)
        self.dW = self.dW.transpose(1, 0).reshape(FN, C, FH, FW)
        if not self.input_grad:
            return None

        dcol = np.dot(dout, self.col_W.T)
        return col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)


class Pooling:
    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h = pool_h
        self.pool_w = pool_w
        self.stride = stride
        self.pad = pad
        self.x = None
        self.arg_max = None

    def forward(self, x):
        N, C, H, W = x.shape
        out_h = int(1 + (H - self.pool_h) / self.stride)
        out_w = int(1 + (W - self.pool_w) / self.stride)

        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)
        col = col.reshape(-1, self.pool_h * self.pool_w)

        arg_max = np.argmax(col, axis=1)
        out = np.max(col, axis=1)
        out = out.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)

        self.x = x
        self.arg_max = arg_max
        return out

    def backward(self, dout):
        dout = dout.transpose(0, 2, 3, 1)

        pool_size = self.pool_h * self.pool_w
        dmax = np.zeros((dout.size, pool_size), dtype=dout.dtype)
        dmax[np.arange(self.arg_max.size), self.arg_max.flatten()] = dout.flatten()
        dmax = dmax.reshape(dout.shape + (pool_size,))

        dcol = dmax.reshape(dmax.shape[0] * dmax.shape[1] * dmax.shape[2], -1)
        return col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)


class FlatAffine(Affine):
    """The book's `Affine` with its reshape of image batches to rows (`original_x_shape`)."""

    def __init__(self, W, b, input_grad=True):
        super().__init__(W, b, input_grad)
        self.original_x_shape = None

    def forward(self, x):
        self.original_x_shape = x.shape
        return super().forward(x.reshape(x.shape[0], -1))

    def backward(self, dout):
        dx = super().backward(dout)
        return None if dx is None else dx.reshape(*self.original_x_shape)


class ConvNet:
    """A network of the book's chapter 7 layers: `spec` lists ("conv", FN, C, K), ("pool",),
    ("affine", I, O) and ("relu",); a `params` dict (`W1`, `b1`, ...) holds the weights the
    layers use, SoftmaxWithLoss follows."""

    def __init__(self, spec, rng, dtype):
        self.params = {}
        self.layers = []
        self.owners = []  # the layers with parameters, in order
        for kind, *sizes in spec:
            i = len(self.owners) + 1
            if kind == "conv":
                fn, c, k = sizes
                W = rng.standard_normal((fn, c, k, k)) * np.sqrt(2.0 / (c * k * k))
                shape_b = fn
            elif kind == "affine":
                fan_in, fan_out = sizes
                W = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
                shape_b = fan_out
            if kind in ("conv", "affine"):
                self.params[f"W{i}"] = W.astype(dtype)
                self.params[f"b{i}"] = np.zeros(shape_b, dtype=dtype)
                first = i == 1
                layer = (Convolution if kind == "conv" else FlatAffine)(
                    self.params[f"W{i}"], self.params[f"b{i}"], input_grad=not first
                )
                self.owners.append(layer)
            elif kind == "pool":
                layer = Pooling(pool_h=2, pool_w=2, stride=2)
            else:
                layer = Relu()
            self.layers.append(layer)
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        return self.last_layer.forward(self.predict(x), t)

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        grads = {}
        for i, layer in enumerate(self.owners, start=1):
            grads[f"W{i}"] = layer.dW
            grads[f"b{i}"] = layer.db
        return grads


LENET = [("conv", 6, 1, 5), ("relu",), ("pool",), ("conv", 16, 6, 5), ("relu",), ("pool",),
         ("affine", 256, 120), ("relu",), ("affine", 120, 84), ("relu",), ("affine", 84, 10)]
SIMPLE_CONV_NET = [("conv", 30, 1, 5), ("relu",), ("pool",), ("affine", 4320, 100), ("relu",),
                   ("affine", 100, 10)]


# ---------------------------------------------------------------------------------------------
# Data: MNIST-format files, kept as bytes
# ---------------------------------------------------------------------------------------------


def training_set(directory):
    """(images as uint8 [n, 784], labels as uint8 [n]), at least 60,000 of them."""
    images, n, labels, copies = training_bytes(directory)
    images = np.frombuffer(images, dtype=np.uint8).reshape(n, 784)
    labels = np.frombuffer(labels, dtype=np.uint8)
    if copies > 1:
        images, labels = np.tile(images, (copies, 1)), np.tile(labels, copies)
    return images, labels


# ---------------------------------------------------------------------------------------------
# The workloads
# ---------------------------------------------------------------------------------------------


def deep_sigmoid(rng, dtype):
    return MultiLayerNet(
        [10, 32, 32, 32, 32, 32, 2], Sigmoid, Sigmoid, HalfSquaredError, "xavier", rng, dtype
    )


def mlp(hidden, rng, dtype):
    return MultiLayerNet([784, hidden, 10], Relu, None, SoftmaxWithLoss, "he", rng, dtype)


def main():
    args = ARGS
    dtype = np.dtype(args.dtype)
    limits = threadpool_limits(limits=args.threads)  # noqa: F841 (kept for the whole run)
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            print(
                f"numpy {np.__version__} {args.dtype}: BLAS {pool.get('internal_api')} "
                f"{pool.get('version')}, kernel {pool.get('architecture')}, "
                f"threads {pool.get('num_threads')} ({pool.get('threading_layer')})",
                file=sys.stderr,
            )
    wants = lambda name: name in args.only if args.only is not None else name != "GEMM-512"
    report = lambda name, seconds: print(f"{name} {seconds:.9f}", flush=True)

    if wants("W1"):
        net = deep_sigmoid(np.random.default_rng(0), dtype)
        x = (np.arange(10) / 10).astype(dtype).reshape(1, 10)
        t = np.array([[0.2, 0.8]], dtype=dtype)

        def w1():
            for _ in range(W1_STEPS):
                grads = net.gradient(x, t)
                sgd(net.params, grads, 0.01)

        report("W1", median(args.rounds, W1_STEPS, w1))

    if wants("W2"):
        points = np.array(
            [[2, 4], [4, 11], [6, 6], [8, 5], [10, 7], [12, 16], [14, 8], [16, 3], [18, 7]],
            dtype=dtype,
        ) / dtype.type(20)
        labels = [0, 0, 0, 0, 1, 1, 1, 1, 1]
        targets = np.full((9, 2), 0.01, dtype=dtype)
        targets[np.arange(9), labels] = 0.99
        samples = [(points[i : i + 1], targets[i : i + 1]) for i in range(9)]

        def w2():
            net = MultiLayerNet(
                [2, 2, 2], Sigmoid, Sigmoid, HalfSquaredError, "xavier",
                np.random.default_rng(2), dtype,
            )
            for _ in range(1000):
                for x, t in samples:
                    sgd(net.params, net.gradient(x, t), 2.0)
            return net

        report("W2", median(args.rounds, 1, w2))

    sizes = [h for h in (100, 50) if wants(f"W3-784-{h}-10")]
    if sizes:
        images, labels = training_set(args.data)
        eye = np.eye(10, dtype=dtype)
        for hidden in sizes:
            rng = np.random.default_rng(3)
            net = mlp(hidden, rng, dtype)

            def epoch():
                order = rng.permutation(images.shape[0])
                for i in range(W3_SAMPLES // W3_BATCH):
                    batch = order[i * W3_BATCH : (i + 1) * W3_BATCH]
                    x = images[batch].astype(dtype) / dtype.type(255)
                    t = eye[labels[batch]]
                    sgd(net.params, net.gradient(x, t), 0.1)

            report(f"W3-784-{hidden}-10", median(args.rounds, 1, epoch))

    nets = [(n, spec) for n, spec in (("LeNet", LENET), ("SimpleConvNet", SIMPLE_CONV_NET))
            if wants(f"W5-{n}")]
    if nets:
        images, labels = training_set(args.data)
        images = images.reshape(-1, 1, 28, 28)
        eye = np.eye(10, dtype=dtype)
        for name, spec in nets:
            rng = np.random.default_rng(5)
            net = ConvNet(spec, rng, dtype)
            steps = min(args.w5_steps, W5_STEPS)

            def epoch():
                order = rng.permutation(images.shape[0])
                for i in range(steps):
                    batch = order[i * W3_BATCH : (i + 1) * W3_BATCH]
                    x = images[batch].astype(dtype) / dtype.type(255)
                    t = eye[labels[batch]]
                    sgd(net.params, net.gradient(x, t), 0.1)

            report(f"W5-{name}", median(args.rounds, 1, epoch) * W5_STEPS / steps)

    image = ((np.arange(784) % 7) / 7).astype(dtype).reshape(1, 1, 28, 28)
    for name, spec in (("LeNet", LENET), ("SimpleConvNet", SIMPLE_CONV_NET)):
        if wants(f"W5-{name}-infer"):
            net = ConvNet(spec, np.random.default_rng(6), dtype)

            def infer():
                for _ in range(W5_CALLS):
                    net.predict(image)

            report(f"W5-{name}-infer", median(args.rounds, W5_CALLS, infer))

    rng = np.random.default_rng(4)
    deep, mnist = deep_sigmoid(rng, dtype), mlp(100, rng, dtype)
    for name, net, inputs in (("W4-deep-sigmoid", deep, 10), ("W4-784-100-10", mnist, 784)):
        if wants(name):
            x = ((np.arange(inputs) % 7) / 7).astype(dtype).reshape(1, inputs)

            def w4():
                for _ in range(W4_CALLS):
                    net.predict(x)

            report(name, median(args.rounds, W4_CALLS, w4))

    if wants("GEMM-512"):
        n = 512
        r, c = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        a = (((r * 31 + c * 17) % 97) / 97).astype(dtype)
        b = np.ascontiguousarray(a.T)
        out = np.empty((n, n), dtype=dtype)

        def gemm():
            for _ in range(GEMM_PRODUCTS):
                np.matmul(a, b, out=out)

        report("GEMM-512", median(args.rounds, GEMM_PRODUCTS, gemm))


if __name__ == "__main__":
    main()
