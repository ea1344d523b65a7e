#!/usr/bin/env python3
"""RTNeural (C++, compile-time layer sizes, per-sample streaming) as a peer of W6, issue 14's
per-sample workloads: finds its sources, builds its benchmark once into a cache, runs it and
reads its figures as W6's workload names. `bench/compare.py` uses it; run alone it builds (if
needed) and runs every build once:

    python3 bench/rtneural.py [--samples N] [--builds xsimd-O3,eigen-native,...]

The benchmark (`bench.cpp`) and its build script (`build.sh`) are the peer's, kept beside the
project (`shared/peers/rtneural/`: its README says how they measure). They time
`ModelT<float, 1, 1, GRULayerT<float, 1, H>, DenseT<float, H, 1>>`, its LSTM twin,
`Conv1DT<float, 8, 8, 3, D>` and `DenseT<float, N, N>` one sample at a time, three backends
(xsimd, Eigen, STL) times three flag sets (`-O3`, `-O3 -march=native`, `-O3 -mavx2 -mfma`):
nine binaries, each printing the median of its three rounds in ns a sample.

Where things come from (the first that exists):

- the benchmark directory: `$RTN_BENCH_DIR`, `bench/rtneural/` in the repository,
  `../shared/peers/rtneural` beside the repository, `/work/shared/peers/rtneural`;
- RTNeural's source, a bare git directory holding commit `RTN_COMMIT`: `$RTN_GIT`, else the
  local mirror `/work/.mirror/jatinchowdhury18+RTNeural/repo`;
- xsimd's, holding the commit RTNeural pins as its `modules/xsimd` submodule (RTNeural's tree
  names it; Debian's libxsimd-dev is too old): `$XSIMD_GIT`, else
  `/work/.mirror/xtensor-stack+xsimd/repo`;
- the compiler: `$CXX`, else `g++`.

The binaries are cached in `target/rtneural/` (`--cache DIR` elsewhere) with a stamp of the
two commits, the compiler's version and the benchmark's and build script's contents; a change
to any of them rebuilds all nine (a few minutes on two cores).
"""

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
RTN_COMMIT = "1fb1f075a5d66e85bfc8f488c3f3626840cb3a1d"
CACHE = os.path.join(REPO, "target", "rtneural")
BENCH_DIRS = [
    os.environ.get("RTN_BENCH_DIR"),
    os.path.join(BENCH, "rtneural"),
    os.path.join(os.path.dirname(REPO), "shared", "peers", "rtneural"),
    "/work/shared/peers/rtneural",
]
MIRRORS = {
    "RTN_GIT": "/work/.mirror/jatinchowdhury18+RTNeural/repo",
    "XSIMD_GIT": "/work/.mirror/xtensor-stack+xsimd/repo",
}
BACKENDS = ("xsimd", "eigen", "stl")
FLAGSETS = {"O3": ("o3", "-O3"), "native": ("native", "-O3 -march=native"),
            "avx2": ("avx2", "-O3 -mavx2 -mfma")}
# build name (as compare.py shows it) -> the binary build.sh writes
BUILDS = {f"{be}-{fs}": f"bench_{be}_{FLAGSETS[fs][0]}" for be in BACKENDS for fs in FLAGSETS}
# RTNeural's model names -> W6's workload names
MODELS = {
    "gru8+dense": "W6-GRU-8", "gru16+dense": "W6-GRU-16", "gru32+dense": "W6-GRU-32",
    "lstm8+dense": "W6-LSTM-8", "lstm16+dense": "W6-LSTM-16", "lstm32+dense": "W6-LSTM-32",
    "conv1d8x8_k3_d1": "W6-Conv1d-d1", "conv1d8x8_k3_d4": "W6-Conv1d-d4",
    "dense8x8": "W6-Dense-8", "dense16x16": "W6-Dense-16", "dense32x32": "W6-Dense-32",
}
ROW = re.compile(r"^(\S+)\s+(\w+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+(\S+)\s*$")


def git(git_dir, *args):
    r = subprocess.run(["git", "--git-dir", git_dir, *args], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def find_sources():
    """(bench dir, RTNeural git dir, xsimd git dir, xsimd commit, compiler), or None and the
    reason why not."""
    bench_dir = next((d for d in BENCH_DIRS if d and all(
        os.path.isfile(os.path.join(d, f)) for f in ("bench.cpp", "build.sh"))), None)
    if not bench_dir:
        return None, ("no RTNeural benchmark (bench.cpp and build.sh) in "
                      + ", ".join(d for d in BENCH_DIRS if d))
    dirs = {}
    for var, mirror in MIRRORS.items():
        d = os.environ.get(var) or (mirror if os.path.isdir(mirror) else None)
        if not d:
            return None, f"no {var} (a bare git dir; set it, or fetch the repository to {mirror})"
        dirs[var] = d
    if git(dirs["RTN_GIT"], "cat-file", "-e", f"{RTN_COMMIT}^{{commit}}") is None:
        return None, f"{dirs['RTN_GIT']} does not hold RTNeural commit {RTN_COMMIT}"
    tree = git(dirs["RTN_GIT"], "ls-tree", RTN_COMMIT, "modules/xsimd") or ""
    xsimd = tree.split()[2] if len(tree.split()) >= 3 else None
    if not xsimd:
        return None, f"RTNeural {RTN_COMMIT} has no modules/xsimd submodule entry"
    if git(dirs["XSIMD_GIT"], "cat-file", "-e", f"{xsimd}^{{commit}}") is None:
        return None, f"{dirs['XSIMD_GIT']} does not hold xsimd commit {xsimd} (RTNeural's pin)"
    cxx = os.environ.get("CXX", "g++")
    if not shutil.which(cxx):
        return None, f"no C++ compiler `{cxx}` (apt-get install g++)"
    return (bench_dir, dirs["RTN_GIT"], dirs["XSIMD_GIT"], xsimd, cxx), None


def compiler_version(cxx):
    r = subprocess.run([cxx, "--version"], capture_output=True, text=True)
    return r.stdout.splitlines()[0] if r.returncode == 0 and r.stdout else "?"


def stamp_of(sources):
    bench_dir, _, _, xsimd, cxx = sources
    h = hashlib.sha256()
    for part in (RTN_COMMIT, xsimd, compiler_version(cxx)):
        h.update(part.encode() + b"\0")
    for f in ("bench.cpp", "build.sh"):
        with open(os.path.join(bench_dir, f), "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()


def ensure_built(cache=CACHE, log=lambda m: print(m, file=sys.stderr, flush=True)):
    """{build name: binary} of the builds that exist after building (once, cached), and a list
    of notes (why RTNeural is skipped, which builds failed). Empty dict if it cannot be had."""
    sources, why = find_sources()
    if not sources:
        return {}, [f"RTNeural skipped: {why}"]
    bench_dir, rtn_git, xsimd_git, xsimd, cxx = sources
    out = os.path.join(cache, "out")
    stamp_file = os.path.join(cache, "stamp")
    stamp = stamp_of(sources)
    try:
        with open(stamp_file) as f:
            fresh = f.read().strip() == stamp
    except OSError:
        fresh = False
    if not fresh:
        os.makedirs(cache, exist_ok=True)
        logfile = os.path.join(cache, "build.log")
        log(f"building RTNeural's benchmark (RTNeural {RTN_COMMIT[:12]}, xsimd {xsimd[:12]}, "
            f"{compiler_version(cxx)}; nine builds, a few minutes) into "
            f"{os.path.relpath(cache, REPO)}   (output: {os.path.relpath(logfile, REPO)})")
        env = dict(os.environ, RTN_GIT=rtn_git, XSIMD_GIT=xsimd_git, RTN_COMMIT=RTN_COMMIT,
                   SRC_DIR=os.path.join(cache, "src"), OUT_DIR=out, CXX=cxx)
        with open(logfile, "w") as f:
            r = subprocess.run(["bash", os.path.join(bench_dir, "build.sh")], env=env,
                               stdout=f, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            return {}, [f"RTNeural skipped: build.sh failed (exit {r.returncode}; see {logfile})"]
        with open(stamp_file, "w") as f:
            f.write(stamp + "\n")
    binaries, notes = {}, []
    for name, stem in BUILDS.items():
        path = os.path.join(out, stem)
        if os.access(path, os.X_OK):
            binaries[name] = path
        else:
            notes.append(f"rtneural-{name}: did not build (see {path}.build.log)")
    return binaries, notes


def parse(stdout):
    """{W6 workload: seconds a sample} from one run's table (its medians, in ns)."""
    got = {}
    for line in stdout.splitlines():
        m = ROW.match(line.strip())
        if m and m.group(1) in MODELS:
            got[MODELS[m.group(1)]] = float(m.group(3)) * 1e-9
    return got


def header(stdout):
    """The binary's first comment line (backend, flags, SIMD), without the `# `."""
    for line in stdout.splitlines():
        if line.startswith("# backend="):
            return line[2:]
    return None


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=2_000_000,
                    help="samples in each timed run of each model (default 2,000,000)")
    ap.add_argument("--builds", default=",".join(BUILDS), help="which builds (default all nine)")
    ap.add_argument("--cache", default=CACHE, help="where the binaries are built")
    args = ap.parse_args(argv)
    binaries, notes = ensure_built(args.cache)
    for n in notes:
        print(n, file=sys.stderr)
    if not binaries:
        return 1
    for name in args.builds.split(","):
        if name not in binaries:
            continue
        r = subprocess.run([binaries[name], str(args.samples)], capture_output=True, text=True)
        print(f"# {name}: {header(r.stdout)}")
        for w, s in parse(r.stdout).items():
            print(f"{name} {w} {s * 1e9:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
