//! Shape mismatches are compile errors that say `shape mismatch` and name the layer or loss.
//! The programs are in `tests/ui/`, with the compiler's output committed beside each one
//! (`.stderr`); the programs that must compile are tests in `composition.rs`, so that these
//! need only `cargo check` (no code generation for the dependencies). The toolchain is pinned in
//! `rust-toolchain.toml` because compiler upgrades change the text; after one, regenerate with
//! `TRYBUILD=overwrite cargo test --test spec compile_fail` and read the diff.

#[test]
fn shape_mismatches_fail_to_compile_with_a_readable_first_error() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
