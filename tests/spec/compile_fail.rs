//! Shape mismatches are compile errors that say `shape mismatch` and name the layer or loss.
//! The programs are in `tests/ui/`, with the compiler's output committed beside each one
//! (`.stderr`); `tests/ui/pass/` holds programs that must compile. The toolchain is pinned in
//! `rust-toolchain.toml` because compiler upgrades change the text; after one, regenerate with
//! `TRYBUILD=overwrite cargo test --test spec compile_fail` and read the diff.

#[test]
fn shape_mismatches_fail_to_compile_with_a_readable_first_error() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
