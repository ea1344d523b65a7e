//! The `net!` macro.

/// Writes the type of a network from its layers, first to last.
///
/// `net![A, B, C]` is `Chain<A, Chain<B, C>>`; `net![A]` is `A`. Any layer may itself be a
/// network, so networks compose.
///
/// ```
/// use typenet::prelude::*;
/// type Net = net![Dense<784, 100>, Relu, Dense<100, 10>, Softmax];
/// let _: Option<Chain<Dense<784, 100>, Chain<Relu, Chain<Dense<100, 10>, Softmax>>>> =
///     None::<Net>;
/// ```
#[macro_export]
macro_rules! net {
    ($layer:ty $(,)?) => { $layer };
    ($layer:ty, $($rest:ty),+ $(,)?) => { $crate::Chain<$layer, $crate::net![$($rest),+]> };
}
