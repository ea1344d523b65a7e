//! Deliberately wrong recurrent layers, which the checker through time must reject: a GRU whose
//! backward pass forgets the update gate's derivative, one that differentiates the reset gate
//! as if it were applied after the product only (leaving `b_hn` outside it), and an LSTM that
//! drops the forget gate's gradient. Each is written plainly (one stream, every sum spelled
//! out), and its correct twin passes the checker and computes what typenet's layer computes.

use core::fmt;

use rand::{RngExt, SeedableRng, rngs::StdRng};
use typenet::prelude::*;
use typenet::{FirstLayer, Role, Tensor, TensorInfo, TensorMut};

const H: usize = 3;
/// Per gate: input weights (H), recurrent weights (H·H, row k then column j), two biases (2H).
const GATE: usize = H + H * H + 2 * H;

type X = SVector<f64, 1>;
type S = SVector<f64, H>;

fn sigma(a: f64) -> f64 {
    1.0 / (1.0 + (-a).exp())
}

/// The bugs a plain cell can be written with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bug {
    None,
    /// The GRU's backward pass leaves out dL/dz.
    MissingZDerivative,
    /// The GRU's backward pass treats `b_hn` as outside the reset gate: `r ⊙ (W_hn h) + b_hn`.
    ResetAfterProductOnly,
    /// The LSTM's backward pass drops the forget gate's gradient.
    ForgetGradientDropped,
}

/// A recurrent cell of `G` gates over one input and `H` units, its parameters in one flat
/// vector, gate by gate.
#[derive(Clone, PartialEq)]
struct Plain<const G: usize, const BUG: u8> {
    p: [f64; 4 * GATE],
}

impl<const G: usize, const BUG: u8> Plain<G, BUG> {
    const BUG: Bug = match BUG {
        0 => Bug::None,
        1 => Bug::MissingZDerivative,
        2 => Bug::ResetAfterProductOnly,
        _ => Bug::ForgetGradientDropped,
    };
    fn wi(&self, g: usize, k: usize) -> f64 {
        self.p[g * GATE + k]
    }
    fn u(&self, g: usize, k: usize, j: usize) -> f64 {
        self.p[g * GATE + H + k * H + j]
    }
    fn bi(&self, g: usize, k: usize) -> f64 {
        self.p[g * GATE + H + H * H + k]
    }
    fn bh(&self, g: usize, k: usize) -> f64 {
        self.p[g * GATE + 2 * H + H * H + k]
    }
    /// `W_g x + b_ig` and `U_g h + b_hg` for unit `k`.
    fn parts(&self, g: usize, k: usize, x: f64, h: &S) -> (f64, f64) {
        let uh: f64 = (0..H).map(|j| self.u(g, k, j) * h[j]).sum();
        (self.wi(g, k) * x + self.bi(g, k), uh + self.bh(g, k))
    }
    /// Adds `da_k` (the pre-activation's gradient of gate `g`) into the gradient, and its
    /// share into dL/dx and dL/dh; `to_bh` is what goes to the recurrent bias and weights.
    #[allow(clippy::too_many_arguments)] // a gate's whole backward share, spelled out
    fn add(
        &self,
        grad: &mut Self,
        g: usize,
        da: &S,
        to_hh: &S,
        to_bh: &S,
        x: f64,
        h: &S,
        dx: &mut f64,
        dh: &mut S,
    ) {
        for k in 0..H {
            grad.p[g * GATE + k] += da[k] * x;
            grad.p[g * GATE + H + H * H + k] += da[k];
            grad.p[g * GATE + 2 * H + H * H + k] += to_bh[k];
            *dx += self.wi(g, k) * da[k];
            for j in 0..H {
                grad.p[g * GATE + H + k * H + j] += to_hh[k] * h[j];
                dh[j] += self.u(g, k, j) * to_hh[k];
            }
        }
    }
}

impl<const G: usize, const BUG: u8> Default for Plain<G, BUG> {
    fn default() -> Self {
        Plain { p: [0.0; 4 * GATE] }
    }
}

impl<const G: usize, const BUG: u8> fmt::Debug for Plain<G, BUG> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plain<{G}, {BUG}>")
    }
}

impl<const G: usize, const BUG: u8> Params<f64> for Plain<G, BUG> {
    const LAYERS: usize = 1;
    fn tensors(&self) -> impl Iterator<Item = Tensor<'_, f64>> {
        core::iter::once(Tensor {
            info: info(G),
            data: &self.p[..G * GATE],
        })
    }
    fn tensors_mut(&mut self) -> impl Iterator<Item = TensorMut<'_, f64>> {
        core::iter::once(TensorMut {
            info: info(G),
            data: &mut self.p[..G * GATE],
        })
    }
}

fn info(gates: usize) -> TensorInfo {
    TensorInfo {
        layer: 0,
        layer_kind: "Plain",
        role: Role::Weight,
        rows: gates * GATE,
        cols: 1,
    }
}

impl<const G: usize, const BUG: u8, Rest> FirstLayer<Rest> for Plain<G, BUG> {
    type Scalar = f64;
    type InputDim = Const<1>;
    type Input = X;
}

/// The plain GRU (PyTorch's equations; gates r, z, n).
type PlainGru<const BUG: u8> = Plain<3, BUG>;
/// The plain LSTM (gates i, f, g, o).
type PlainLstm<const BUG: u8> = Plain<4, BUG>;

/// What the GRU keeps of a step.
struct GruStep {
    x: f64,
    h: S,
    r: S,
    z: S,
    n: S,
    hn: S,
}

impl<const BUG: u8> SequenceLayer<X> for PlainGru<BUG> {
    type Out = S;
    type State = S;
    type StepCache = GruStep;

    fn zero_state(_: usize) -> S {
        S::zeros()
    }

    fn step(&self, h: &mut S, x: &X) -> S {
        self.step_train(h, *x, &mut TrainContext::seeded(0)).0
    }

    fn step_train(&self, h: &mut S, x: X, _: &mut TrainContext) -> (S, GruStep) {
        let x = x[0];
        let (mut r, mut z, mut n, mut hn) = (S::zeros(), S::zeros(), S::zeros(), S::zeros());
        for k in 0..H {
            let (ir, hr) = self.parts(0, k, x, h);
            let (iz, hz) = self.parts(1, k, x, h);
            let (inn, hnn) = self.parts(2, k, x, h);
            r[k] = sigma(ir + hr);
            z[k] = sigma(iz + hz);
            hn[k] = hnn;
            n[k] = (inn + r[k] * hnn).tanh();
        }
        let before = *h;
        *h = S::from_fn(|k, _| (1.0 - z[k]) * n[k] + z[k] * before[k]);
        (
            *h,
            GruStep {
                x,
                h: before,
                r,
                z,
                n,
                hn,
            },
        )
    }

    fn step_backward(&self, c: GruStep, d_out: S, d_state: &mut S, grad: &mut Self) -> X {
        let dh_new = d_out + *d_state;
        let (mut da_r, mut da_z, mut da_n, mut to_hn) =
            (S::zeros(), S::zeros(), S::zeros(), S::zeros());
        let mut dh = S::zeros();
        for k in 0..H {
            let d = dh_new[k];
            let dn = d * (1.0 - c.z[k]);
            let dz = d * (c.h[k] - c.n[k]);
            dh[k] = d * c.z[k];
            da_n[k] = dn * (1.0 - c.n[k] * c.n[k]);
            da_r[k] = da_n[k] * c.hn[k] * c.r[k] * (1.0 - c.r[k]);
            da_z[k] = if Self::BUG == Bug::MissingZDerivative {
                0.0
            } else {
                dz * c.z[k] * (1.0 - c.z[k])
            };
            to_hn[k] = da_n[k] * c.r[k];
        }
        let mut dx = 0.0;
        self.add(grad, 0, &da_r, &da_r, &da_r, c.x, &c.h, &mut dx, &mut dh);
        self.add(grad, 1, &da_z, &da_z, &da_z, c.x, &c.h, &mut dx, &mut dh);
        let to_bhn = if Self::BUG == Bug::ResetAfterProductOnly {
            da_n
        } else {
            to_hn
        };
        self.add(grad, 2, &da_n, &to_hn, &to_bhn, c.x, &c.h, &mut dx, &mut dh);
        *d_state = dh;
        X::new(dx)
    }
}

/// What the LSTM keeps of a step.
struct LstmStep {
    x: f64,
    h: S,
    c: S,
    gates: [S; 4],
    c_new: S,
}

impl<const BUG: u8> SequenceLayer<X> for PlainLstm<BUG> {
    type Out = S;
    type State = (S, S);
    type StepCache = LstmStep;

    fn zero_state(_: usize) -> (S, S) {
        (S::zeros(), S::zeros())
    }

    fn step(&self, state: &mut (S, S), x: &X) -> S {
        self.step_train(state, *x, &mut TrainContext::seeded(0)).0
    }

    fn step_train(&self, state: &mut (S, S), x: X, _: &mut TrainContext) -> (S, LstmStep) {
        let x = x[0];
        let (h, c) = *state;
        let gates: [S; 4] = core::array::from_fn(|g| {
            S::from_fn(|k, _| {
                let (i, r) = self.parts(g, k, x, &h);
                if g == 2 { (i + r).tanh() } else { sigma(i + r) }
            })
        });
        let [i, f, g, o] = gates;
        let c_new = S::from_fn(|k, _| f[k] * c[k] + i[k] * g[k]);
        let h_new = S::from_fn(|k, _| o[k] * c_new[k].tanh());
        *state = (h_new, c_new);
        (
            h_new,
            LstmStep {
                x,
                h,
                c,
                gates,
                c_new,
            },
        )
    }

    fn step_backward(&self, s: LstmStep, d_out: S, d_state: &mut (S, S), grad: &mut Self) -> X {
        let [i, f, g, o] = s.gates;
        let dh_new = d_out + d_state.0;
        let mut da = [S::zeros(); 4];
        let mut dc = S::zeros();
        for k in 0..H {
            let tc = s.c_new[k].tanh();
            let dc_new = d_state.1[k] + dh_new[k] * o[k] * (1.0 - tc * tc);
            da[0][k] = dc_new * g[k] * i[k] * (1.0 - i[k]);
            da[1][k] = if Self::BUG == Bug::ForgetGradientDropped {
                0.0
            } else {
                dc_new * s.c[k] * f[k] * (1.0 - f[k])
            };
            da[2][k] = dc_new * i[k] * (1.0 - g[k] * g[k]);
            da[3][k] = dh_new[k] * tc * o[k] * (1.0 - o[k]);
            dc[k] = dc_new * f[k];
        }
        let (mut dx, mut dh) = (0.0, S::zeros());
        for (gate, da) in da.iter().enumerate() {
            self.add(grad, gate, da, da, da, s.x, &s.h, &mut dx, &mut dh);
        }
        *d_state = (dh, dc);
        X::new(dx)
    }
}

type Check<L> = net![L, Dense<H, 1, f64>];

fn random<const G: usize, const BUG: u8>(seed: u64) -> Check<Plain<G, BUG>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut net = Check::<Plain<G, BUG>>::default();
    net.head
        .p
        .iter_mut()
        .for_each(|p| *p = rng.random_range(-0.8..0.8));
    net.tail = Dense::random(&mut rng);
    net
}

fn sequence() -> (OMatrix<f64, Const<1>, Dyn>, OMatrix<f64, Const<1>, Dyn>) {
    let xs = OMatrix::<f64, Const<1>, Dyn>::from_fn(20, |_, t| (t as f64 * 0.7).sin());
    let ys = OMatrix::<f64, Const<1>, Dyn>::from_fn(20, |_, t| (t as f64 * 0.3).cos() * 0.5);
    (xs, ys)
}

/// A state that is not zero, so every recurrent path matters from the first step.
fn gru_state() -> (S, ()) {
    (S::new(0.3, -0.5, 0.2), ())
}

#[test]
fn the_plain_gru_passes_and_computes_what_typenets_gru_computes() {
    let net = random::<3, 0>(1);
    let (xs, ys) = sequence();
    let report = GradCheck::default().run_sequence(&net, &Mse, &gru_state(), &xs, &ys);
    assert!(report.passes(1e-6), "{report}");
    // the same weights in typenet's layout: column-major [W_r; W_z; W_n]
    let mut gru = Gru::<1, H, f64>::zeros();
    for g in 0..3 {
        for k in 0..H {
            gru.w_ih[0][g][k] = net.head.wi(g, k);
            gru.b_ih[g][k] = net.head.bi(g, k);
            gru.b_hh[g][k] = net.head.bh(g, k);
            for j in 0..H {
                gru.w_hh[j][g][k] = net.head.u(g, k, j);
            }
        }
    }
    let plain_out = SequenceLayer::<X>::step(&net.head, &mut S::zeros(), &X::new(0.9));
    let (mut s1, mut s2) = (S::zeros(), gru.initial_state());
    for t in 0..20 {
        let x = X::new(xs[t]);
        let a = SequenceLayer::<X>::step(&net.head, &mut s1, &x);
        let b = gru.step(&mut s2, &x);
        assert!((a - b).amax() < 1e-14, "step {t}");
    }
    assert!(plain_out.iter().all(|v| v.is_finite()));
}

#[test]
fn a_gru_without_the_update_gates_derivative_is_rejected() {
    let net = random::<3, 1>(1);
    let (xs, ys) = sequence();
    let report = GradCheck::default().run_sequence(&net, &Mse, &gru_state(), &xs, &ys);
    assert!(!report.passes(1e-3), "{report}");
}

#[test]
fn a_gru_with_b_hn_outside_the_reset_gate_in_backward_is_rejected() {
    let net = random::<3, 2>(1);
    let (xs, ys) = sequence();
    let report = GradCheck::default().run_sequence(&net, &Mse, &gru_state(), &xs, &ys);
    assert!(!report.passes(1e-3), "{report}");
}

#[test]
fn the_plain_lstm_passes_and_computes_what_typenets_lstm_computes() {
    let net = random::<4, 0>(2);
    let (xs, ys) = sequence();
    let state = ((S::new(0.3, -0.5, 0.2), S::new(-0.4, 0.1, 0.6)), ());
    let report = GradCheck::default().run_sequence(&net, &Mse, &state, &xs, &ys);
    assert!(report.passes(1e-6), "{report}");
    let mut lstm = Lstm::<1, H, f64>::zeros();
    for g in 0..4 {
        for k in 0..H {
            lstm.w_ih[0][g][k] = net.head.wi(g, k);
            lstm.b_ih[g][k] = net.head.bi(g, k);
            lstm.b_hh[g][k] = net.head.bh(g, k);
            for j in 0..H {
                lstm.w_hh[j][g][k] = net.head.u(g, k, j);
            }
        }
    }
    let (mut s1, mut s2) = ((S::zeros(), S::zeros()), lstm.initial_state());
    for t in 0..20 {
        let x = X::new(xs[t]);
        let a = SequenceLayer::<X>::step(&net.head, &mut s1, &x);
        let b = lstm.step(&mut s2, &x);
        assert!((a - b).amax() < 1e-14, "step {t}");
    }
}

#[test]
fn an_lstm_that_drops_the_forget_gates_gradient_is_rejected() {
    let net = random::<4, 3>(2);
    let (xs, ys) = sequence();
    let state = ((S::new(0.3, -0.5, 0.2), S::new(-0.4, 0.1, 0.6)), ());
    let report = GradCheck::default().run_sequence(&net, &Mse, &state, &xs, &ys);
    assert!(!report.passes(1e-3), "{report}");
}
