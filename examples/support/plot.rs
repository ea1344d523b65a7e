//! The pictures of `--plot DIR` (the `cnn` and `mnist` examples): the training curves, the
//! confusion matrix as a heat map, and a grid of misclassified test images. Drawn with
//! `plotters` into an RGB buffer and written as PNG with `flate2`; text in DejaVu Sans, which
//! the program embeds (the `dejavu` crate), so no system font is needed.
//!
//! Each picture has a fixed size in pixels, given by the constants below. The `audio`
//! example's picture (held-out waveforms above the loss curve, [`audio_effect`]) is drawn here
//! too.

use std::error::Error;
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use typenet::data::ConfusionMatrix;

/// Width and height of the training curves (`training.png`).
pub const CURVES_SIZE: (u32, u32) = (1000, 420);
/// Width and height of the confusion matrix (`confusion.png`).
pub const CONFUSION_SIZE: (u32, u32) = (760, 640);
/// Columns and rows of the grid of misclassified images.
pub const GRID: (u32, u32) = (8, 5);
/// One cell of that grid: the image, scaled to 84 pixels, and two lines of text.
const CELL: (u32, u32) = (112, 130);
/// Width and height of the grid of misclassified images (`misclassified.png`).
pub const MISCLASSIFIED_SIZE: (u32, u32) = (GRID.0 * CELL.0 + 24, GRID.1 * CELL.1 + 52);

/// The file names the pictures get in the `--plot` directory.
pub const CURVES_FILE: &str = "training.png";
/// See [`CURVES_FILE`].
pub const CONFUSION_FILE: &str = "confusion.png";
/// See [`CURVES_FILE`].
pub const MISCLASSIFIED_FILE: &str = "misclassified.png";

const FONT: &str = "sans-serif";
const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(230, 110, 20);
const GREEN: RGBColor = RGBColor(20, 120, 40);
const RED: RGBColor = RGBColor(200, 30, 30);

/// What a run measured after each epoch.
pub struct Curves<'a> {
    /// What the run was, for the title.
    pub title: &'a str,
    /// Mean training loss of each epoch.
    pub train_loss: &'a [f64],
    /// Loss on the test set after each epoch.
    pub test_loss: &'a [f64],
    /// Accuracy on the test set after each epoch.
    pub test_accuracy: &'a [f64],
}

/// A test sample the network got wrong.
pub struct Mistake<'a> {
    /// Its grey levels, row by row (0 is black, 255 white; drawn white on black as MNIST is).
    pub pixels: &'a [u8],
    /// The label.
    pub actual: usize,
    /// What the network said (`None`: its output held no number).
    pub predicted: Option<usize>,
}

/// Registers the embedded font with plotters, once.
fn fonts() -> Result<(), Box<dyn Error>> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err("the embedded font (DejaVu Sans) could not be read".into())
    }
}

/// Draws a picture of `size` pixels with `draw` and writes it to `path` as a PNG.
fn render(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), Box<dyn Error>>,
) -> Result<(), Box<dyn Error>> {
    fonts()?;
    let mut rgb = vec![255u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    write_png(path, &rgb, size).map_err(|e| format!("cannot write {}: {e}", path.display()).into())
}

/// Writes 8-bit RGB pixels, row by row, as a PNG file: the signature, a header (IHDR), the
/// rows compressed with zlib (IDAT, each row with filter 0) and the end (IEND), every chunk
/// with its CRC-32.
pub fn write_png(path: &Path, rgb: &[u8], (width, height): (u32, u32)) -> std::io::Result<()> {
    let row = width as usize * 3;
    assert_eq!(
        rgb.len(),
        row * height as usize,
        "RGB values of the picture"
    );
    let mut raw = Vec::with_capacity((row + 1) * height as usize);
    for line in rgb.chunks_exact(row) {
        raw.push(0); // filter: none
        raw.extend_from_slice(line);
    }
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(&raw)?;
    let idat = zlib.finish()?;

    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    // 8 bits a sample, colour type 2 (RGB), deflate, adaptive filtering, no interlace
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (b"IHDR", &ihdr[..]),
        (b"IDAT", &idat[..]),
        (b"IEND", &[][..]),
    ] {
        let len = u32::try_from(data.len()).map_err(std::io::Error::other)?;
        png.extend_from_slice(&len.to_be_bytes());
        png.extend_from_slice(kind);
        png.extend_from_slice(data);
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        png.extend_from_slice(&crc.sum().to_be_bytes());
    }
    std::fs::write(path, png)
}

/// The x range of a chart of `n` epochs.
fn epochs(n: usize) -> std::ops::Range<u32> {
    if n <= 1 { 0..2 } else { 1..n as u32 }
}

/// The training curves: loss per epoch (training and test) on the left, test accuracy per
/// epoch on the right. [`CURVES_SIZE`] pixels.
pub fn training_curves(path: &Path, curves: &Curves<'_>) -> Result<(), Box<dyn Error>> {
    render(path, CURVES_SIZE, |root| {
        let root = root.titled(curves.title, (FONT, 20))?;
        let (left, right) = root.split_horizontally(CURVES_SIZE.0 / 2);
        let n = curves.train_loss.len();
        let points =
            |values: &[f64]| -> Vec<(u32, f64)> { (1..).zip(values.iter().copied()).collect() };

        let highest = curves
            .train_loss
            .iter()
            .chain(curves.test_loss)
            .copied()
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max);
        let mut chart = ChartBuilder::on(&left)
            .caption("loss per epoch", (FONT, 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(epochs(n), 0.0..(highest * 1.1).max(1e-3))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_label_formatter(&|v| format!("{v:.2}"))
            .label_style((FONT, 13))
            .draw()?;
        for (values, colour, name) in [
            (curves.train_loss, BLUE, "training"),
            (curves.test_loss, ORANGE, "test"),
        ] {
            chart
                .draw_series(LineSeries::new(points(values), colour.stroke_width(2)).point_size(3))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 13))
            .border_style(BLACK)
            .background_style(WHITE.mix(0.9))
            .draw()?;

        let last = curves.test_accuracy.last().copied().unwrap_or(f64::NAN);
        let lowest = curves
            .test_accuracy
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(1.0f64, f64::min);
        let floor = (((lowest - 0.005) * 20.0).floor() / 20.0).clamp(0.0, 0.95);
        let mut chart = ChartBuilder::on(&right)
            .caption(
                format!("test accuracy per epoch (last {last:.4})"),
                (FONT, 16),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(epochs(n), floor..1.0)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_label_formatter(&|v| format!("{v:.3}"))
            .label_style((FONT, 13))
            .draw()?;
        chart.draw_series(
            LineSeries::new(points(curves.test_accuracy), GREEN.stroke_width(2)).point_size(3),
        )?;
        Ok(())
    })
}

/// The colour of a cell holding `share` (0 to 1) of its row: white to dark blue.
fn shade(share: f64) -> RGBColor {
    let t = share.clamp(0.0, 1.0).sqrt();
    let mix = |from: f64, to: f64| (from + (to - from) * t).round() as u8;
    RGBColor(mix(247.0, 8.0), mix(251.0, 48.0), mix(255.0, 107.0))
}

/// The confusion matrix as a heat map: a row per true class, a column per predicted class,
/// each cell's count written in it and its shade the square root of its share of the row (so
/// that small confusions show). [`CONFUSION_SIZE`] pixels.
pub fn confusion_matrix(
    path: &Path,
    title: &str,
    confusion: &ConfusionMatrix,
    names: &[String],
) -> Result<(), Box<dyn Error>> {
    let classes = confusion.classes();
    // rows say the class's name and number where names are not numbers
    let row_labels: Vec<String> = (0..classes)
        .map(|c| {
            if names[c] == c.to_string() {
                names[c].clone()
            } else {
                format!("{} ({c})", names[c])
            }
        })
        .collect();
    render(path, CONFUSION_SIZE, |root| {
        let (width, height) = CONFUSION_SIZE;
        let label_width: i32 = if row_labels.iter().any(|n| n.len() > 2) {
            150
        } else {
            70
        };
        let top = 100;
        let cell = ((width as i32 - label_width - 20) / classes as i32)
            .min((height as i32 - top - 20) / classes as i32);
        let grid = cell * classes as i32;
        // the labels and the grid, centred
        let x0 = (width as i32 - label_width - grid) / 2 + label_width;
        let y0 = top;
        let centred = |size: u32, colour: &'static RGBColor| {
            TextStyle::from((FONT, size).into_font())
                .color(colour)
                .pos(Pos::new(HPos::Center, VPos::Center))
        };
        let right = |size: u32| {
            TextStyle::from((FONT, size).into_font()).pos(Pos::new(HPos::Right, VPos::Center))
        };
        root.draw(&Text::new(
            title.to_string(),
            (width as i32 / 2, 18),
            centred(18, &BLACK),
        ))?;
        root.draw(&Text::new(
            format!(
                "accuracy {:.4} on {} samples; shade: square root of the share of the row",
                confusion.accuracy(),
                confusion.total()
            ),
            (width as i32 / 2, 40),
            centred(13, &BLACK),
        ))?;
        root.draw(&Text::new(
            "predicted class \u{2192}",
            (x0 + grid / 2, y0 - 38),
            centred(14, &BLACK),
        ))?;
        root.draw(&Text::new(
            "true class \u{2193}",
            (x0 - 8, y0 - 12),
            right(14),
        ))?;
        for (actual, label) in row_labels.iter().enumerate() {
            let row_total: u64 = (0..classes)
                .map(|p| confusion.count(actual, p))
                .sum::<u64>()
                + confusion.unanswered(actual);
            let y = y0 + actual as i32 * cell;
            root.draw(&Text::new(label.clone(), (x0 - 8, y + cell / 2), right(14)))?;
            for predicted in 0..classes {
                let x = x0 + predicted as i32 * cell;
                let count = confusion.count(actual, predicted);
                let share = count as f64 / row_total.max(1) as f64;
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell, y + cell)],
                    shade(share).filled(),
                ))?;
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell, y + cell)],
                    RGBColor(200, 200, 200).stroke_width(1),
                ))?;
                if count > 0 {
                    let ink: &'static RGBColor = if share > 0.3 { &WHITE } else { &BLACK };
                    root.draw(&Text::new(
                        count.to_string(),
                        (x + cell / 2, y + cell / 2),
                        centred(13, ink),
                    ))?;
                }
            }
        }
        for predicted in 0..classes {
            root.draw(&Text::new(
                predicted.to_string(),
                (x0 + predicted as i32 * cell + cell / 2, y0 - 12),
                centred(14, &BLACK),
            ))?;
        }
        Ok(())
    })
}

/// A grid of the first [`GRID`] of `mistakes`, test images of `sides` (rows, columns), each
/// with its true label above what the network said; `tested` is how many were tested.
/// [`MISCLASSIFIED_SIZE`] pixels.
pub fn misclassified(
    path: &Path,
    mistakes: &[Mistake<'_>],
    tested: usize,
    sides: (usize, usize),
    names: &[String],
) -> Result<(), Box<dyn Error>> {
    render(path, MISCLASSIFIED_SIZE, |root| {
        let (total, shown) = (
            mistakes.len(),
            mistakes.len().min((GRID.0 * GRID.1) as usize),
        );
        let title = if total > shown {
            format!("misclassified test images: {total} of {tested} (the first {shown} shown)")
        } else {
            format!("misclassified test images: {total} of {tested}")
        };
        root.draw(&Text::new(
            title,
            (MISCLASSIFIED_SIZE.0 as i32 / 2, 20),
            TextStyle::from((FONT, 18).into_font()).pos(Pos::new(HPos::Center, VPos::Center)),
        ))?;
        let scale = (84 / sides.0.max(sides.1).max(1)).max(1) as i32;
        for (k, mistake) in mistakes.iter().take(shown).enumerate() {
            let (col, row) = (k as u32 % GRID.0, k as u32 / GRID.0);
            let x = 12 + (col * CELL.0) as i32 + (CELL.0 as i32 - 84) / 2;
            let y = 44 + (row * CELL.1) as i32;
            for (i, &p) in mistake.pixels.iter().enumerate() {
                let (py, px) = ((i / sides.1) as i32, (i % sides.1) as i32);
                let grey = RGBColor(p, p, p);
                root.draw(&Rectangle::new(
                    [
                        (x + px * scale, y + py * scale),
                        (x + (px + 1) * scale, y + (py + 1) * scale),
                    ],
                    grey.filled(),
                ))?;
            }
            let centre = x + 42;
            let line = |text: String, dy: i32, colour: &'static RGBColor| {
                Text::new(
                    text,
                    (centre, y + 84 + dy),
                    TextStyle::from((FONT, 13).into_font())
                        .color(colour)
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                )
            };
            root.draw(&line(format!("true {}", names[mistake.actual]), 12, &GREEN))?;
            let said = mistake
                .predicted
                .map_or("no answer".to_string(), |p| names[p].clone());
            root.draw(&line(format!("said {said}"), 28, &RED))?;
        }
        Ok(())
    })
}

/// Width and height of the picture of the `audio` example (`audio.png`).
pub const AUDIO_SIZE: (u32, u32) = (1000, 680);
/// The file name of the `audio` example's picture in the `--plot` directory.
pub const AUDIO_FILE: &str = "audio.png";

/// A short stretch of audio, as a network's input, the target it learns and its output.
pub struct Window<'a> {
    /// What the stretch is, for its chart.
    pub caption: &'a str,
    /// The index of its first sample in the whole signal (the time axis starts there).
    pub start: usize,
    /// The samples going in.
    pub input: &'a [f32],
    /// The samples the effect gives.
    pub target: &'a [f32],
    /// The samples the network gives.
    pub output: &'a [f32],
}

/// What the `audio` example draws: stretches of held-out audio and the loss curve.
pub struct Waveforms<'a> {
    /// What the run was, for the title.
    pub title: &'a str,
    /// Samples a second, for the time axis.
    pub sample_rate: u32,
    /// The stretches, side by side.
    pub windows: &'a [Window<'a>],
    /// Mean training loss of each epoch.
    pub loss: &'a [f64],
}

/// The waveforms of each window (input, target and output over time in milliseconds) side by
/// side above the training loss per epoch on a logarithmic scale. [`AUDIO_SIZE`] pixels.
pub fn audio_effect(path: &Path, waves: &Waveforms<'_>) -> Result<(), Box<dyn Error>> {
    render(path, AUDIO_SIZE, |root| {
        let root = root.titled(waves.title, (FONT, 18))?;
        let (top, bottom) = root.split_vertically(AUDIO_SIZE.1 * 55 / 100);
        let panels = top.split_evenly((1, waves.windows.len().max(1)));
        let rate = f64::from(waves.sample_rate.max(1));
        for (window, area) in waves.windows.iter().zip(&panels) {
            let ms = |i: usize| (window.start + i) as f64 * 1000.0 / rate;
            let n = window.input.len();
            let peak = window
                .input
                .iter()
                .chain(window.target)
                .chain(window.output)
                .map(|v| f64::from(v.abs()))
                .filter(|v| v.is_finite())
                .fold(0.05f64, f64::max)
                * 1.1;
            let mut chart = ChartBuilder::on(area)
                .caption(window.caption, (FONT, 15))
                .margin(10)
                .x_label_area_size(34)
                .y_label_area_size(48)
                .build_cartesian_2d(ms(0)..ms(n.max(2) - 1), -peak..peak)?;
            chart
                .configure_mesh()
                .x_desc("time (ms)")
                .x_label_formatter(&|v| format!("{v:.1}"))
                // no "-0.0" where a tick lands a rounding error below zero
                .y_label_formatter(&|v| format!("{:.1}", if v.abs() < 1e-9 { 0.0 } else { *v }))
                .label_style((FONT, 12))
                .light_line_style(RGBColor(242, 242, 242))
                .draw()?;
            for (values, colour, width, name) in [
                (window.input, RGBColor(150, 150, 150), 1, "input"),
                (window.target, BLUE, 2, "target"),
                (window.output, ORANGE, 1, "output"),
            ] {
                let points = values
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| (ms(i), f64::from(v)));
                chart
                    .draw_series(LineSeries::new(points, colour.stroke_width(width)))?
                    .label(name)
                    .legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .label_font((FONT, 12))
                .border_style(BLACK)
                .background_style(WHITE.mix(0.9))
                .draw()?;
        }

        // the loss on a logarithmic scale: its decimal logarithm on a linear axis, labelled
        // with the loss itself
        let points: Vec<(u32, f64)> = (1..)
            .zip(waves.loss.iter().copied())
            .filter(|(_, v)| v.is_finite() && *v > 0.0)
            .map(|(epoch, v)| (epoch, v.log10()))
            .collect();
        let highest = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        let lowest = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let (lowest, highest) = if points.is_empty() {
            (-1.0, 0.0)
        } else {
            (lowest - 0.1, highest.max(lowest + 0.5) + 0.1)
        };
        let mut chart = ChartBuilder::on(&bottom)
            .caption(
                "training loss (MSE) per epoch, logarithmic scale",
                (FONT, 15),
            )
            .margin(10)
            .x_label_area_size(34)
            .y_label_area_size(64)
            .build_cartesian_2d(epochs(waves.loss.len()), lowest..highest)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_labels(6)
            .y_label_formatter(&|v| format!("{:.1e}", 10f64.powf(*v)))
            .label_style((FONT, 12))
            .light_line_style(RGBColor(242, 242, 242))
            .draw()?;
        chart.draw_series(LineSeries::new(points, BLUE.stroke_width(2)).point_size(3))?;
        Ok(())
    })
}
