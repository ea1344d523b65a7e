#!/usr/bin/env bash
# Measures the no_std program's footprint on the host, as docs/embedded.md reports it:
# flash and RAM with `size`, the stack each operation needs by painting, and the time of a
# GRU's streamed sample (`--features gru-timing`: time-stamp counter ticks, x86-64 only).
#
# Stack painting: gdb stops the program at `main`, fills the 1 MiB below the stack pointer
# with 0xA5 (memset, run in the program, so the stack grows as it would), lets it run to
# `exit`, and finds the deepest byte that changed. What is reported is the stack used below
# main's entry: main's own frame and everything it calls. The top 160 bytes are left
# unpainted (gdb's call frame for memset), so a figure of 160 means "160 or less". The
# complete program's main has every check inlined into it and a frame of its own of 6.9 KB
# (its prologue), counted in each of its figures.
# Needs gdb and python3. Usage: embedded/measure.sh (from anywhere).
set -euo pipefail
cd "$(dirname "$0")"
target=${CARGO_TARGET_DIR:-target}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

paint() { # paint BINARY ARGS...: bytes of stack used below main's entry
    local bin=$1
    shift
    cat >"$out/paint.gdb" <<GDB
set pagination off
set confirm off
set environment LD_BIND_NOW 1
break main
run $*
set \$top = \$rsp
set \$low = \$rsp - 1048576
call (void*)memset(\$low, 0xA5, 1048576 - 160)
tbreak exit
continue
dump binary memory $out/stack.bin \$low \$top
GDB
    gdb -batch -x "$out/paint.gdb" "$bin" >"$out/gdb.log" 2>&1
    python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
used = next((i for i, b in enumerate(d[:-160]) if b != 0xA5), len(d) - 160)
print(len(d) - used)' "$out/stack.bin"
}

for features in "" inference-only lenet-only gru-only gru-timing; do
    cargo build --release --quiet ${features:+--features $features}
    cp "$target/release/typenet-embedded" "$out/${features:-everything}"
done
size "$out/inference-only" "$out/lenet-only" "$out/gru-only" "$out/everything"
echo "stack below main's entry (bytes):"
echo "  inference-only (XOR forward, 4 cases):   $(paint "$out/inference-only")"
echo "  lenet-only (LeNet forward, 4 digits):     $(paint "$out/lenet-only")"
echo "  gru-only (GRU streams 4,096 samples):     $(paint "$out/gru-only")"
echo "  everything, one XOR forward:              $(paint "$out/everything" a)"
echo "  everything, one XOR training step:        $(paint "$out/everything" a b)"
echo "  everything, one LeNet forward:            $(paint "$out/everything" a b c d)"
echo "  everything, the GRU's 4,096 samples:      $(paint "$out/everything" a b c d e)"
echo "  everything, every check:                  $(paint "$out/everything")"
tsc=$( (dmesg 2>/dev/null || true) | grep -m1 -o 'tsc: Detected [0-9.]* MHz' || echo 'tsc: unknown frequency')
echo "a GRU's streamed sample, fastest of 2,000 rounds of 1,024 ($tsc):"
"$out/gru-timing" | sed 's/^/  /'
