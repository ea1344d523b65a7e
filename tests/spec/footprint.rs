//! The footprint example measures what it claims: stack painting sees a local array of known
//! size; a forward pass puts no network-sized value on the stack; a training step puts one
//! gradient there, built in place, and none when the gradient is kept outside.

#[path = "../../examples/footprint.rs"]
mod example;

#[test]
fn stack_painting_measures_a_known_array_and_the_networks() {
    let (nothing, known, rows) = example::run(true);
    assert!(nothing < 1024, "{nothing}");
    assert!(
        (8192..8192 + 4096).contains(&known),
        "an 8 KiB array measured {known} B"
    );
    for r in &rows {
        assert_eq!(
            r.type_bytes,
            r.params * 4,
            "f32 parameters, nothing else: {r:?}"
        );
        // one sample's activations and the frames: never a copy of the weights
        assert!(r.forward_stack < 16 * 1024, "{r:?}");
        // train_step = train_step_with plus exactly one gradient, built in place (a gradient
        // built by `Default` and moved into place costs a copy per layer in unoptimised
        // builds: nine of them for the MNIST network)
        assert!(
            r.train_stack <= r.train_with_stack + r.type_bytes + 2048,
            "more than one gradient on the stack: {r:?}"
        );
    }
    let mnist = rows.iter().find(|r| r.name.starts_with("mnist")).unwrap();
    // a 159 KB network: train_step keeps its gradient on the stack, train_step_with does not
    assert!(mnist.train_stack > mnist.type_bytes, "{mnist:?}");
    assert!(mnist.train_with_stack < mnist.type_bytes / 4, "{mnist:?}");
    assert!(mnist.forward_stack < mnist.type_bytes / 16, "{mnist:?}");
}
