//! The data-set toolkit: bytes to floats (as columns or as images), seeded splits and
//! shuffles, one-hot targets with smoothing, accuracy and the confusion matrix.

use rand::{SeedableRng, rngs::StdRng};
use typenet::data::{
    ConfusionMatrix, DataProblem, Dataset, OneHot, argmax_columns, evaluate, evaluate_as,
    read_images,
};
use typenet::prelude::*;

/// Ten samples of width 2: sample i is [i, 255 - i], label i % 3.
fn toy() -> Dataset {
    let pixels = (0..10u8).flat_map(|i| [i, 255 - i]).collect();
    let labels = (0..10u8).map(|i| i % 3).collect();
    Dataset::new("toy", 2, pixels, labels).unwrap()
}

#[test]
fn inputs_are_bytes_divided_by_255_one_column_per_sample() {
    let x = toy().inputs::<f64, 2>(&[3, 0]).unwrap();
    assert_eq!(x.shape(), (2, 2));
    assert_eq!(x.column(0).as_slice(), [3.0 / 255.0, 252.0 / 255.0]);
    assert_eq!(x.column(1).as_slice(), [0.0, 1.0]);
    let err = toy().inputs::<f32, 784>(&[0]).unwrap_err();
    assert!(matches!(
        err.problem,
        DataProblem::WrongWidth {
            expected: 784,
            found: 2
        }
    ));
    assert_eq!(
        err.to_string(),
        "toy: samples of width 784 were asked for, the data has width 2"
    );
}

#[test]
fn every_byte_becomes_its_correctly_rounded_fraction_of_255_in_both_scalars() {
    let all = Dataset::new("bytes", 256, (0..=255u8).collect(), vec![0]).unwrap();
    let x32 = all.inputs::<f32, 256>(&[0]).unwrap();
    let x64 = all.inputs::<f64, 256>(&[0]).unwrap();
    for b in 0..=255u8 {
        let exact = f64::from(b) / 255.0;
        assert_eq!(x64[usize::from(b)], exact, "byte {b} in f64");
        assert_eq!(x32[usize::from(b)], exact as f32, "byte {b} in f32");
    }
    // a reused buffer of another batch size is resized, and holds the same values
    let mut reused = OMatrix::<f32, Const<256>, Dyn>::from_element(3, f32::NAN);
    all.inputs_into(&[0], &mut reused).unwrap();
    assert_eq!(reused, x32);
}

#[test]
fn a_split_is_seeded_disjoint_and_complete() {
    let data = toy();
    let (train, test) = data.split(0.2, 42).unwrap();
    assert_eq!((train.len(), test.len()), (8, 2));
    let firsts = |d: &Dataset| (0..d.len()).map(|i| d.sample(i)[0]).collect::<Vec<_>>();
    let mut all = [firsts(&train), firsts(&test)].concat();
    all.sort();
    assert_eq!(all, (0..10).collect::<Vec<u8>>());
    // same seed, same split; another seed, another split
    assert_eq!(data.split(0.2, 42).unwrap(), (train.clone(), test.clone()));
    assert_ne!(data.split(0.2, 43).unwrap().1, test);
    // labels travel with their samples
    for d in [&train, &test] {
        for i in 0..d.len() {
            assert_eq!(d.labels()[i], d.sample(i)[0] % 3);
        }
    }
    for bad in [-0.1, 1.5, f64::NAN] {
        assert!(data.split(bad, 1).is_err());
    }
    assert_eq!(data.split_at(7).unwrap().0.len(), 7);
    assert!(data.split_at(11).is_err());
}

#[test]
fn shuffled_indices_are_a_seeded_permutation() {
    let data = toy();
    let a = data.shuffled_indices(&mut StdRng::seed_from_u64(5));
    let b = data.shuffled_indices(&mut StdRng::seed_from_u64(5));
    assert_eq!(a, b);
    let mut sorted = a.clone();
    sorted.sort();
    assert_eq!(sorted, (0..10).collect::<Vec<_>>());
    assert_ne!(a, (0..10).collect::<Vec<_>>());
}

#[test]
fn one_hot_targets_with_and_without_smoothing() {
    let y = toy().targets::<f32, 3>(&[0, 1, 2], OneHot::PLAIN).unwrap();
    assert_eq!(y, OMatrix::<f32, Const<3>, Dyn>::identity(3));
    let y = toy()
        .targets::<f64, 3>(&[4], OneHot::smoothed(0.01, 0.99))
        .unwrap();
    assert_eq!(y.column(0).as_slice(), [0.01, 0.99, 0.01]);
    // a label outside the classes is an error naming sample and label
    let err = toy().targets::<f32, 2>(&[0, 2], OneHot::PLAIN).unwrap_err();
    assert!(matches!(
        err.problem,
        DataProblem::LabelOutOfRange {
            index: 2,
            label: 2,
            classes: 2
        }
    ));
    assert!(toy().check_labels(2).is_err());
    toy().check_labels(3).unwrap();
}

#[test]
fn mismatched_pixels_and_labels_are_refused() {
    assert!(Dataset::new("x", 2, vec![0; 5], vec![0; 2]).is_err());
    assert!(Dataset::new("x", 0, vec![], vec![]).is_err());
}

#[test]
fn the_confusion_matrix_counts_and_prints() {
    let mut m = ConfusionMatrix::new(3);
    for (a, p) in [(0, 0), (0, 1), (1, 1), (2, 2), (2, 2), (2, 0)] {
        m.record(a, p);
    }
    assert_eq!((m.total(), m.count(2, 2), m.count(2, 0)), (6, 2, 1));
    assert_eq!(m.accuracy(), 4.0 / 6.0);
    assert_eq!(
        m.to_string(),
        "true\\pred 0 1 2\n        0 1 1 0\n        1 0 1 0\n        2 1 0 2"
    );
    assert!(
        ConfusionMatrix::new(2).accuracy().is_nan(),
        "an empty matrix has no accuracy, not 0"
    );
    m.record_unanswered(1);
    assert_eq!((m.total(), m.unanswered(1)), (7, 1));
    assert_eq!(m.accuracy(), 4.0 / 7.0, "no prediction is a wrong one");
    assert!(m.to_string().ends_with("\nno prediction (NaN output): 1"));
}

#[test]
fn argmax_picks_the_largest_output_and_never_a_nan() {
    let out = OMatrix::<f32, Const<3>, Dyn>::from_column_slice(&[
        0.1,
        0.7,
        0.2, //
        0.5,
        0.5,
        0.0, // a tie goes to the first
        f32::NAN,
        0.1,
        0.3, //
        f32::NAN,
        f32::NAN,
        f32::NAN, // no number, no answer
        f32::NEG_INFINITY,
        f32::NAN,
        f32::NEG_INFINITY, // -inf is a number
    ]);
    assert_eq!(
        argmax_columns(&out).collect::<Vec<_>>(),
        [Some(1), Some(0), Some(2), None, Some(0)]
    );
}

#[test]
fn evaluate_counts_every_sample_once_whatever_the_batch_size() {
    type Net = net![Dense<2, 3>, Softmax];
    let net = Net::random(&mut StdRng::seed_from_u64(0));
    let data = toy();
    let whole = evaluate::<Net, f32, 2, 3>(&net, &data, 100).unwrap();
    for batch in [1, 3, 7] {
        assert_eq!(
            evaluate::<Net, f32, 2, 3>(&net, &data, batch).unwrap(),
            whole
        );
    }
    assert_eq!(whole.total(), 10);
    // labels beyond the network's classes are an error, not a panic
    let bad = Dataset::new("bad", 2, vec![0; 4], vec![0, 5]).unwrap();
    assert!(evaluate::<Net, f32, 2, 3>(&net, &bad, 2).is_err());
}

/// Three samples of 12 bytes: sample n's byte k is 20·n + k.
fn twelve_wide() -> Dataset {
    let pixels = (0..3u8)
        .flat_map(|n| (0..12).map(move |k| 20 * n + k))
        .collect();
    Dataset::new("twelve", 12, pixels, vec![0, 1, 2]).unwrap()
}

/// `twelve_wide` as an IDX image file says it: three images of 4 rows of 3 columns.
fn twelve_as_idx() -> Dataset {
    let mut file = vec![0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 3];
    file.extend((0..3u8).flat_map(|n| (0..12).map(move |k| 20 * n + k)));
    Dataset::from_idx(
        "twelve.idx",
        read_images(&file[..], "twelve.idx").unwrap(),
        vec![0, 1, 2],
    )
    .unwrap()
}

#[test]
fn images_are_bytes_divided_by_255_in_channel_row_column_order() {
    let data = twelve_wide();
    // two channels of 2 rows of 3: byte k of a sample is channel k / 6, row k % 6 / 3, column k % 3
    let x = data.images::<f64, 2, 2, 3>(&[2, 0]).unwrap();
    assert_eq!(x.batch_size(), 2);
    assert_eq!(
        x.at(0, 1, 0, 2),
        f64::from(40 + 8) / 255.0,
        "sample 2, byte 8"
    );
    assert_eq!(x.at(1, 0, 1, 1), 4.0 / 255.0, "sample 0, byte 4");
    // the same values, in the same order, as the samples taken as columns
    let columns = data.inputs::<f64, 12>(&[2, 0]).unwrap();
    assert_eq!(x.as_slice(), columns.as_slice());
    // other shapes of the same 12 values are images too, when nothing says what the sides are
    assert_eq!(data.image_sides(), None);
    let tall = data.images::<f64, 1, 12, 1>(&[2, 0]).unwrap();
    assert_eq!(tall.as_slice(), columns.as_slice());
    // a reused buffer of another batch size is resized, and holds the same values
    let mut reused = Image::<f64, 2, 2, 3, Dyn>::from_fn_batch(Dyn(5), |_, _, _, _| f64::NAN);
    data.images_into(&[2, 0], &mut reused).unwrap();
    assert_eq!(reused, x);
    data.images_into(&[1], &mut reused).unwrap();
    assert_eq!(
        reused.as_slice(),
        data.inputs::<f64, 12>(&[1]).unwrap().as_slice()
    );
    // the generic entry point gives either kind, by the type asked for
    let generic: Image<f64, 2, 2, 3, Dyn> = data.batch(&[2, 0]).unwrap();
    assert_eq!(generic, x);
    let generic: OMatrix<f64, Const<12>, Dyn> = data.batch(&[2, 0]).unwrap();
    assert_eq!(generic, columns);
}

#[test]
fn images_of_the_wrong_size_or_sides_are_an_error_naming_both() {
    let data = twelve_wide();
    let err = data.images::<f32, 1, 28, 28>(&[0]).unwrap_err();
    assert!(matches!(
        err.problem,
        DataProblem::WrongImageShape {
            expected: [1, 28, 28],
            width: 12,
            sides: None
        }
    ));
    assert_eq!(
        err.to_string(),
        "twelve: images of 1 x 28 x 28 (784 values) were asked for, the samples have 12 values"
    );
    // on an error the buffer is left as it was
    let mut buffer =
        Image::<f32, 1, 2, 2, Dyn>::from_fn_batch(Dyn(2), |n, _, y, x| (n + y + x) as f32);
    let before = buffer.clone();
    assert!(data.images_into(&[0, 1, 2], &mut buffer).is_err());
    assert_eq!(buffer, before);

    // read from an image file, the samples are 4 x 3 images: 12 values in another
    // arrangement are refused, channels stacked as the file's rows are not
    let idx = twelve_as_idx();
    assert_eq!(idx.image_sides(), Some((4, 3)));
    let err = idx.images::<f32, 1, 3, 4>(&[0]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "twelve.idx: images of 1 x 3 x 4 (12 values) were asked for, the samples are images \
         of 4 x 3 (12 values)"
    );
    assert!(idx.images::<f32, 1, 12, 1>(&[0]).is_err());
    let one = idx.images::<f32, 1, 4, 3>(&[0, 1, 2]).unwrap();
    let two = idx.images::<f32, 2, 2, 3>(&[0, 1, 2]).unwrap();
    assert_eq!(one.as_slice(), two.as_slice());
    // a subset or a split keeps the sides
    assert_eq!(idx.split_at(1).unwrap().1.image_sides(), Some((4, 3)));
}

#[test]
fn evaluating_on_images_counts_as_evaluating_the_same_values_as_columns() {
    // Flatten then Dense on images is Dense on the columns of the same values
    type OnImages = net![Flatten, Dense<12, 3>];
    type OnColumns = net![Dense<12, 3>];
    let dense = Dense::<12, 3>::random(&mut StdRng::seed_from_u64(3));
    let on_images: OnImages = Chain {
        head: Flatten,
        tail: dense.clone(),
    };
    let data = twelve_wide();
    let images = evaluate_as::<Image<f32, 2, 2, 3, Dyn>, _, _, _>(&on_images, &data, 2).unwrap();
    let columns = evaluate::<OnColumns, f32, 12, 3>(&dense, &data, 2).unwrap();
    assert_eq!(images, columns);
    assert_eq!(images.total(), 3);
    // images of the wrong shape are an error, as they are for a batch
    let bad = evaluate_as::<Image<f32, 1, 2, 2, Dyn>, _, _, _>(&Flatten, &data, 2);
    assert!(matches!(
        bad.map(|_| ()).unwrap_err().problem,
        DataProblem::WrongImageShape { width: 12, .. }
    ));
}
