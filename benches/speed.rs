//! `cargo bench`: the seed tutorials' speed workloads (W1 to W4, issue 5), timed by the program
//! that `cargo run --release --example bench` runs (`examples/bench.rs`, which takes the same
//! flags after `cargo bench --`): each line is `<name> <median seconds>`. `bench/compare.py` times
//! the same program beside NumPy, PyTorch and dfdx, and beside an earlier revision of typenet;
//! `docs/performance.md` has the figures.
//!
//! (This was a criterion harness. A cold `cargo test` builds every dev-dependency, criterion's
//! twenty-odd crates included, and the comparisons use the bench program's medians anyway;
//! `docs/performance.md` has the build times.)

#[path = "../examples/bench.rs"]
mod bench;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // cargo hands `--bench` to a bench target without a harness
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    bench::run(&args)
}
