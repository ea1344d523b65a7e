//! The footprint example measures what it claims: stack painting sees a local array of known
//! size, and a training step with the gradient kept outside puts no network-sized value on the
//! stack.

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
        assert!(r.forward_stack > 0 && r.train_stack > 0, "{r:?}");
        assert_eq!(
            r.type_bytes,
            r.params * 4,
            "f32 parameters, nothing else: {r:?}"
        );
    }
    let mnist = rows.iter().find(|r| r.name.starts_with("mnist")).unwrap();
    // a 159 KB network: train_step keeps its gradient on the stack, train_step_with does not
    assert!(mnist.train_stack > mnist.type_bytes, "{mnist:?}");
    assert!(mnist.train_with_stack < mnist.type_bytes / 4, "{mnist:?}");
}
