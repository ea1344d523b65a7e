//! Learns an audio effect: a drive into a low-pass filter, modelled by a GRU of 16 units and a
//! dense layer (`net![Gru<1, 16>, Dense<16, 1>]`), trained through time on audio the example
//! synthesises, then run on held-out audio one sample at a time, as a plug-in would.
//!
//! ```sh
//! cargo run --release --example audio                       # writes target/audio/*.wav
//! cargo run --release --example audio -- --plot target/audio
//! ```
//!
//! The audio (48 kHz, mono) is a logarithmic sine sweep of varying amplitude, plucked strings
//! (Karplus–Strong) and bursts of noise; the held-out audio is another sweep, other notes and
//! other noise. The effect is `tanh` drive with a little asymmetry into a one-pole low-pass
//! (the filter is the memory the network must learn). The last line printed is
//! `error-to-signal ratio: <value>`, Σ(y − ŷ)² / Σy² over the held-out audio streamed from a
//! reset state.
//!
//! Flags: `--epochs N`, `--seed N` (the network's initialisation and the order of the
//! segments; the audio is always the same), `--lr X` (Adam's, decayed along a cosine),
//! `--batch N` (segments side by side), `--segment N` (samples a segment), `--window N`
//! (truncated BPTT), `--warmup N`, `--clip X` (gradient norm), `--out DIR` (where the WAV
//! files go, default `target/audio`), `--plot DIR` (write `audio.png` there: held-out
//! waveforms and the loss curve), `--quick` (a shorter run on less audio, for the tests),
//! `--quiet` (no line per epoch), `--help`.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng, rngs::StdRng};
use typenet::model_file;
use typenet::prelude::*;

// `cnn` and `mnist` include it too, and the tests include all three: one copy each
#[allow(dead_code, clippy::duplicate_mod)]
#[path = "support/plot.rs"]
pub mod plot;

/// The sample rate of every signal here.
pub const RATE: u32 = 48_000;

/// The amplifier model: one input sample to 16 hidden units, to one output sample.
pub type Amp = net![Gru<1, 16>, Dense<16, 1>];

/// A sequence of mono samples, one column a time step, as `train_sequences` takes it.
type Sequence = OMatrix<f32, Const<1>, Dyn>;

/// What a run was asked to do.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub epochs: usize,
    pub seed: u64,
    pub lr: f64,
    pub batch: usize,
    pub segment: usize,
    pub window: usize,
    pub warmup: usize,
    pub clip: f64,
    pub out: PathBuf,
    pub plot: Option<PathBuf>,
    /// Less audio to train on and to test with (see [`Options::quick`]).
    pub quick: bool,
    pub quiet: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            epochs: 30,
            seed: 1,
            lr: 0.01,
            batch: 16,
            segment: 2048,
            window: 256,
            warmup: 64,
            clip: 1.0,
            out: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/audio")),
            plot: None,
            quick: false,
            quiet: false,
        }
    }
}

impl Options {
    /// The options of `--quick`: 1.7 s of audio to train on (not 5 s), 1 s held out (not
    /// 2.2 s) and 10 epochs.
    pub fn quick() -> Self {
        Options {
            epochs: 10,
            quick: true,
            ..Options::default()
        }
    }

    /// Parses command-line flags (`--help` gives the usage as the error).
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let quick = args.iter().any(|a| a == "--quick");
        let mut o = if quick {
            Options::quick()
        } else {
            Options::default()
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            fn number<V: std::str::FromStr>(flag: &str, v: String) -> Result<V, String> {
                v.parse()
                    .map_err(|_| format!("{flag}: `{v}` is not a valid number"))
            }
            match flag.as_str() {
                "--epochs" => o.epochs = number(flag, value()?)?,
                "--seed" => o.seed = number(flag, value()?)?,
                "--lr" => o.lr = number(flag, value()?)?,
                "--batch" => o.batch = number(flag, value()?)?,
                "--segment" => o.segment = number(flag, value()?)?,
                "--window" => o.window = number(flag, value()?)?,
                "--warmup" => o.warmup = number(flag, value()?)?,
                "--clip" => o.clip = number(flag, value()?)?,
                "--out" => o.out = PathBuf::from(value()?),
                "--plot" => o.plot = Some(PathBuf::from(value()?)),
                "--quick" => {}
                "--quiet" => o.quiet = true,
                "--help" | "-h" => return Err(USAGE.to_string()),
                other => return Err(format!("unknown flag `{other}`\n{USAGE}")),
            }
        }
        if o.batch == 0 || o.window == 0 {
            return Err("--batch and --window must be at least 1".into());
        }
        if o.warmup >= o.segment {
            return Err(format!(
                "--warmup ({}) must be shorter than --segment ({})",
                o.warmup, o.segment
            ));
        }
        Ok(o)
    }
}

/// What `--help` prints.
pub const USAGE: &str = "usage: audio [--epochs N] [--seed N] [--lr X] [--batch N] \
[--segment N] [--window N] [--warmup N] [--clip X] [--out DIR] [--plot DIR] [--quick] [--quiet]";

/// What a run achieved.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Mean training loss (MSE) of each epoch.
    pub losses: Vec<f64>,
    /// The error-to-signal ratio on the whole held-out audio, streamed.
    pub esr: f64,
    /// The same on each part of it: `("sweep", …)`, `("plucks", …)`, `("noise", …)`.
    pub esr_parts: Vec<(&'static str, f64)>,
    /// Samples of held-out audio (each WAV file has as many).
    pub test_samples: usize,
    /// Samples of training audio.
    pub train_samples: usize,
    /// Seconds of training.
    pub train_seconds: f64,
    /// Audio seconds processed per second of the streaming pass (the fastest of three).
    pub realtime_factor: f64,
    /// Nanoseconds a sample of that pass.
    pub ns_per_sample: f64,
    /// The WAV files written: input, target, output.
    pub wavs: Vec<PathBuf>,
    /// The pictures written (with `--plot`), and their width and height in pixels.
    pub pictures: Vec<(PathBuf, (u32, u32))>,
    /// Seconds of the whole run.
    pub seconds: f64,
}

/// The signals the example makes, and the effect it learns. Everything is deterministic:
/// the same samples on every machine, for any `--seed`.
pub mod synth {
    use rand::{RngExt, SeedableRng, rngs::StdRng};

    use super::RATE;

    /// Gain into the `tanh`.
    pub const DRIVE: f32 = 6.0;
    /// Offset into the `tanh` (removed again at rest), which makes the clipping asymmetric.
    pub const BIAS: f32 = 0.05;
    /// The low-pass filter's cutoff in hertz.
    pub const CUTOFF: f32 = 1_200.0;
    /// The output level.
    pub const LEVEL: f32 = 0.7;

    /// The effect: `y ← y + a · (LEVEL · (tanh(DRIVE · (x + BIAS)) − tanh(DRIVE · BIAS)) − y)`,
    /// drive into a one-pole low-pass with `a = 1 − e^(−2π · CUTOFF / RATE)`, from rest.
    pub fn effect(x: &[f32]) -> Vec<f32> {
        let a = 1.0 - (-2.0 * std::f32::consts::PI * CUTOFF / RATE as f32).exp();
        let rest = (DRIVE * BIAS).tanh();
        let mut y = 0.0f32;
        x.iter()
            .map(|&x| {
                let driven = LEVEL * ((DRIVE * (x + BIAS)).tanh() - rest);
                y += a * (driven - y);
                y
            })
            .collect()
    }

    /// A logarithmic sine sweep from `f0` to `f1` hertz over `seconds`, its amplitude
    /// `amplitude(t)` with `t` from 0 to 1 over the sweep.
    pub fn sweep(f0: f64, f1: f64, seconds: f64, amplitude: impl Fn(f64) -> f64) -> Vec<f32> {
        let n = (seconds * f64::from(RATE)) as usize;
        let k = (f1 / f0).ln();
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(RATE);
                // the phase whose derivative is 2π f0 e^(k t / seconds)
                let phase =
                    2.0 * std::f64::consts::PI * f0 * seconds / k * ((k * t / seconds).exp() - 1.0);
                (amplitude(t / seconds) * phase.sin()) as f32
            })
            .collect()
    }

    /// A plucked string at `freq` hertz (Karplus–Strong: a delay line of one period filled
    /// with noise, averaged and damped on every pass), `velocity` its peak, `seconds` long.
    pub fn pluck(rng: &mut StdRng, freq: f64, velocity: f32, seconds: f64) -> Vec<f32> {
        let period = (f64::from(RATE) / freq).round() as usize;
        let mut line: Vec<f32> = (0..period)
            .map(|_| velocity * (2.0 * rng.random::<f32>() - 1.0))
            .collect();
        let n = (seconds * f64::from(RATE)) as usize;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let j = i % period;
            let next = line[(j + 1) % period];
            out.push(line[j]);
            line[j] = 0.996 * 0.5 * (line[j] + next);
        }
        out
    }

    /// A burst of noise, low-passed by `smooth` (0: white, towards 1: darker), its peak
    /// `level`, rising in 5 ms and falling over `seconds`.
    pub fn noise_burst(rng: &mut StdRng, level: f32, smooth: f32, seconds: f64) -> Vec<f32> {
        let n = (seconds * f64::from(RATE)) as usize;
        let attack = (0.005 * f64::from(RATE)) as usize;
        let mut lp = 0.0f32;
        (0..n)
            .map(|i| {
                lp = smooth * lp + (1.0 - smooth) * (2.0 * rng.random::<f32>() - 1.0);
                let envelope = if i < attack {
                    i as f32 / attack as f32
                } else {
                    (-3.0 * (i - attack) as f32 / n as f32).exp()
                };
                // darker noise is quieter: bring it back towards full scale
                level * envelope * lp * (1.0 + 2.0 * smooth)
            })
            .collect()
    }

    /// The pitch of MIDI note `note` in hertz (69 is A4 at 440 Hz).
    pub fn midi(note: u8) -> f64 {
        440.0 * 2f64.powf((f64::from(note) - 69.0) / 12.0)
    }

    /// Audio made of parts, each named, in order.
    pub struct Audio {
        /// The samples.
        pub samples: Vec<f32>,
        /// Each part's name and range of samples.
        pub parts: Vec<(&'static str, std::ops::Range<usize>)>,
    }

    impl Audio {
        fn new() -> Self {
            Audio {
                samples: Vec::new(),
                parts: Vec::new(),
            }
        }

        /// Appends `samples` to the part `name` (started if it is not the last one).
        fn push(&mut self, name: &'static str, samples: &[f32]) {
            let start = self.samples.len();
            self.samples.extend_from_slice(samples);
            let end = self.samples.len();
            match self.parts.last_mut() {
                Some((last, range)) if *last == name => range.end = end,
                _ => self.parts.push((name, start..end)),
            }
        }
    }

    /// The training audio: a rising sweep from 20 Hz to 10 kHz whose amplitude swells and
    /// fades between 0.05 and 0.95, plucked notes of a guitar's open strings at several
    /// velocities, and noise bursts. 5 s (1.7 s with `quick`).
    pub fn training(quick: bool) -> Audio {
        let mut rng = StdRng::seed_from_u64(2026);
        let mut audio = Audio::new();
        let seconds = if quick { 0.8 } else { 2.4 };
        audio.push(
            "sweep",
            &sweep(20.0, 10_000.0, seconds, |t| {
                0.5 - 0.45 * (2.0 * std::f64::consts::PI * 3.5 * t).cos()
            }),
        );
        let notes: &[(u8, f32)] = if quick {
            &[(40, 0.9), (50, 0.5), (59, 0.7)]
        } else {
            &[
                (40, 0.9),
                (45, 0.4),
                (50, 0.7),
                (55, 0.2),
                (59, 0.95),
                (64, 0.6),
                (52, 0.3),
                (47, 0.8),
            ]
        };
        for &(note, velocity) in notes {
            audio.push("plucks", &pluck(&mut rng, midi(note), velocity, 0.25));
        }
        let bursts: &[(f32, f32)] = if quick {
            &[(0.8, 0.5)]
        } else {
            &[(0.9, 0.0), (0.4, 0.6), (0.7, 0.85), (0.2, 0.3)]
        };
        for &(level, smooth) in bursts {
            audio.push("noise", &noise_burst(&mut rng, level, smooth, 0.15));
        }
        audio
    }

    /// The held-out audio: a falling sweep from 12 kHz to 30 Hz with another amplitude curve,
    /// notes the training never plays, other noise. 2.2 s (1 s with `quick`).
    pub fn held_out(quick: bool) -> Audio {
        let mut rng = StdRng::seed_from_u64(4048);
        let mut audio = Audio::new();
        let seconds = if quick { 0.5 } else { 1.2 };
        audio.push(
            "sweep",
            &sweep(12_000.0, 30.0, seconds, |t| {
                0.55 + 0.4 * (2.0 * std::f64::consts::PI * (1.7 * t + 0.2)).sin()
            }),
        );
        let notes: &[(u8, f32)] = if quick {
            &[(43, 0.8), (57, 0.6)]
        } else {
            &[(43, 0.8), (48, 0.35), (57, 0.6), (62, 0.9)]
        };
        for &(note, velocity) in notes {
            audio.push("plucks", &pluck(&mut rng, midi(note), velocity, 0.2));
        }
        let bursts: &[(f32, f32)] = if quick {
            &[(0.6, 0.4)]
        } else {
            &[(0.6, 0.4), (0.85, 0.75)]
        };
        for &(level, smooth) in bursts {
            audio.push("noise", &noise_burst(&mut rng, level, smooth, 0.1));
        }
        audio
    }
}

/// The error-to-signal ratio of `output` against `target`: Σ(y − ŷ)² / Σy².
pub fn esr(target: &[f32], output: &[f32]) -> f64 {
    let (mut err, mut sig) = (0.0f64, 0.0f64);
    for (&y, &o) in target.iter().zip(output) {
        err += (f64::from(y) - f64::from(o)).powi(2);
        sig += f64::from(y).powi(2);
    }
    err / sig.max(f64::MIN_POSITIVE)
}

/// Writes `samples` as a mono WAV file of 32-bit floats at [`RATE`].
pub fn write_wav(path: &Path, samples: &[f32]) -> Result<(), Box<dyn Error>> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let cannot = |e: hound::Error| format!("cannot write {}: {e}", path.display());
    let mut writer = hound::WavWriter::create(path, spec).map_err(cannot)?;
    for &s in samples {
        writer.write_sample(s).map_err(cannot)?;
    }
    writer.finalize().map_err(cannot)?;
    Ok(())
}

/// The learning rate of epoch `epoch` (from 1) of `epochs`: cosine decay from `lr` towards
/// `lr / 20`.
fn cosine_lr(lr: f64, epoch: usize, epochs: usize) -> f64 {
    let progress = (epoch - 1) as f64 / epochs.max(1) as f64;
    lr * (0.05 + 0.95 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
}

/// Makes the audio, trains the model, streams the held-out audio through it, writes the WAV
/// files and the picture.
pub fn run(options: &Options) -> Result<Outcome, Box<dyn Error>> {
    let start = Instant::now();
    // where the files go is checked before any training: not after it
    std::fs::create_dir_all(&options.out)
        .map_err(|e| format!("cannot write to {}: {e}", options.out.display()))?;
    if let Some(dir) = &options.plot {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot write pictures to {}: {e}", dir.display()))?;
    }

    let train = synth::training(options.quick);
    let train_target = synth::effect(&train.samples);
    let test = synth::held_out(options.quick);
    let test_target = synth::effect(&test.samples);
    println!(
        "audio at {RATE} Hz: {:.2} s to train on, {:.2} s held out; effect: tanh drive {} \
         (offset {}) into a one-pole low-pass at {} Hz",
        train.samples.len() as f64 / f64::from(RATE),
        test.samples.len() as f64 / f64::from(RATE),
        synth::DRIVE,
        synth::BIAS,
        synth::CUTOFF,
    );

    let mut rng = StdRng::seed_from_u64(options.seed);
    let mut net = Amp::random(&mut rng);
    let mut opt = Adam::try_new(options.lr)?;
    let bptt = Bptt::try_truncated(options.window)?
        .warmup(options.warmup)
        .try_clip_norm(options.clip)?;
    println!(
        "network: {} ({} parameters); Adam at lr {} (cosine decay), {} segments of {} samples \
         side by side, truncated BPTT over {} steps after {} of warm-up, gradients clipped to \
         norm {}, {} epochs, seed {}",
        model_file::signature::<Amp, f32>(),
        net.param_count(),
        options.lr,
        options.batch,
        options.segment,
        options.window,
        options.warmup,
        options.clip,
        options.epochs,
        options.seed,
    );

    let segment = options.segment;
    if train.samples.len() < 2 * segment {
        return Err(format!(
            "--segment {segment} is too long for {} samples of training audio",
            train.samples.len()
        )
        .into());
    }
    let cut = |signal: &[f32], at: usize| Sequence::from_row_slice(&signal[at..at + segment]);
    let mut losses = Vec::new();
    let train_start = Instant::now();
    for epoch in 1..=options.epochs {
        opt.set_learning_rate(cosine_lr(options.lr, epoch, options.epochs))?;
        // segments from a random offset, in a random order: other cuts every epoch
        let offset = rng.random_range(0..segment);
        let mut starts: Vec<usize> = (offset..=train.samples.len() - segment)
            .step_by(segment)
            .collect();
        starts.shuffle(&mut rng);
        let (mut loss_sum, mut seen) = (0.0f64, 0usize);
        for chunk in starts.chunks(options.batch) {
            let xs: Vec<Sequence> = chunk.iter().map(|&s| cut(&train.samples, s)).collect();
            let ys: Vec<Sequence> = chunk.iter().map(|&s| cut(&train_target, s)).collect();
            let loss = net.train_sequences(&mut opt, &Mse, &xs, &ys, &bptt)?;
            if !loss.is_finite() {
                return Err(format!(
                    "epoch {epoch}: the loss became {loss}; training stops (try a smaller --lr)"
                )
                .into());
            }
            loss_sum += f64::from(loss) * chunk.len() as f64;
            seen += chunk.len();
        }
        let loss = loss_sum / seen.max(1) as f64;
        losses.push(loss);
        if !options.quiet {
            println!(
                "epoch {epoch:>3}: loss {loss:.3e} ({:.1} s)",
                train_start.elapsed().as_secs_f64()
            );
        }
    }
    let train_seconds = train_start.elapsed().as_secs_f64();

    // the held-out audio, one sample at a time from a reset state, as a plug-in runs; three
    // times (the same output each time), the fastest pass timed, as on a shared machine
    // another program may take the core in the middle of one
    let mut state = net.initial_state();
    let mut output = vec![0.0f32; test.samples.len()];
    let mut stream_seconds = f64::INFINITY;
    for _ in 0..3 {
        net.reset(&mut state);
        let pass = Instant::now();
        for (y, &x) in output.iter_mut().zip(&test.samples) {
            *y = net.step(&mut state, &SVector::<f32, 1>::new(x))[0];
        }
        stream_seconds = stream_seconds.min(pass.elapsed().as_secs_f64().max(1e-9));
    }
    let audio_seconds = test.samples.len() as f64 / f64::from(RATE);
    let realtime_factor = audio_seconds / stream_seconds;
    let ns_per_sample = stream_seconds * 1e9 / test.samples.len() as f64;

    let esr_parts: Vec<(&'static str, f64)> = test
        .parts
        .iter()
        .map(|(name, range)| {
            (
                *name,
                esr(&test_target[range.clone()], &output[range.clone()]),
            )
        })
        .collect();
    let total_esr = esr(&test_target, &output);
    println!(
        "training: {train_seconds:.1} s; streaming {audio_seconds:.2} s of held-out audio: \
         {ns_per_sample:.0} ns a sample, {realtime_factor:.0}x real time at {RATE} Hz \
         (the fastest of 3 passes)"
    );
    let parts: Vec<String> = esr_parts
        .iter()
        .map(|(name, e)| format!("{name} {e:.4}"))
        .collect();
    println!(
        "error-to-signal ratio by part: {} (the dry input against the target: {:.3})",
        parts.join(", "),
        esr(&test_target, &test.samples)
    );

    let mut wavs = Vec::new();
    for (name, samples) in [
        ("input.wav", &test.samples),
        ("target.wav", &test_target),
        ("output.wav", &output),
    ] {
        let path = options.out.join(name);
        write_wav(&path, samples)?;
        wavs.push(path);
    }
    println!(
        "wrote input.wav, target.wav and output.wav to {}",
        options.out.display()
    );

    let mut pictures = Vec::new();
    if let Some(dir) = &options.plot {
        // 6 ms of the sweep's low end and of the first note, 50 ms after it is plucked
        let window = (0.006 * f64::from(RATE)) as usize;
        let windows: Vec<plot::Window<'_>> = test
            .parts
            .iter()
            .filter(|(name, _)| *name != "noise")
            .map(|(name, range)| {
                let at = if *name == "sweep" {
                    range.start + (range.len() * 7 / 10)
                } else {
                    range.start + (0.05 * f64::from(RATE)) as usize
                };
                let at = at.min(range.end - window);
                plot::Window {
                    caption: if *name == "sweep" {
                        "the falling sweep"
                    } else {
                        "a plucked note"
                    },
                    start: at,
                    input: &test.samples[at..at + window],
                    target: &test_target[at..at + window],
                    output: &output[at..at + window],
                }
            })
            .collect();
        let path = dir.join(plot::AUDIO_FILE);
        plot::audio_effect(
            &path,
            &plot::Waveforms {
                title: &format!(
                    "Gru<1, 16> + Dense<16, 1> learns drive into a low-pass: error-to-signal \
                     ratio {total_esr:.4} on held-out audio"
                ),
                sample_rate: RATE,
                windows: &windows,
                loss: &losses,
            },
        )?;
        println!(
            "wrote {} ({} x {})",
            path.display(),
            plot::AUDIO_SIZE.0,
            plot::AUDIO_SIZE.1
        );
        pictures.push((path, plot::AUDIO_SIZE));
    }

    let seconds = start.elapsed().as_secs_f64();
    println!("total time: {seconds:.1} s");
    println!("error-to-signal ratio: {total_esr:.4}");
    Ok(Outcome {
        losses,
        esr: total_esr,
        esr_parts,
        test_samples: test.samples.len(),
        train_samples: train.samples.len(),
        train_seconds,
        realtime_factor,
        ns_per_sample,
        wavs,
        pictures,
        seconds,
    })
}

#[allow(dead_code)]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return;
    }
    let result = Options::parse(&args)
        .map_err(Into::into)
        .and_then(|options| run(&options));
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
