//! Networks too big for a thread's stack are built, trained, saved and loaded without ever
//! passing through it.

use rand::{SeedableRng, rngs::StdRng};
use typenet::model_file;
use typenet::prelude::*;

type Mlp = net![Dense<784, 256>, Relu, Dense<256, 128>, Relu, Dense<128, 10>];

#[test]
fn a_784_256_128_10_network_lives_its_whole_life_on_a_256_kib_stack() {
    // The network is 942 KB of f32: by value it could not even be built on this thread.
    assert!(std::mem::size_of::<Mlp>() > 900 * 1024);
    let path = std::env::temp_dir().join(format!("typenet-big-{}.typenet", std::process::id()));
    let thread_path = path.clone();
    let result = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let mut rng = StdRng::seed_from_u64(9);
            let mut net = Mlp::random_boxed(&mut rng);
            let mut grad = Mlp::zeros_boxed();
            let mut opt = Sgd::new(0.1);
            let x = OMatrix::<f32, Const<784>, Dyn>::from_fn(4, |r, c| ((r + c) % 7) as f32 / 7.0);
            let y = OMatrix::<f32, Const<10>, Dyn>::from_fn(4, |r, c| (r == c) as u8 as f32);
            let before = net.train_step_with(&mut grad, &mut opt, &SoftmaxCrossEntropy, &x, &y);
            let after = net.train_step_with(&mut grad, &mut opt, &SoftmaxCrossEntropy, &x, &y);
            model_file::save(&*net, &thread_path).unwrap();
            let mut loaded = Mlp::zeros_boxed();
            model_file::load(&mut *loaded, &thread_path).unwrap();
            let same = *loaded == *net;
            (before, after, same)
        })
        .unwrap()
        .join()
        .expect("the thread overflowed its stack or panicked");
    let (before, after, same) = result;
    assert!(before.is_finite() && after < before, "{before} -> {after}");
    assert!(same, "the loaded network differs from the saved one");
    let _ = std::fs::remove_file(path);
}
