//! The arithmetic of recurrent cells: products with gate-stacked weights, and the gates'
//! nonlinearities in a form the compiler vectorises.
//!
//! A recurrent layer keeps the weights of its `G` gates stacked as PyTorch does (`[W_r; W_z;
//! W_n]`, `G·H` rows), column-major: column `c` is `[[T; H]; G]`, the `c`-th column of every
//! gate's matrix one after the other. A product with a column of inputs is then one pass over
//! contiguous memory for all gates at once.
//!
//! These are `#[inline(always)]` so that a cell's whole step compiles inside one dispatched
//! target-feature wrapper ([`dispatch!`](super::dispatch::dispatch)). No fused multiply-add:
//! every instruction set computes the same bits.

use crate::core::Float;

/// `acc ← acc + W x` for gate-stacked `W` (`w[c]` is column `c`, `x.len()` columns).
///
/// Partial sums over the columns, so a step does not wait on one chain of additions, but only
/// as many as fit in the vector registers beside the column being read: four for up to 24
/// rows, two up to 48, one above (`G·H` floats each; a partial sum that spills to the stack
/// costs a load and a store a column, more than the latency it hides). The count is a
/// function of the shape only, so every call of a layer adds in the same order.
#[inline(always)]
pub(crate) fn add_gate_product<T: Float, const G: usize, const H: usize>(
    acc: &mut [[T; H]; G],
    w: &[[[T; H]; G]],
    x: &[T],
) {
    if G * H > 48 {
        let acc = acc.as_flattened_mut();
        for (column, &xc) in w.iter().zip(x) {
            let column = column.as_flattened();
            for r in 0..G * H {
                acc[r] += column[r] * xc;
            }
        }
        return;
    }
    let zero = [[T::zero(); H]; G];
    let (mut s0, mut s1) = (zero, zero);
    let (f0, f1) = (s0.as_flattened_mut(), s1.as_flattened_mut());
    let mut c = 0;
    if G * H > 24 {
        while c + 2 <= x.len() {
            let (w0, w1) = (w[c].as_flattened(), w[c + 1].as_flattened());
            let (x0, x1) = (x[c], x[c + 1]);
            for r in 0..G * H {
                f0[r] += w0[r] * x0;
                f1[r] += w1[r] * x1;
            }
            c += 2;
        }
    } else {
        let (mut s2, mut s3) = (zero, zero);
        let (f2, f3) = (s2.as_flattened_mut(), s3.as_flattened_mut());
        while c + 4 <= x.len() {
            let (w0, w1, w2, w3) = (
                w[c].as_flattened(),
                w[c + 1].as_flattened(),
                w[c + 2].as_flattened(),
                w[c + 3].as_flattened(),
            );
            let (x0, x1, x2, x3) = (x[c], x[c + 1], x[c + 2], x[c + 3]);
            for r in 0..G * H {
                f0[r] += w0[r] * x0;
                f1[r] += w1[r] * x1;
                f2[r] += w2[r] * x2;
                f3[r] += w3[r] * x3;
            }
            c += 4;
        }
        for r in 0..G * H {
            f0[r] += f2[r];
            f1[r] += f3[r];
        }
    }
    while c < x.len() {
        let (wc, xc) = (w[c].as_flattened(), x[c]);
        for r in 0..G * H {
            f0[r] += wc[r] * xc;
        }
        c += 1;
    }
    let acc = acc.as_flattened_mut();
    for r in 0..G * H {
        acc[r] += f0[r] + f1[r];
    }
}

/// `gw ← gw + d xᵀ` for a gate-stacked gradient: column `c` gains `d · x[c]`.
#[inline(always)]
pub(crate) fn add_gate_outer<T: Float, const G: usize, const H: usize>(
    gw: &mut [[[T; H]; G]],
    d: &[[T; H]; G],
    x: &[T],
) {
    let d = d.as_flattened();
    for (column, &xc) in gw.iter_mut().zip(x) {
        for (g, &d) in column.as_flattened_mut().iter_mut().zip(d) {
            *g += d * xc;
        }
    }
}

/// `out ← out + Wᵀ d` for gate-stacked `W`: `out[c]` gains the dot product of column `c` with
/// `d`.
#[inline(always)]
pub(crate) fn add_gate_transposed<T: Float, const G: usize, const H: usize>(
    out: &mut [T],
    w: &[[[T; H]; G]],
    d: &[[T; H]; G],
) {
    let d = d.as_flattened();
    for (o, column) in out.iter_mut().zip(w) {
        // four partial sums: the products vectorise, the sum is a short tree
        let column = column.as_flattened();
        let mut s = [T::zero(); 4];
        let mut chunks = column.chunks_exact(4).zip(d.chunks_exact(4));
        for (w4, d4) in &mut chunks {
            for k in 0..4 {
                s[k] += w4[k] * d4[k];
            }
        }
        let tail = G * H / 4 * 4;
        for r in tail..G * H {
            s[0] += column[r] * d[r];
        }
        *o += (s[0] + s[1]) + (s[2] + s[3]);
    }
}

/// `σ(a) = 1 / (1 + e^-a)`, with the vectorisable exponential.
#[inline(always)]
pub(crate) fn sigmoid<T: Float>(a: T) -> T {
    T::one() / (T::one() + super::exp(-a))
}

/// `tanh(a) = 2 σ(2a) - 1`: vectorisable, exact at both ends (±1, never NaN), within a few
/// `f32` ulps of 1 in absolute error near zero.
#[inline(always)]
pub(crate) fn tanh<T: Float>(a: T) -> T {
    let two = T::one() + T::one();
    two / (T::one() + super::exp(-(a + a))) - T::one()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_products_agree_with_the_plain_sums() {
        // 2 gates of 3 rows, 5 columns
        let w: [[[f64; 3]; 2]; 5] = core::array::from_fn(|c| {
            core::array::from_fn(|g| {
                core::array::from_fn(|h| (c * 6 + g * 3 + h) as f64 * 0.1 - 1.0)
            })
        });
        let x = [0.5, -1.0, 2.0, 0.25, -0.75];
        let mut acc = [[1.0; 3]; 2];
        add_gate_product(&mut acc, &w, &x);
        for g in 0..2 {
            for h in 0..3 {
                let want = 1.0 + (0..5).map(|c| w[c][g][h] * x[c]).sum::<f64>();
                assert!((acc[g][h] - want).abs() < 1e-12);
            }
        }
        let d = [[0.3, -0.2, 0.1], [1.0, 0.5, -0.5]];
        let mut out = [0.0; 5];
        add_gate_transposed(&mut out, &w, &d);
        for c in 0..5 {
            let want: f64 = (0..2)
                .flat_map(|g| (0..3).map(move |h| (g, h)))
                .map(|(g, h)| w[c][g][h] * d[g][h])
                .sum();
            assert!((out[c] - want).abs() < 1e-12);
        }
        let mut gw = [[[0.0; 3]; 2]; 5];
        add_gate_outer(&mut gw, &d, &x);
        assert_eq!(gw[2][1][0], d[1][0] * x[2]);
    }

    #[test]
    fn the_nonlinearities_are_close_to_the_library_ones_and_saturate_cleanly() {
        for i in -400..=400 {
            let a = i as f32 * 0.05;
            assert!((tanh(a) - a.tanh()).abs() < 3e-7, "tanh({a})");
            assert!(
                (sigmoid(a) - 1.0 / (1.0 + (-a).exp())).abs() < 3e-7,
                "σ({a})"
            );
        }
        assert_eq!(tanh(1e6f32), 1.0);
        assert_eq!(tanh(-1e6f32), -1.0);
        assert_eq!(sigmoid(-1e6f32), 0.0);
        assert!(tanh(f32::NAN).is_nan());
    }
}
