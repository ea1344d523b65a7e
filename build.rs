//! Generates the table that turns a typenum number into nalgebra's `Const<N>`, for the widths
//! of flattened images (`src/core/shape.rs`, `FlatWidth`). Stable Rust computes sizes with
//! typenum types; a `Dense<I, O>` takes `Const<I>`; nalgebra's own bridge stops at 127.

use std::fmt::Write as _;
use std::{env, fs, path::Path};

/// The widest flattened image the table covers (documented on `Flatten` and in
/// `docs/design.md`).
const MAX_FLAT_WIDTH: usize = 8192;

fn main() {
    let mut out = String::with_capacity(MAX_FLAT_WIDTH * 160);
    for n in 1..=MAX_FLAT_WIDTH {
        let mut ty = String::from("UTerm");
        for bit in (0..usize::BITS - n.leading_zeros()).rev() {
            let b = if n >> bit & 1 == 1 { "B1" } else { "B0" };
            ty = format!("UInt<{ty}, {b}>");
        }
        writeln!(
            out,
            "impl FlatWidth for {ty} {{ type Const = Const<{n}>; }}"
        )
        .unwrap();
    }
    let path =
        Path::new(&env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("flat_widths.rs");
    fs::write(path, out).expect("OUT_DIR is writable");
    println!("cargo::rerun-if-changed=build.rs");
}
