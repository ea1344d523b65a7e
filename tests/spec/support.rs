//! Helpers shared by the behaviour tests.

#![allow(dead_code)]

/// Why `actual` is not within `tol` of `expected` (absolutely, or relatively to `expected`,
/// whichever is larger), or `None` if it is. Written so that a NaN or an infinity on either
/// side is never close: the comparison is `diff <= bound`, which is false for NaN.
fn not_close(actual: f64, expected: f64, tol: f64) -> Option<String> {
    let diff = (actual - expected).abs();
    let bound = tol * expected.abs().max(1.0);
    let close = actual.is_finite() && expected.is_finite() && diff <= bound;
    (!close).then(|| {
        format!("expected {expected}, got {actual} (difference {diff:e}, tolerance {bound:e})")
    })
}

/// Asserts that `actual` is within `tol` of `expected`; NaN and infinities always fail.
#[track_caller]
pub fn assert_close(actual: f64, expected: f64, tol: f64) {
    if let Some(why) = not_close(actual, expected, tol) {
        panic!("{why}");
    }
}

/// [`assert_close`] element by element over two slices of equal length.
#[track_caller]
pub fn assert_all_close(actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len(), "lengths differ");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        if let Some(why) = not_close(a, e, tol) {
            panic!("element {i}: {why}");
        }
    }
}

#[test]
fn assert_close_rejects_nan_and_infinity() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(std::panic::catch_unwind(|| assert_close(bad, 1.0, 1e-3)).is_err());
        assert!(std::panic::catch_unwind(|| assert_close(1.0, bad, 1e-3)).is_err());
        assert!(std::panic::catch_unwind(|| assert_all_close(&[bad], &[1.0], 1e-3)).is_err());
    }
    assert_close(1.0 + 1e-9, 1.0, 1e-6);
    assert!(std::panic::catch_unwind(|| assert_close(1.1, 1.0, 1e-6)).is_err());
}

/// A fresh directory under the system's temporary directory, named for the test and the
/// process, removed with everything in it when dropped (so test runs leave nothing behind).
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("typenet-spec-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn join(&self, file: &str) -> std::path::PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
