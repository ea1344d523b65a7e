//! The behaviour of typenet, as one integration-test crate (see each module's doc).

mod support;
