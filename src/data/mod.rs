//! Data (with the `std` feature): reading the IDX files of the MNIST family, a small data-set
//! toolkit (splits, one-hot targets, shuffled mini-batches of columns or of images) and
//! evaluation (accuracy, the confusion matrix).
//!
//! ```
//! use rand::{rngs::StdRng, SeedableRng};
//! use typenet::data::{Dataset, OneHot};
//! use typenet::prelude::*;
//!
//! let data = Dataset::load("data/mnist-10k/images-idx3-ubyte.gz", "data/mnist-10k/labels-idx1-ubyte.gz")?;
//! let (train, test) = data.split_at(8_000)?;
//! let mut rng = StdRng::seed_from_u64(0);
//! let order = train.shuffled_indices(&mut rng);
//! let batch = &order[..100];
//! let x = train.inputs::<f32, 784>(batch)?;               // 784 x 100, values in [0, 1]
//! let y = train.targets::<f32, 10>(batch, OneHot::PLAIN)?; // 10 x 100, one-hot
//! assert_eq!((x.ncols(), y.ncols(), test.len()), (100, 100, 2_000));
//! let images = train.images::<f32, 1, 28, 28>(batch)?;   // 100 images of 1 x 28 x 28
//! assert_eq!(images.as_slice(), x.as_slice());            // the same values, in NCHW order
//! # Ok::<(), typenet::data::DataError>(())
//! ```

mod dataset;
mod error;
mod idx;
mod metrics;
mod one_hot;

pub use dataset::{Dataset, SampleBatch};
pub use error::{DataError, DataProblem};
pub use idx::{IdxReader, Images, load_images, load_labels, read_images, read_labels};
pub use metrics::{ConfusionMatrix, argmax_columns, evaluate, evaluate_as};
pub use one_hot::OneHot;
