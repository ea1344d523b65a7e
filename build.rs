//! Generates the table that turns a typenum number into nalgebra's `Const<N>`, for the widths
//! of flattened images (`src/core/shape.rs`, `FlatWidth`). Stable Rust computes sizes with
//! typenum types; a `Dense<I, O>` takes `Const<I>`; nalgebra's own bridge stops at 127.
//!
//! The table is split by the six lowest bits: one small trait per residue modulo 64 (`Low0` …
//! `Low63`, implemented for the numbers up to 128 that are the high bits), and 64 generic impls
//! of `FlatWidth` that peel the six low bits off and ask the residue's trait. 8,192 impls of one
//! trait, all for `UInt<…>`, made rustc compare every pair for overlap: 12 s of every build of
//! the crate; this way each trait has at most 129.

use std::fmt::Write as _;
use std::{env, fs, path::Path};

/// The widest flattened image the table covers (documented on `Flatten` and in
/// `docs/design.md`).
const MAX_FLAT_WIDTH: usize = 8192;

/// The typenum type of `n`, most significant bit innermost, around `inner` (`UTerm` for the
/// number itself).
fn typenum(n: usize, bits: u32, inner: &str) -> String {
    let mut ty = inner.to_string();
    for bit in (0..bits).rev() {
        let b = if n >> bit & 1 == 1 { "B1" } else { "B0" };
        ty = format!("UInt<{ty}, {b}>");
    }
    ty
}

/// Bits in `n`.
fn bits(n: usize) -> u32 {
    usize::BITS - n.leading_zeros()
}

fn main() {
    let mut out = String::new();
    // below 64: the number itself
    for n in 1..64 {
        writeln!(
            out,
            "impl FlatWidth for {} {{ type Const = Const<{n}>; }}",
            typenum(n, bits(n), "UTerm")
        )
        .unwrap();
    }
    for low in 0..64 {
        writeln!(
            out,
            "#[doc(hidden)] #[diagnostic::on_unimplemented(message = \"a flattened image of `{{Self}}` x 64 + {low} values is wider than typenet's table of widths (1 to {MAX_FLAT_WIDTH})\")] \
             pub trait Low{low} {{ type Const: DimName; }}"
        )
        .unwrap();
        for high in 1..=MAX_FLAT_WIDTH / 64 {
            let n = 64 * high + low;
            if n <= MAX_FLAT_WIDTH {
                writeln!(
                    out,
                    "impl Low{low} for {} {{ type Const = Const<{n}>; }}",
                    typenum(high, bits(high), "UTerm")
                )
                .unwrap();
            }
        }
        writeln!(
            out,
            "impl<High: Low{low}> FlatWidth for {} {{ type Const = <High as Low{low}>::Const; }}",
            typenum(low, 6, "High")
        )
        .unwrap();
    }
    let path =
        Path::new(&env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("flat_widths.rs");
    fs::write(path, out).expect("OUT_DIR is writable");
    println!("cargo::rerun-if-changed=build.rs");
}
