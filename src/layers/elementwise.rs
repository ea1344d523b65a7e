//! What the parameter-free layers share: everything an activation needs besides its formula.

/// Implements everything a parameter-free layer needs besides [`Layer`](crate::Layer): no
/// state between time steps ([`Stateless`](crate::Stateless)), no
/// parameters ([`Params`](crate::Params) for every scalar), the input width taken from the
/// layers that follow when it comes first, all-zero bytes as its (only) value, and `approx`
/// comparisons (always equal).
macro_rules! parameter_free_layer {
    ($name:ident) => {
        $crate::layers::elementwise::parameter_free_layer!([] $name, stringify!($name));
    };
    // a generic layer: its generics, its type, and its signature as `write!` arguments
    ([$($g:tt)*] $name:ty, $($signature:tt)+) => {
        impl<$($g)* T: $crate::core::Float> $crate::core::Params<T> for $name {
            const LAYERS: usize = 1;
            fn write_signature(out: &mut dyn core::fmt::Write) -> core::fmt::Result {
                write!(out, "{}", format_args!($($signature)+))
            }
            fn fill(&mut self, _: T) {}
            fn all_finite(&self) -> bool {
                true
            }
            fn zip_params_mut<const NS: usize, F>(&mut self, _: &Self, _: [&mut Self; NS], _: &mut F)
            where
                F: FnMut(&mut [T], &[T], [&mut [T]; NS]),
            {
            }
            fn tensors(&self) -> impl Iterator<Item = $crate::core::Tensor<'_, T>> {
                core::iter::empty()
            }
            fn tensors_mut(&mut self) -> impl Iterator<Item = $crate::core::TensorMut<'_, T>> {
                core::iter::empty()
            }
        }

        impl<$($g)* Rest: $crate::core::Network> $crate::core::FirstLayer<Rest> for $name {
            type Scalar = Rest::Scalar;
            type InputDim = Rest::InputDim;
            type Input = Rest::Input;
        }

        // no state from one time step to the next: a sequence network runs it on every step
        impl<$($g)*> $crate::core::Stateless for $name {}

        // SAFETY: a zero-sized type has exactly one value and no bytes to get wrong.
        unsafe impl<$($g)*> bytemuck::Zeroable for $name {}

        // No parameters, nothing to compare: any two values are the one value.
        impl<$($g)*> approx::AbsDiffEq for $name {
            type Epsilon = f64;
            fn default_epsilon() -> f64 {
                f64::EPSILON
            }
            fn abs_diff_eq(&self, _: &Self, _: f64) -> bool {
                true
            }
        }

        impl<$($g)*> approx::RelativeEq for $name {
            fn default_max_relative() -> f64 {
                f64::EPSILON
            }
            fn relative_eq(&self, _: &Self, _: f64, _: f64) -> bool {
                true
            }
        }

        impl<$($g)*> approx::UlpsEq for $name {
            fn default_max_ulps() -> u32 {
                4
            }
            fn ulps_eq(&self, _: &Self, _: f64, _: u32) -> bool {
                true
            }
        }
    };
}

/// The fused gradient-descent step of a layer without parameters: its backward pass, since
/// there is nothing to step. Items of a [`Layer`](crate::Layer) impl.
macro_rules! descends_without_parameters {
    () => {
        $crate::layers::elementwise::descends_without_parameters!(Self::Out);
    };
    // `$input`: the layer's input type, where it is not its output type
    ($input:ty) => {
        const DESCENDS: bool = true;

        fn backward_descend<Sc: $crate::core::Float>(
            &mut self,
            cache: Self::Cache,
            d_out: Self::Out,
            _: $crate::core::Descent<Sc>,
        ) -> $input {
            $crate::core::Layer::backward(self, cache, d_out, &mut Self::default())
        }
    };
}

/// The layer contract for an element-wise function whose derivative is written in terms of its
/// output (so the cache is the output), and [`parameter_free_layer!`].
macro_rules! elementwise_layer {
    ($name:ident) => {
        $crate::layers::elementwise::elementwise_layer!($name, narrow = value);
    };
    // `narrow`: the form of the function for columns narrower than a vector register, where
    // the latency of one value matters more than the throughput of many.
    ($name:ident, narrow = $narrow:ident) => {
        impl $name {
            /// Applies the function to every value of `xs`.
            #[inline(always)]
            fn apply_all<T: $crate::core::Float>(xs: &mut [T]) {
                if xs.len() < 8 {
                    xs.iter_mut().for_each(|v| *v = $name::$narrow(*v));
                } else {
                    $crate::kernels::map_in_place(xs, $name::value);
                }
            }
        }

        // one implementation for columns and images (any `Values`), so that the input type
        // is known from the cache alone in `backward`
        impl<X> $crate::core::Layer<X> for $name
        where
            X: $crate::core::Values,
            X::Scalar: $crate::core::Float,
        {
            type Out = X;
            type Cache = X;

            // Loops over the contiguous storage, not nalgebra's `map`/`apply`, which walk
            // rows and columns: a flat loop is what the compiler vectorises.
            fn forward(&self, x: &X) -> X {
                let mut y = x.clone();
                $name::apply_all(y.values_mut());
                y
            }

            fn forward_train(&self, mut x: X) -> (X, X) {
                $name::apply_all(x.values_mut());
                (x.clone(), x)
            }

            fn backward(&self, y: X, mut d: X, _grad: &mut Self) -> X {
                $crate::kernels::zip_map_in_place(d.values_mut(), y.values(), |d, y| {
                    d * $name::derivative_from_output(y)
                });
                d
            }

            $crate::layers::elementwise::descends_without_parameters!();
        }

        $crate::layers::elementwise::parameter_free_layer!($name);
    };
}

pub(crate) use descends_without_parameters;
pub(crate) use elementwise_layer;
pub(crate) use parameter_free_layer;
