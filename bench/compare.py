#!/usr/bin/env python3
"""The speed comparison of issue 5: typenet against dfdx, NumPy and PyTorch on the same
workloads, in one run, alternating, with medians, ratios and the issue's targets.

    python3 bench/compare.py [--rounds 3] [--data DIR] [--skip-install]
                             [--programs typenet,typenet-base] [--baseline REV] [--build default]

What it does (Python 3.11 standard library only; the peers run in bench/.venv):

1. Creates `bench/.venv` if missing and pip-installs `numpy`, `torch`, `threadpoolctl` there
   (unless `--skip-install`; then a missing package skips its peer). The default Linux
   `torch` wheel is the CUDA build and pulls about 4 GB of nvidia-* packages (bench/.venv is
   about 5.4 GB); that is what works. If it does not install, the driver tries
   `pip install --no-deps torch` plus torch's pure-Python dependencies and checks that
   `import torch` computes on the CPU - but torch 2.15's `import torch` then fails looking for
   libcublasLt (it preloads the CUDA libraries when its global deps do not load), so expect
   that fallback to fail and the torch peer to be skipped.
2. Builds both Rust programs with `RUSTFLAGS="-C target-cpu=native"` into their own target
   dirs, so the normal builds are not disturbed: typenet's `examples/bench.rs` into
   `target/native`, dfdx's `bench/dfdx` into `bench/dfdx/target/native` (skipped with a message
   if missing or broken). `--skip-build` uses the binaries already there.
3. For rounds r = 1..R, runs every program (typenet, dfdx, NumPy float64, NumPy float32,
   PyTorch; the order rotates each round) at 1 and 2 threads, each call with `--rounds 3` (the
   program's own median of three repetitions, so a cold first epoch does not decide), and
   takes per-workload medians over the R rounds. typenet and NumPy float32 also time one
   512^3 f32 product (`GEMM-512`), the GEMM peak that W3 is measured against.
4. With `--data DIR`: runs each program once more on W3-784-100-10 alone at 1 thread, each
   through a fresh helper process that reports its child's peak resident memory.
5. Prints the machine, the medians, the ratios, W3's GFLOP/s and the targets (met/missed), and
   writes the same markdown to `bench/results.md`.

`--baseline REV` adds `typenet-base`: the same bench example built from git revision REV (a
detached worktree under `target/baseline-src`), run alternating with the others, so that a
change is measured before and after in one run (its ratio column is base time / typenet time).
`--build default` builds both typenet programs as users build them (plain `--release`, no
`target-cpu=native`; target dirs `target/bench-default` and `target/baseline-default`).
`--programs typenet,typenet-native` with `--build default` puts the build users make beside
a `target-cpu=native` build of the same tree, in one run.

W5 (issue 13: LeNet-5 and SimpleConvNet, seconds per epoch and per single-image inference)
runs with the rest unless `--workloads` chooses: `--workloads W5,GEMM` runs only W5 and the GEMM
peak it is measured against. The slow peers time the first `--w5-peer-steps` steps of each
W5 epoch (default: NumPy 30, PyTorch 120) and report that time scaled to the epoch's 600
steps; typenet always runs whole epochs. The report adds a W5 section: the medians against
the issue's PyTorch figures (measured on this machine kind: LeNet 6.17 s/epoch on 1 thread,
3.73 s on 2, 277 µs an image; SimpleConvNet 14.2 s, 8.4 s, 371 µs) and against the peers of
the same run, GFLOP/s as a fraction of the GEMM peak, and the goals (3x PyTorch, LeNet
inference ≤ 10 µs). `python3 bench/compare.py --workloads W5,GEMM --programs
typenet,typenet-native,numpy-f32,torch --build default` is the W5 run of
`docs/performance.md`.

W6 (issue 14: sequence models) is chosen with `--workloads W6`: per-sample streaming steps
(GRU and LSTM of 8, 16, 32 hidden units from one input, then `Dense<H, 1>`; causal Conv1d
8 -> 8, K = 3, dilation 1 and 4; a square Dense of 8, 16, 32) in ns a sample, and one BPTT
training step of `Gru<1, 16>` + `Dense<16, 1>` on 16 sequences of 256 samples with Adam. Its
peers are PyTorch (`torch`, 1 thread, `--w6-torch-steps` calls a round) and RTNeural
(`rtneural`: nine C++ builds, three backends times three flag sets, built once into
`target/rtneural` by `bench/rtneural.py`, which says where the sources come from; skipped,
with the reason, when they or a C++ compiler are missing); each RTNeural build is a program
of its own in the rotation, and "RTNeural best" is the fastest build per workload in this run.
W6 runs at 1 thread (the default `--threads` when only W6 is chosen) and without GEMM-512. The
report adds a W6 section with the goals: typenet faster than RTNeural's best build at every
size, 1,000x PyTorch a step, BPTT 10x PyTorch. `python3 bench/compare.py --workloads W6
--programs typenet,typenet-native,torch,rtneural --build default` is the W6 run.

A program that fails (does not build, rejects a flag, crashes, times out) is reported and the
run goes on without it.
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shlex
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # importing bench/rtneural.py must not leave bench/__pycache__
import rtneural  # noqa: E402  (bench/rtneural.py, beside this file)

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
VENV = os.path.join(BENCH, ".venv")
VENV_PY = os.path.join(VENV, "bin", "python")
DFDX = os.path.join(BENCH, "dfdx")
TYPENET_TARGET = os.path.join(REPO, "target", "native")
TYPENET_BIN = os.path.join(TYPENET_TARGET, "release", "examples", "bench")
DFDX_TARGET = os.path.join(DFDX, "target", "native")
DFDX_BIN = os.path.join(DFDX_TARGET, "release", "typenet-bench-dfdx")
RESULTS = os.path.join(BENCH, "results.md")

WORKLOADS = ["W1", "W2", "W3-784-100-10", "W3-784-50-10", "W4-deep-sigmoid", "W4-784-100-10",
             "W5-LeNet", "W5-SimpleConvNet", "W5-LeNet-infer", "W5-SimpleConvNet-infer",
             "W6-GRU-8", "W6-GRU-16", "W6-GRU-32", "W6-LSTM-8", "W6-LSTM-16", "W6-LSTM-32",
             "W6-Conv1d-d1", "W6-Conv1d-d4", "W6-Dense-8", "W6-Dense-16", "W6-Dense-32", "W6-BPTT"]
W6_STREAM = [w for w in WORKLOADS if w.startswith("W6-") and w != "W6-BPTT"]
# The issue's PyTorch 2.15 figures (1 thread, this machine kind): µs a streaming step of
# nn.GRU(1, H) + nn.Linear(H, 1) and of the LSTM twin over H = 8..32, ms a BPTT step.
W6_TORCH_ISSUE = {"GRU": (73e-6, 79e-6), "LSTM": (127e-6, 135e-6), "BPTT": (37e-3, 37e-3)}
W6_RTN_GOAL = 1.0  # typenet's time at most RTNeural's best build's
W6_TORCH_GOAL = 1000  # streaming: PyTorch's time over typenet's
W6_BPTT_GOAL = 10  # BPTT: PyTorch's time over typenet's
W5 = ["W5-LeNet", "W5-SimpleConvNet"]
W5_INFER = ["W5-LeNet-infer", "W5-SimpleConvNet-infer"]
# The issue's PyTorch 2.15 figures on this machine kind (issue 13): seconds per epoch at 1 and 2
# threads, seconds per single-image inference.
W5_TORCH_ISSUE = {
    "W5-LeNet": {1: 6.17, 2: 3.73},
    "W5-SimpleConvNet": {1: 14.2, 2: 8.4},
    "W5-LeNet-infer": {1: 277e-6},
    "W5-SimpleConvNet-infer": {1: 371e-6},
}
# Floating-point operations of one W5 epoch (600 steps of 100 images) and of one image forward:
# the products of the convolutions and dense layers, forward, weight gradients, and input
# gradients of every layer but the first (benches/workloads.rs derives them).
W5_FLOPS = {
    "W5-LeNet": 1_517_040 * 60_000,
    "W5-SimpleConvNet": 4_326_000 * 60_000,
    "W5-LeNet-infer": 563_280,
    "W5-SimpleConvNet-infer": 1_730_000,
}
W5_INFER_GOAL = 10e-6  # LeNet single-image inference, seconds
GEMM = "GEMM-512"
UNITS = {
    "W1": "s/step",
    "W2": "s/run",
    "W3-784-100-10": "s/epoch",
    "W3-784-50-10": "s/epoch",
    "W4-deep-sigmoid": "s/call",
    "W4-784-100-10": "s/call",
    "W5-LeNet": "s/epoch",
    "W5-SimpleConvNet": "s/epoch",
    "W5-LeNet-infer": "s/image",
    "W5-SimpleConvNet-infer": "s/image",
    GEMM: "s/product",
    **{w: "s/sample" for w in W6_STREAM},
    "W6-BPTT": "s/step",
}
CALL_TIMEOUT = 1800  # seconds for one call of one program
TORCH_PURE_DEPS = ["filelock", "typing-extensions", "sympy", "networkx", "jinja2", "fsspec"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def tail(text, lines=12):
    return "\n".join(text.strip().splitlines()[-lines:])


# ---------------------------------------------------------------------------------------------
# Helper mode: run a command, report its peak resident memory
# ---------------------------------------------------------------------------------------------


def maxrss_helper(cmd):
    """Runs `cmd` (its stdout to ours, its stderr to ours) and then prints one JSON line with its
    exit code and peak RSS in KiB. Being a fresh process, this helper has no other children, so
    RUSAGE_CHILDREN's ru_maxrss is exactly that command's (Linux reports it in KiB)."""
    try:
        rc = subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode
    except OSError as e:
        print(json.dumps({"rc": None, "error": str(e)}))
        return 1
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"rc": rc, "maxrss_kib": rss}))
    return 0


# ---------------------------------------------------------------------------------------------
# Setup: the virtual environment and the Rust builds
# ---------------------------------------------------------------------------------------------

PROBE = r"""
import json, sys
out = {"python": sys.version.split()[0]}
try:
    import numpy
    out["numpy"] = numpy.__version__
except Exception as e:
    out["numpy_error"] = repr(e)
try:
    from threadpoolctl import threadpool_info
    import threadpoolctl
    out["threadpoolctl"] = threadpoolctl.__version__
    if "numpy" in out:
        out["blas"] = [p for p in threadpool_info() if p.get("user_api") == "blas"]
except Exception as e:
    out["threadpoolctl_error"] = repr(e)
try:
    import torch
    x = torch.ones(64, 64)
    assert float((x @ x).sum()) == 64.0 ** 3
    out["torch"] = torch.__version__
    out["torch_cpu"] = torch.backends.cpu.get_cpu_capability()
    out["torch_cuda_build"] = torch.version.cuda
except Exception as e:
    out["torch_error"] = repr(e)
print(json.dumps(out))
"""


def probe_venv():
    if not os.path.exists(VENV_PY):
        return {}
    r = subprocess.run([VENV_PY, "-c", PROBE], capture_output=True, text=True)
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"probe_error": tail(r.stderr)}


def pip(args, logfile):
    log(f"  $ pip {' '.join(args)}   (output: {os.path.relpath(logfile, REPO)})")
    with open(logfile, "a") as f:
        f.write(f"\n$ pip {' '.join(args)}\n")
        f.flush()
        return subprocess.run([VENV_PY, "-m", "pip", *args], stdout=f, stderr=subprocess.STDOUT).returncode


def setup_venv(skip_install, notes):
    """Returns the probe of the venv (versions, BLAS) and a note on how torch got there."""
    info = probe_venv()
    ready = all(k in info for k in ("numpy", "threadpoolctl", "torch"))
    if ready:
        return info, "already installed in bench/.venv"
    if skip_install:
        notes.append("--skip-install: bench/.venv lacks "
                     + ", ".join(k for k in ("numpy", "threadpoolctl", "torch") if k not in info)
                     + "; those peers are skipped")
        return info, "not installed (--skip-install)"
    if not os.path.exists(VENV_PY):
        log(f"creating {os.path.relpath(VENV, REPO)}")
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    logfile = os.path.join(VENV, "install.log")
    how = "pip install numpy torch threadpoolctl (the default PyPI wheels)"
    if pip(["install", "numpy", "torch", "threadpoolctl"], logfile) != 0:
        notes.append(f"`pip install numpy torch threadpoolctl` failed (see {logfile}); "
                     "trying torch without its dependencies")
        pip(["install", "numpy", "threadpoolctl"], logfile)
        pip(["install", "--no-deps", "torch"], logfile)
        pip(["install", *TORCH_PURE_DEPS], logfile)
        how = ("pip install --no-deps torch, plus " + " ".join(TORCH_PURE_DEPS)
               + " (the default install failed)")
    info = probe_venv()
    for k in ("numpy", "threadpoolctl", "torch"):
        if k not in info:
            notes.append(f"{k} does not import in bench/.venv: "
                         f"{info.get(k + '_error', info.get('probe_error', '?'))}; its peer is skipped")
    if "torch" not in info:
        how += " - torch still does not work"
    return info, how


def build(name, cwd, args, target_dir, binary, skip_build, notes, native=True):
    """Builds (with -C target-cpu=native unless `native` is false); returns the binary, or None
    with a note."""
    if skip_build:
        if os.path.exists(binary):
            return binary
        notes.append(f"{name}: --skip-build and no binary at {os.path.relpath(binary, REPO)}; skipped")
        return None
    flags = "-C target-cpu=native" if native else ""
    env = dict(os.environ, RUSTFLAGS=flags, CARGO_TARGET_DIR=target_dir)
    log(f"building {name}: RUSTFLAGS='{flags}' CARGO_TARGET_DIR="
        f"{os.path.relpath(target_dir, REPO)} cargo {' '.join(args)}   (in {os.path.relpath(cwd, REPO) or '.'})")
    t = time.monotonic()
    r = subprocess.run(["cargo", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(binary):
        notes.append(f"{name}: the build failed (exit {r.returncode}); skipped. Its last lines:\n"
                     + indent(tail(r.stderr, 15)))
        return None
    log(f"  built in {time.monotonic() - t:.0f} s")
    return binary


def baseline_worktree(rev, notes):
    """A detached git worktree of `rev` under target/baseline-src (made, or moved to `rev`);
    returns its path, or None with a note."""
    path = os.path.join(REPO, "target", "baseline-src")
    git = ["git", "-C", REPO]
    if not os.path.isdir(path):
        r = subprocess.run(git + ["worktree", "add", "--detach", path, rev],
                           capture_output=True, text=True)
    else:
        r = subprocess.run(["git", "-C", path, "checkout", "--detach", rev],
                           capture_output=True, text=True)
    if r.returncode != 0:
        notes.append(f"typenet-base: no worktree of {rev}: {tail(r.stderr, 3)}; skipped")
        return None
    return path


def indent(text):
    return "\n".join("      " + line for line in text.splitlines())


def command_output(cmd, cwd=REPO):
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
        return r.stdout.strip() or r.stderr.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"? ({e})"


# ---------------------------------------------------------------------------------------------
# Running the programs
# ---------------------------------------------------------------------------------------------

LINE = re.compile(r"^(\S+)\s+([0-9.]+(?:[eE][-+]?[0-9]+)?)\s*$")


class Program:
    selected = WORKLOADS  # the workloads of this run (--workloads)

    def __init__(self, name, cmd, gemm=False):
        self.name = name
        self.cmd = cmd
        self.gemm = gemm  # asked for GEMM-512 too (not when only W6 is measured)
        self.thread_counts = None  # the thread counts it runs at (None: all)
        self.times = {}  # (threads, workload) -> [seconds]
        self.failed = {}  # threads -> message (no more calls at that count)
        self.stderr_info = {}  # threads -> what the program said on stderr (versions, BLAS)

    def args(self, threads, only, rounds, data):
        a = [*self.cmd, "--rounds", str(rounds), "--threads", str(threads), "--only", ",".join(only)]
        return a + (["--data", data] if data else [])

    def runs_at(self, threads):
        return self.thread_counts is None or threads in self.thread_counts

    def run(self, threads, data, inner=1):
        w6_only = all(w.startswith("W6-") for w in Program.selected)
        only = list(Program.selected) + ([GEMM] if self.gemm and not w6_only else [])
        cmd = self.args(threads, only, inner, data)
        t = time.monotonic()
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=CALL_TIMEOUT, cwd=REPO)
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            self.parse(threads, out)
            self.failed[threads] = f"timed out after {CALL_TIMEOUT} s: `{shlex.join(cmd)}`"
            return f"TIMEOUT ({CALL_TIMEOUT} s)"
        except OSError as e:
            self.failed[threads] = f"could not start `{shlex.join(cmd)}`: {e}"
            return "FAILED to start"
        got = self.parse(threads, r.stdout)
        if threads not in self.stderr_info and r.stderr.strip() and r.returncode == 0:
            self.stderr_info[threads] = r.stderr.strip()
        if r.returncode != 0:
            self.failed[threads] = (f"exit {r.returncode} from `{shlex.join(cmd)}` "
                                    f"after {len(got)} lines:\n" + indent(tail(r.stderr or r.stdout)))
            return f"FAILED (exit {r.returncode})"
        missing = [w for w in Program.selected if w not in got]
        note = f", no line for {', '.join(missing)}" if missing else ""
        return f"{time.monotonic() - t:.1f} s{note}"

    def parse(self, threads, stdout):
        got = {}
        for line in stdout.splitlines():
            m = LINE.match(line.strip())
            if m and (m.group(1) in WORKLOADS or m.group(1) == GEMM):
                got[m.group(1)] = float(m.group(2))
                self.times.setdefault((threads, m.group(1)), []).append(float(m.group(2)))
        return got

    def median(self, threads, workload):
        ts = self.times.get((threads, workload))
        return statistics.median(ts) if ts else None


class RtNeural(Program):
    """One build of RTNeural's per-sample benchmark (bench/rtneural.py): one thread, W6's
    streaming workloads only, its own command line (the samples a timed run) and table."""

    def __init__(self, build, binary, samples):
        super().__init__(f"rtneural-{build}", [binary, str(samples)])
        self.build = build
        self.thread_counts = {1}

    def run(self, threads, data, inner=1):
        t = time.monotonic()
        try:
            r = subprocess.run(self.cmd, capture_output=True, text=True, timeout=CALL_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as e:
            self.failed[threads] = f"`{shlex.join(self.cmd)}`: {e}"
            return "FAILED"
        if r.returncode != 0:
            self.failed[threads] = f"exit {r.returncode} from `{shlex.join(self.cmd)}`"
            return f"FAILED (exit {r.returncode})"
        self.stderr_info.setdefault(threads, rtneural.header(r.stdout) or "")
        for w, s in rtneural.parse(r.stdout).items():
            if w in Program.selected:
                self.times.setdefault((threads, w), []).append(s)
        return f"{time.monotonic() - t:.1f} s"


def measure_memory(program, data):
    """Peak RSS in MiB of `program` on W3-784-100-10 at 1 thread, via a fresh helper process."""
    cmd = program.args(1, ["W3-784-100-10"], 1, data)
    helper = [sys.executable, os.path.abspath(__file__), "--maxrss-helper", "--", *cmd]
    try:
        r = subprocess.run(helper, capture_output=True, text=True, timeout=CALL_TIMEOUT, cwd=REPO)
        result = json.loads(r.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, IndexError, json.JSONDecodeError) as e:
        return None, f"the helper failed: {e}"
    if result.get("rc") != 0:
        return None, f"exit {result.get('rc')}: {result.get('error', '')}"
    return result["maxrss_kib"] / 1024, None


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------


def fmt_time(s):
    if s is None:
        return "n/a"
    if s < 1e-3:
        return f"{s * 1e6:.2f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.3f} s"


def fmt_ratio(r):
    if r is None:
        return "n/a"
    return f"{r:.0f}×" if r >= 100 else f"{r:.1f}×" if r >= 10 else f"{r:.2f}×"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def w3_flops(hidden, samples=60_000):
    """Forward 2·B·(784·H + H·10), the weight gradients as many again, the second layer's input
    gradient 2·B·H·10; the first layer's input gradient is not computed."""
    forward = 2 * samples * (784 * hidden + hidden * 10)
    return 2 * forward + 2 * samples * hidden * 10


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return platform.processor() or "?", ""
    model = re.search(r"^model name\s*:\s*(.*)$", text, re.M)
    flags = re.search(r"^flags\s*:\s*(.*)$", text, re.M)
    simd = []
    if flags:
        have = set(flags.group(1).split())
        simd = [f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                            "avx512_bf16", "amx_tile") if f in have]
    return (model.group(1).strip() if model else "?"), " ".join(simd)


def dfdx_version():
    try:
        with open(os.path.join(DFDX, "Cargo.lock")) as f:
            m = re.search(r'name = "dfdx"\nversion = "([^"]+)"', f.read())
        return m.group(1) if m else "?"
    except OSError:
        return "? (no bench/dfdx/Cargo.lock)"


def cpu_busy_seconds():
    """Seconds of CPU time spent by everything on the machine (all cores, not idle/iowait), and
    by this process's waited-for children; None if /proc/stat cannot be read."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal (guest time is inside user)
    busy = sum(fields[:8]) - fields[3] - fields[4]
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return busy / os.sysconf("SC_CLK_TCK"), ru.ru_utime + ru.ru_stime


def mem_total():
    try:
        with open("/proc/meminfo") as f:
            kib = int(re.search(r"MemTotal:\s*(\d+)", f.read()).group(1))
        return f"{kib / 1024 ** 2:.1f} GiB"
    except (OSError, AttributeError):
        return "?"


def w5_section(programs, threads, peaks, by):
    """The W5 part of the report: per network and thread count, every program's time, its
    ratio to the issue's PyTorch figure and to the measured PyTorch and NumPy, and typenet's
    GFLOP/s against its GEMM peak at that thread count."""
    if not any(w in Program.selected for w in W5 + W5_INFER):
        return []
    md = ["## W5: convolutional networks (issue 13)\n"]
    md.append("Seconds per epoch (600 steps of 100 images) and per single-image inference. "
              "\"issue torch\" is the issue's PyTorch 2.15 figure on this machine kind; the "
              "ratios are that figure, or a peer's time in this run, over typenet's. GFLOP/s "
              "counts the products of the convolutions and dense layers "
              "(`benches/workloads.rs`); \"of peak\" divides by typenet's GEMM-512 rate at the "
              "same thread count in this run.\n")
    torch, numpys = by.get("torch"), [by.get("numpy-f32"), by.get("numpy-f64")]
    rows = []
    for w in W5 + W5_INFER:
        if w not in Program.selected:
            continue
        for t in threads if w in W5 else [1]:
            issue = W5_TORCH_ISSUE[w].get(t)
            for p in programs:
                if not p.name.startswith("typenet"):
                    continue
                s = p.median(t, w)
                if not s:
                    continue
                gf = W5_FLOPS[w] / s / 1e9
                peak = peaks.get("typenet" if t == 1 else "typenet@2")
                measured_torch = torch.median(t, w) if torch else None
                numpy = min((q.median(t, w) for q in numpys if q and q.median(t, w)), default=None)
                rows.append([w, f"{p.name}@{t}", fmt_time(s),
                             fmt_ratio(issue / s) if issue else "n/a",
                             fmt_ratio(measured_torch / s) if measured_torch else "n/a",
                             fmt_ratio(numpy / s) if numpy else "n/a",
                             f"{gf:.1f}", f"{gf / peak:.0%}" if peak else "n/a"])
    md.append(table(["workload", "program", "time", "issue torch / it", "torch (this run) / it",
                     "NumPy (faster dtype) / it", "GFLOP/s", "of peak"], rows) + "\n")
    return md


def w5_targets(rows, target, by, tn, threads, peaks):
    """The goals of issue 13 for W5, as rows of the targets table."""
    if not tn:
        return
    for w in W5:
        if w not in Program.selected:
            continue
        for t in threads:
            s, issue = tn.median(t, w), W5_TORCH_ISSUE[w].get(t)
            target(f"{w} vs the issue's PyTorch ({issue} s) @{t}", issue / s if s and issue else None, 3)
    if "W5-LeNet-infer" in Program.selected:
        s = tn.median(1, "W5-LeNet-infer")
        rows.append(["W5-LeNet-infer, typenet", fmt_time(s), "≤ 10 µs",
                     ("**met**" if s <= W5_INFER_GOAL else f"**missed** (by {s / W5_INFER_GOAL:.2f}×)")
                     if s else "not measured"])


def fmt_ns(s):
    if s is None:
        return "n/a"
    ns = s * 1e9
    return f"{ns:.1f}" if ns < 100 else f"{ns:.0f}"


def w6_rtneural_best(by, w):
    """(seconds, build) of the fastest RTNeural build on `w` in this run, or (None, None)."""
    best = None
    for p in by.values():
        if isinstance(p, RtNeural) and p.median(1, w):
            if best is None or p.median(1, w) < best[0]:
                best = (p.median(1, w), p.build)
    return best or (None, None)


def w6_issue_torch(w):
    kind = "BPTT" if w == "W6-BPTT" else w.split("-")[1]
    return W6_TORCH_ISSUE.get(kind)


def w6_section(programs, by, tn):
    """The W6 part of the report: ns a sample of every typenet build, RTNeural's best build
    and its plain -O3 xsimd build, and PyTorch, with the ratios; every RTNeural build's
    figures; the BPTT step."""
    if not any(w.startswith("W6-") for w in Program.selected):
        return []
    md = ["## W6: sequence models, per sample (issue 14)\n"]
    md.append("Nanoseconds a sample (one streaming step of one stream), 1 thread. \"RTNeural best\" "
              "is the fastest of its builds on that workload in this run; \"÷\" columns are the "
              "peer's time over typenet's (`" + (tn.name if tn else "typenet") + "`), so above 1 "
              "typenet is faster. Method (the same for typenet and RTNeural): every parameter "
              "uniform in [-1, 1], inputs from a ring of pre-computed frames, every output "
              "summed; PyTorch calls its modules once a sample with the state carried "
              "(`bench/torch_peer.py`). \"issue torch\" is the issue's PyTorch figure.\n")
    typenets = [p for p in programs if p.name.startswith("typenet")]
    torch = by.get("torch")
    rows = []
    for w in W6_STREAM:
        if w not in Program.selected:
            continue
        best, build = w6_rtneural_best(by, w)
        plain = by.get("rtneural-xsimd-O3")
        plain = plain.median(1, w) if plain else None
        ts = torch.median(1, w) if torch else None
        issue = w6_issue_torch(w)
        base = tn.median(1, w) if tn else None
        rows.append([w] + [fmt_ns(p.median(1, w)) for p in typenets]
                    + [f"{fmt_ns(best)} ({build})" if best else "n/a", fmt_ns(plain),
                       fmt_ns(ts),
                       f"{issue[0] * 1e6:.0f}–{issue[1] * 1e6:.0f} µs" if issue else "",
                       fmt_ratio(best / base) if best and base else "n/a",
                       fmt_ratio(ts / base) if ts and base else "n/a"])
    md.append(table(["workload"] + [p.name for p in typenets]
                    + ["RTNeural best", "RTNeural xsimd -O3", "torch", "issue torch",
                       "RTNeural best ÷", "torch ÷"], rows) + "\n")
    rtns = [p for p in programs if isinstance(p, RtNeural)]
    if rtns:
        md.append("Every RTNeural build, ns a sample (median over the rounds of each binary's "
                  "median of three runs):\n")
        rows = [[w] + [fmt_ns(p.median(1, w)) for p in rtns]
                for w in W6_STREAM if w in Program.selected]
        md.append(table(["workload"] + [p.build for p in rtns], rows) + "\n")
        for p in rtns:
            if p.stderr_info.get(1):
                md.append(f"- {p.name}: `{p.stderr_info[1]}`")
        md.append("")
    if "W6-BPTT" in Program.selected:
        ts = torch.median(1, "W6-BPTT") if torch else None
        rows = []
        for p in typenets:
            s = p.median(1, "W6-BPTT")
            rows.append([p.name, fmt_time(s), fmt_time(ts),
                         fmt_ratio(ts / s) if s and ts else "n/a",
                         fmt_ratio(W6_TORCH_ISSUE["BPTT"][0] / s) if s else "n/a"])
        md.append("W6-BPTT: one Adam step of `Gru<1, 16>` + `Dense<16, 1>` on 16 sequences of 256 "
                  "samples (forward, MSE, backward through time, update):\n")
        md.append(table(["program", "step", "torch (this run)", "torch ÷", "issue torch (37 ms) ÷"],
                        rows) + "\n")
    return md


def w6_targets(rows, target, by, tn):
    """The goals of issue 14 for W6, as rows of the targets table."""
    if not tn:
        return
    torch = by.get("torch")
    for w in W6_STREAM:
        if w not in Program.selected:
            continue
        s = tn.median(1, w)
        best, build = w6_rtneural_best(by, w)
        if any(isinstance(p, RtNeural) for p in by.values()):
            extra = " (a diagnostic: the product inside each step)" if w.startswith("W6-Dense") else ""
            target(f"{w}: {tn.name} vs RTNeural's best build ({build}){extra}",
                   best / s if best and s else None, W6_RTN_GOAL,
                   goal_text="faster (≥ 1×)")
        if w.startswith("W6-Dense"):
            continue  # no PyTorch peer
        ts = torch.median(1, w) if torch else None
        target(f"{w}: {tn.name} vs PyTorch (this run)", ts / s if ts and s else None,
               W6_TORCH_GOAL)
    if "W6-BPTT" in Program.selected:
        s = tn.median(1, "W6-BPTT")
        ts = torch.median(1, "W6-BPTT") if torch else None
        target(f"W6-BPTT: {tn.name} vs PyTorch (this run)", ts / s if ts and s else None,
               W6_BPTT_GOAL)
        target(f"W6-BPTT: {tn.name} vs the issue's PyTorch (37 ms)",
               W6_TORCH_ISSUE["BPTT"][0] / s if s else None, W6_BPTT_GOAL)


def report(args, programs, threads, venv, torch_how, memory, notes, load, started, elapsed):
    by = {p.name: p for p in programs}
    tn = by.get("typenet")
    # RTNeural's nine builds have a W6 section of their own, not columns in the tables below
    general = [p for p in programs if not isinstance(p, RtNeural)]
    peers = [p for p in general if p.name != "typenet"]
    # the peers the targets compare with: not typenet itself in another build or revision
    others = [p for p in peers if not p.name.startswith("typenet")]
    cols = [(p, t) for p in general for t in threads]
    md = []
    md.append("# typenet speed comparison (issue 5)\n")
    cmd = "python3 bench/compare.py " + shlex.join(sys.argv[1:])
    md.append(f"Run {started:%Y-%m-%d %H:%M} UTC: `{cmd.strip()}`, {elapsed / 60:.1f} min. "
              f"Medians of {args.rounds} round(s); each round runs every program once at each "
              f"thread count ({', '.join(map(str, threads))}) with `--rounds {args.inner_rounds}` "
              "(the program's own median of that many repetitions), the programs "
              "alternating (the order rotates every round). W3 data: "
              + (f"`{args.data}`" if args.data else
                 "the repository's 10,000 digits (`data/mnist-10k`) six times over") + ".\n")

    model, simd = cpu_model()
    blas = venv.get("blas") or []
    blas_text = "; ".join(
        f"{b.get('internal_api')} {b.get('version')}, kernel {b.get('architecture')}, "
        f"{b.get('threading_layer')}" for b in blas) or "?"
    md.append("## Machine\n")
    md.append(f"- CPU: {model}, {os.cpu_count()} logical cores; SIMD: {simd or '?'}; memory {mem_total()}")
    other = load.get("other")
    md.append(f"- Load average (1 min) at the start {load['start']:.2f}, at the end {load['end']:.2f}; "
              + (f"other processes used {other:.0%} of the {os.cpu_count()} cores' time while the "
                 "programs were timed" if other is not None else "others' CPU use unknown")
              + (" - **the machine was busy: these figures (the 2-thread ones above all) are "
                 "not to be trusted**" if other is not None and other > 0.1 else ""))
    md.append(f"- Linux {platform.release()}")
    md.append(f"- {command_output(['rustc', '--version'])}, "
              + ("typenet built with `RUSTFLAGS=\"-C target-cpu=native\"`" if args.build == "native"
                 else "typenet built as users build it (plain `cargo build --release`), "
                      "typenet-native with `RUSTFLAGS=\"-C target-cpu=native\"`"))
    md.append(f"- typenet at {command_output(['git', 'rev-parse', '--short', 'HEAD'])}"
              + (" with uncommitted changes" if command_output(
                  ['git', 'status', '--porcelain', '--untracked-files=no', '--', 'src', 'examples',
                   'benches', 'Cargo.toml']) else "")
              + f"; dfdx {dfdx_version()}")
    md.append(f"- Python {venv.get('python', '?')} (bench/.venv), numpy {venv.get('numpy', 'missing')} "
              f"(BLAS: {blas_text}), threadpoolctl {venv.get('threadpoolctl', 'missing')}")
    md.append(f"- torch {venv.get('torch', 'missing')} (CPU capability {venv.get('torch_cpu', '?')}, "
              f"built for CUDA {venv.get('torch_cuda_build')}, run on the CPU); installed by: {torch_how}")
    for p in programs:
        for t, said in sorted(p.stderr_info.items()):
            md.append(f"- {p.name} @{t} says: `{' / '.join(said.splitlines()[:2])}`")
    md.append("")

    # Medians
    md.append("## Medians\n")
    header = ["workload"] + [f"{p.name}@{t}" for p, t in cols]
    rows = []
    for w in Program.selected + [GEMM]:
        cells = [fmt_time(p.median(t, w)) for p, t in cols]
        if all(c == "n/a" for c in cells):
            continue
        rows.append([f"{w} ({UNITS[w]})"] + cells)
    md.append(table(header, rows) + "\n")

    # Ratios
    if tn and peers:
        md.append("## Ratios: peer time / typenet time at the same thread count\n")
        pcols = [(p, t) for p in peers for t in threads]
        rows = []
        for w in Program.selected:
            row = [w]
            for p, t in pcols:
                a, b = p.median(t, w), tn.median(t, w)
                row.append(fmt_ratio(a / b) if a and b else "n/a")
            rows.append(row)
        md.append(table(["workload"] + [f"{p.name}@{t}" for p, t in pcols], rows) + "\n")

    # GEMM peak and W3 throughput (not measured in a run of W6 alone)
    w6_only = all(w.startswith("W6-") for w in Program.selected)
    gemm_at = len(md)
    md.append("## GEMM peak and W3 throughput\n")
    gemm_flops = 2 * 512 ** 3
    peaks = {}
    for name in ("typenet", "numpy-f32"):
        p = by.get(name)
        s = p.median(1, GEMM) if p else None
        peaks[name] = gemm_flops / s / 1e9 if s else None
        md.append(f"- {name} GEMM-512 (f32, 1 thread): "
                  + (f"{fmt_time(s)} a product, {peaks[name]:.1f} GFLOP/s" if s else "n/a"))
    for name in ("typenet", "numpy-f32"):
        p = by.get(name)
        s = p.median(2, GEMM) if p and 2 in threads else None
        if s:
            peaks[f"{name}@2"] = gemm_flops / s / 1e9
            md.append(f"- {name} GEMM-512 (f32, 2 threads): {fmt_time(s)} a product, "
                      f"{gemm_flops / s / 1e9:.1f} GFLOP/s")
    md.append("")
    for name in ("typenet", "numpy-f32"):
        peaks.setdefault(f"{name}@2", None)
    rows = []
    for hidden in (100, 50):
        w = f"W3-784-{hidden}-10"
        for p, t in cols:
            s = p.median(t, w)
            if not s:
                continue
            gf = w3_flops(hidden) / s / 1e9
            rows.append([w, f"{p.name}@{t}", f"{w3_flops(hidden) / 1e9:.2f}", fmt_time(s), f"{gf:.1f}"]
                        + [f"{gf / peaks[k]:.0%}" if peaks[k] else "n/a" for k in ("typenet", "numpy-f32")])
    if rows:
        md.append(table(["workload", "program", "GFLOP per epoch", "epoch", "GFLOP/s",
                         "of typenet's 1-thread peak", "of numpy-f32's 1-thread peak"], rows) + "\n")
    if w6_only:
        del md[gemm_at:]

    md.extend(w5_section(programs, threads, peaks, by))
    md.extend(w6_section(programs, by, tn))

    # Targets
    md.append("## Targets\n")
    rows = []

    def target(what, value, goal, fmt=fmt_ratio, goal_text=None):
        if value is None:
            rows.append([what, "n/a", goal_text or f"≥ {goal:g}×", "not measured"])
        else:
            rows.append([what, fmt(value), goal_text or f"≥ {goal:g}×",
                         "**met**" if value >= goal else f"**missed** (by {goal / value:.2f}×)"])

    def ratio(peer_names, t, w):
        """The smallest peer/typenet ratio among `peer_names` (the fastest of them), and which."""
        if not tn or not tn.median(t, w):
            return None, None
        best = None
        for n in peer_names:
            p = by.get(n)
            s = p.median(t, w) if p else None
            if s and (best is None or s < best[0]):
                best = (s, n)
        return (best[0] / tn.median(t, w), best[1]) if best else (None, None)

    every = [p.name for p in others]
    numpys = ["numpy-f64", "numpy-f32"]
    goals = [
        ("W1", ["torch"], 500), ("W1", numpys, 300), ("W1", ["dfdx"], 20),
        ("W2", numpys, 300), ("W2", ["dfdx"], 10),
        ("W3-784-100-10", every, 2), ("W3-784-50-10", every, 2),
        ("W4-784-100-10", every, 5), ("W4-deep-sigmoid", every, 20),
    ]
    for w, names, goal in goals:
        if w not in Program.selected:
            continue
        for t in threads:
            r, who = ratio(names, t, w)
            label = ("the fastest peer" if names is every else
                     "NumPy, the faster dtype" if names is numpys else names[0])
            target(f"{w} vs {label}{f' ({who})' if who and len(names) > 1 else ''} @{t}", r, goal)
    for hidden in (100, 50):
        w = f"W3-784-{hidden}-10"
        if w not in Program.selected:
            continue
        s = tn.median(1, w) if tn else None
        for k in ("typenet", "numpy-f32"):
            frac = w3_flops(hidden) / s / 1e9 / peaks[k] if s and peaks[k] else None
            target(f"{w} typenet@1 GFLOP/s vs {k}'s GEMM-512 peak", frac, 0.7,
                   fmt=lambda v: f"{v:.0%}", goal_text="≥ 70%")
        s2 = tn.median(2, w) if tn and 2 in threads else None
        target(f"{w} typenet 2 threads vs 1 (speed-up)", s / s2 if s and s2 else None, 1.7)
    w5_targets(rows, target, by, tn, threads, peaks)
    w6_targets(rows, target, by, tn)
    if memory:
        mb = memory.get("typenet", (None, None))[0]
        rows.append(["W3-784-100-10 peak RSS, typenet", f"{mb:.0f} MiB" if mb else "n/a", "< 120 MiB",
                     ("**met**" if mb < 120 else f"**missed** (by {mb / 120:.2f}×)") if mb else "not measured"])
    elif "W3-784-100-10" in Program.selected:
        rows.append(["W3-784-100-10 peak RSS, typenet", "n/a", "< 120 MiB", "not measured (needs --data)"])
    md.append(table(["target", "measured", "goal", ""], rows) + "\n")

    # Memory
    md.append("## Peak memory\n")
    if w6_only:
        md.pop()
    elif memory:
        md.append(f"W3-784-100-10 on `{args.data}`, `--rounds 1 --threads 1`, each program alone "
                  "in a fresh helper process (peak resident set, `ru_maxrss` of its only child):\n")
        md.append(table(["program", "peak RSS"],
                        [[n, f"{mb:.0f} MiB" if mb else f"n/a ({err})"] for n, (mb, err) in memory.items()])
                  + "\n")
    else:
        md.append("Not measured: give `--data DIR` (e.g. `/usr/share/datasets/fashion-mnist`).\n")

    # Problems
    problems = list(notes)
    for p in programs:
        for t, msg in sorted(p.failed.items()):
            problems.append(f"{p.name}@{t}: {msg}")
    md.append("## Problems\n")
    md.append("\n".join(f"- {n}" for n in problems) if problems else "None.")
    md.append("")
    md.append("## Reproduce\n")
    md.append("```sh\n" + ("python3 bench/compare.py --workloads W6 --programs "
                            "typenet,typenet-native,torch,rtneural --build default" if w6_only else
                            "python3 bench/compare.py --rounds 3 --data /usr/share/datasets/fashion-mnist")
              + "\n```")
    return "\n".join(md) + "\n"


# ---------------------------------------------------------------------------------------------


def main(argv):
    if argv[:1] == ["--maxrss-helper"]:
        return maxrss_helper(argv[2:] if argv[1:2] == ["--"] else argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    ap.add_argument("--inner-rounds", type=int, default=3,
                    help="each call's own --rounds: the program reports the median of this many "
                         "repetitions, so that a cold first epoch or step does not decide (default 3)")
    ap.add_argument("--data", default=None, help="MNIST-format directory for W3 (and the memory runs)")
    ap.add_argument("--skip-install", action="store_true", help="never pip-install into bench/.venv")
    ap.add_argument("--skip-build", action="store_true", help="use the Rust binaries already built")
    ap.add_argument("--threads", default=None,
                    help="thread counts (default 1,2; 1 when only W6 is chosen)")
    ap.add_argument("--programs", default=None,
                    help="which programs (default typenet,dfdx,numpy-f64,numpy-f32,torch, or "
                         "typenet,torch,rtneural when only W6 is chosen; typenet-base with "
                         "--baseline; rtneural is its nine builds)")
    ap.add_argument("--baseline", default=None,
                    help="a git revision of typenet to run beside the working tree (typenet-base)")
    ap.add_argument("--build", choices=["native", "default"], default="native",
                    help="how to build typenet: target-cpu=native (default) or as users do")
    ap.add_argument("--output", default=RESULTS, help="the markdown report (default bench/results.md)")
    ap.add_argument("--workloads", default=None,
                    help="only the workloads whose names start with one of these comma-separated "
                         "prefixes (W1, W3, W5, W5-LeNet, ...); GEMM-512 is always measured")
    ap.add_argument("--w6-torch-steps", type=int, default=2000,
                    help="PyTorch's per-sample calls in one W6 streaming round (default 2000)")
    ap.add_argument("--rtneural-samples", type=int, default=1_000_000,
                    help="samples in each timed run of each RTNeural model (default 1,000,000)")
    ap.add_argument("--w5-peer-steps", default="numpy=30,torch=120",
                    help="W5 steps the Python peers time (scaled to the 600-step epoch): "
                         "numpy=N,torch=N (default numpy=30,torch=120)")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("--rounds must be positive")
    if args.inner_rounds < 1:
        ap.error("--inner-rounds must be positive")
    if args.workloads:
        prefixes = [w for w in args.workloads.split(",") if w]
        Program.selected = [w for w in WORKLOADS if any(w.startswith(x) for x in prefixes)]
    else:
        # W6 (issue 14) is asked for by name: its peers are others than W1-W5's
        Program.selected = [w for w in WORKLOADS if not w.startswith("W6-")]
    w6_only = bool(Program.selected) and all(w.startswith("W6-") for w in Program.selected)
    if args.threads is None:
        args.threads = "1" if w6_only else "1,2"
    if args.programs is None:
        args.programs = ("typenet,torch,rtneural" if w6_only
                         else "typenet,dfdx,numpy-f64,numpy-f32,torch")
    threads = [int(t) for t in args.threads.split(",")]
    try:
        peer_steps = dict((k, int(v)) for k, v in
                          (kv.split("=") for kv in args.w5_peer_steps.split(",") if kv))
    except ValueError:
        ap.error("--w5-peer-steps takes numpy=N,torch=N")
    wanted = args.programs.split(",")
    if args.baseline and "typenet-base" not in wanted:
        wanted.append("typenet-base")
    if "typenet-base" in wanted and not args.baseline:
        ap.error("typenet-base needs --baseline REV")
    unknown = set(wanted) - {"typenet", "typenet-native", "typenet-base", "dfdx", "numpy-f64",
                             "numpy-f32", "torch", "rtneural"}
    if unknown:
        ap.error(f"unknown programs: {', '.join(sorted(unknown))}")
    if args.data and not os.path.isdir(args.data):
        ap.error(f"--data {args.data}: no such directory")
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()
    load_start = os.getloadavg()[0]
    notes = []

    venv, torch_how = ({}, "not needed")
    if {"numpy-f64", "numpy-f32", "torch"} & set(wanted):
        venv, torch_how = setup_venv(args.skip_install, notes)

    programs = []
    native = args.build == "native"
    for name in wanted:
        if name == "typenet":
            target = TYPENET_TARGET if native else os.path.join(REPO, "target", "bench-default")
            binary = build("typenet", REPO, ["build", "--release", "--example", "bench"], target,
                           os.path.join(target, "release", "examples", "bench"), args.skip_build,
                           notes, native)
            if binary:
                programs.append(Program("typenet", [binary], gemm=True))
        elif name == "typenet-native":
            binary = build("typenet-native", REPO, ["build", "--release", "--example", "bench"],
                           TYPENET_TARGET, TYPENET_BIN, args.skip_build, notes, True)
            if binary:
                programs.append(Program("typenet-native", [binary], gemm=True))
        elif name == "typenet-base":
            src = baseline_worktree(args.baseline, notes)
            if not src:
                continue
            target = os.path.join(REPO, "target", "baseline-" + args.build)
            binary = build(f"typenet-base ({args.baseline})", src,
                           ["build", "--release", "--example", "bench"], target,
                           os.path.join(target, "release", "examples", "bench"), args.skip_build,
                           notes, native)
            if binary:
                programs.append(Program("typenet-base", [binary], gemm=True))
        elif name == "dfdx":
            if not os.path.isfile(os.path.join(DFDX, "Cargo.toml")):
                notes.append("dfdx: bench/dfdx does not exist; skipped")
                continue
            binary = build("dfdx", DFDX, ["build", "--release"], DFDX_TARGET, DFDX_BIN,
                           args.skip_build, notes)
            if binary:
                programs.append(Program("dfdx", [binary], gemm=True))
        elif name.startswith("numpy"):
            if "numpy" in venv and "threadpoolctl" in venv:
                dtype = "float64" if name == "numpy-f64" else "float32"
                programs.append(Program(name, [VENV_PY, os.path.join(BENCH, "numpy_peer.py"),
                                               "--dtype", dtype,
                                               "--w5-steps", str(peer_steps.get("numpy", 600))],
                                        gemm=name == "numpy-f32"))
            else:
                notes.append(f"{name}: numpy/threadpoolctl missing from bench/.venv; skipped")
        elif name == "torch":
            if "torch" in venv:
                programs.append(Program("torch", [VENV_PY, os.path.join(BENCH, "torch_peer.py"),
                                                  "--w5-steps", str(peer_steps.get("torch", 600)),
                                                  "--w6-steps", str(args.w6_torch_steps)]))
            else:
                notes.append("torch: torch does not work in bench/.venv; skipped")
        elif name == "rtneural":
            if args.skip_build and not os.path.exists(os.path.join(rtneural.CACHE, "stamp")):
                notes.append("rtneural: --skip-build and nothing built in target/rtneural; skipped")
                continue
            binaries, said = rtneural.ensure_built(log=log)
            notes.extend(said)
            if binaries and 1 not in threads:
                notes.append("rtneural: runs at 1 thread only, and --threads has no 1; skipped")
                continue
            for which, binary in binaries.items():
                programs.append(RtNeural(which, binary, args.rtneural_samples))

    busy0, wall0 = cpu_busy_seconds(), time.monotonic()
    for r in range(args.rounds):
        k = r % len(programs) if programs else 0
        order = programs[k:] + programs[:k]
        counts = threads if r % 2 == 0 else threads[::-1]
        for p in order:
            for t in counts:
                if t in p.failed or not p.runs_at(t):
                    continue
                log(f"[round {r + 1}/{args.rounds}] {p.name} @{t} threads ...")
                log(f"  {p.run(t, args.data, args.inner_rounds)}")

    busy1, wall1 = cpu_busy_seconds(), time.monotonic()
    load = {"start": load_start, "end": os.getloadavg()[0]}
    if busy0 and busy1 and wall1 > wall0:
        others = (busy1[0] - busy0[0]) - (busy1[1] - busy0[1])
        load["other"] = max(0.0, others / ((wall1 - wall0) * os.cpu_count()))

    memory = {}
    if args.data:
        for p in programs:
            log(f"[memory] {p.name}: W3-784-100-10 at 1 thread ...")
            memory[p.name] = measure_memory(p, args.data)
            mb, err = memory[p.name]
            log(f"  {f'{mb:.0f} MiB' if mb else err}")

    text = report(args, programs, threads, venv, torch_how, memory, notes, load,
                  started, time.monotonic() - t0)
    print(text)
    with open(args.output, "w") as f:
        f.write(text)
    log(f"written to {os.path.relpath(args.output, REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
