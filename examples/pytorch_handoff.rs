//! Networks handed between PyTorch and typenet, both ways, through safetensors files: the
//! Rust half of `tools/pytorch_handoff.py`, which runs PyTorch's half around it.
//!
//! ```sh
//! cargo run --release --features pytorch --example pytorch_handoff -- [--dir DIR] [--steps N]
//! ```
//!
//! The network is the issue's LeNet with a batch norm after each convolution (so its running
//! statistics, PyTorch's buffers, travel too):
//!
//! 1. **PyTorch → typenet.** If `DIR/torch_lenet.safetensors` is there (the `state_dict` of
//!    the same network trained in PyTorch; the script writes it, with `DIR/torch_io.safetensors`:
//!    `"images"` `[16, 1, 28, 28]` and PyTorch's `"logits"` `[16, 10]` on them, in inference
//!    mode), it is imported with `typenet::pytorch::load_safetensors` and its logits on the same
//!    images are compared with PyTorch's.
//! 2. **typenet → PyTorch.** A LeNet trained here for `--steps` SGD steps (batches of 32 of the
//!    8,000 training digits shipped in `data/`) is exported with
//!    `typenet::pytorch::save_safetensors_file` to `DIR/typenet_lenet.safetensors`, under the
//!    names `nn.Sequential` gives, and its logits on the images to
//!    `DIR/typenet_logits.safetensors` (`"logits"` `[16, 10]`), for PyTorch to load with
//!    `load_state_dict(strict=True)` and compare. The export is read back here too: the same
//!    network, to the bit.
//!
//! Without the script (no PyTorch files in `DIR`, by default a new temporary directory), the
//! images are the first 16 of the 2,000 held-out digits, and step 1 is skipped.

use std::error::Error;
use std::path::PathBuf;

use rand::{SeedableRng, rngs::StdRng};
use typenet::data::{Dataset, OneHot, evaluate_as};
use typenet::prelude::*;
use typenet::pytorch::safetensors::{self, Dtype, SafeTensors, tensor::TensorView};
use typenet::pytorch::{load_safetensors, save_safetensors, save_safetensors_file};

/// PyTorch:
/// `nn.Sequential(nn.Conv2d(1, 6, 5), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
/// nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
/// nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))`.
type LeNet = net![
    Conv2d<1, 6, 5>, BatchNorm2d<6>, Relu, MaxPool2d<2>,
    Conv2d<6, 16, 5>, BatchNorm2d<16>, Relu, MaxPool2d<2>,
    Flatten, Dense<256, 120>, Relu, Dense<120, 84>, Relu, Dense<84, 10>,
];

type Images = Image<f32, 1, 28, 28, Dyn>;

const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist-10k");
const TRAIN: usize = 8_000;
const SHOWN: usize = 16;

fn main() -> Result<(), Box<dyn Error>> {
    let (mut dir, mut steps) = (None, 300usize);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dir" => dir = Some(PathBuf::from(args.next().ok_or("--dir needs a directory")?)),
            "--steps" => steps = args.next().ok_or("--steps needs a number")?.parse()?,
            other => return Err(format!("unknown argument {other}; see the file's doc").into()),
        }
    }
    let dir = match dir {
        Some(dir) => dir,
        None => {
            let dir = std::env::temp_dir().join(format!("typenet-handoff-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            dir
        }
    };
    let data = Dataset::load(
        format!("{SHIPPED}/images-idx3-ubyte.gz"),
        format!("{SHIPPED}/labels-idx1-ubyte.gz"),
    )?;
    let (train, test) = data.split_at(TRAIN)?;

    // the images both sides are compared on: PyTorch's, if it wrote them
    let torch_io = std::fs::read(dir.join("torch_io.safetensors")).ok();
    let images: Images = match &torch_io {
        Some(bytes) => Image::from_slice_batch(Dyn(SHOWN), &floats(bytes, "images")?),
        None => test.images::<f32, 1, 28, 28>(&(0..SHOWN).collect::<Vec<_>>())?,
    };

    // 1. PyTorch → typenet
    match (
        std::fs::read(dir.join("torch_lenet.safetensors")),
        &torch_io,
    ) {
        (Ok(state), Some(io)) => {
            let mut net = LeNet::zeros();
            load_safetensors(&mut net, &state, "")?;
            let ours = net.forward(&images);
            let theirs = floats(io, "logits")?; // [16, 10] row-major: one column per image here
            let worst = ours
                .iter()
                .zip(&theirs)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            let largest = theirs.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let same = argmax(ours.as_slice()) == argmax(&theirs);
            println!(
                "PyTorch -> typenet: {} tensors imported; logits of {SHOWN} digits differ by at most \
                 {worst:.2e} (largest logit {largest:.2}); same predicted digits: {same}",
                state_len(&state)?,
            );
            if !same || worst > 1e-4 * largest.max(1.0) {
                return Err("PyTorch's network computes something else in typenet".into());
            }
            let accuracy = evaluate_as::<Images, _, _, 10>(&net, &test, 500)?.accuracy();
            println!("PyTorch's LeNet in typenet: test accuracy {accuracy:.4}");
        }
        _ => println!(
            "PyTorch -> typenet: skipped (no torch_lenet.safetensors and torch_io.safetensors in \
             {}; tools/pytorch_handoff.py writes them)",
            dir.display()
        ),
    }

    // 2. typenet → PyTorch
    let mut rng = StdRng::seed_from_u64(1);
    let mut net = LeNet::random(&mut rng);
    let mut opt = Sgd::new(0.05);
    for step in 0..steps {
        let batch: Vec<usize> = (0..32).map(|i| (step * 32 + i) % train.len()).collect();
        let x = train.images::<f32, 1, 28, 28>(&batch)?;
        let y = train.targets::<f32, 10>(&batch, OneHot::PLAIN)?;
        net.train_step(&mut opt, &SoftmaxCrossEntropy, &x, &y);
    }
    let accuracy = evaluate_as::<Images, _, _, 10>(&net, &test, 500)?.accuracy();
    println!("typenet's LeNet after {steps} steps: test accuracy {accuracy:.4}");
    let path = dir.join("typenet_lenet.safetensors");
    save_safetensors_file(&net, "", &path)?;
    let logits = net.forward(&images);
    let bytes: Vec<u8> = logits.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = TensorView::new(Dtype::F32, vec![SHOWN, 10], &bytes)?;
    std::fs::write(
        dir.join("typenet_logits.safetensors"),
        safetensors::serialize([("logits", view)], None)?,
    )?;
    // read back: the same network, to the bit
    let mut copy = LeNet::zeros();
    load_safetensors(&mut copy, &std::fs::read(&path)?, "")?;
    assert!(copy == net, "the export reads back as another network");
    assert_eq!(save_safetensors(&copy, "")?, std::fs::read(&path)?);
    println!(
        "typenet -> PyTorch: wrote {} ({} tensors) and typenet_logits.safetensors in {}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("?"),
        state_len(&std::fs::read(&path)?)?,
        dir.display()
    );
    Ok(())
}

/// The f32 values of tensor `name` of a safetensors file.
fn floats(bytes: &[u8], name: &str) -> Result<Vec<f32>, Box<dyn Error>> {
    let file = SafeTensors::deserialize(bytes)?;
    let view = file.tensor(name)?;
    if view.dtype() != Dtype::F32 {
        return Err(format!("{name} is {:?}, not F32", view.dtype()).into());
    }
    Ok(view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// How many tensors a safetensors file holds.
fn state_len(bytes: &[u8]) -> Result<usize, Box<dyn Error>> {
    Ok(SafeTensors::deserialize(bytes)?.len())
}

/// The index of the largest of each run of 10 values.
fn argmax(values: &[f32]) -> Vec<usize> {
    values
        .chunks_exact(10)
        .map(|row| {
            (0..10)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap_or(0)
        })
        .collect()
}
