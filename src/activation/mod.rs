//! Parameter-free activation layers. Each is a zero-sized type that works at any width, for any
//! scalar and any batch dimension.

mod relu;
mod sigmoid;
mod softmax;
mod tanh;

pub use relu::Relu;
pub use sigmoid::Sigmoid;
pub use softmax::Softmax;
pub use tanh::Tanh;

/// Implements everything an activation layer needs besides its formula: the layer contract for
/// an element-wise function whose derivative is written in terms of its output (so the cache is
/// the output), no parameters, width taken from the layers that follow when it comes first.
macro_rules! parameter_free_layer {
    ($name:ident) => {
        impl<T: $crate::Float> $crate::Params<T> for $name {
            const LAYERS: usize = 1;
            fn write_signature(out: &mut dyn core::fmt::Write) -> core::fmt::Result {
                out.write_str(stringify!($name))
            }
            fn write_rust_value(&self, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
                out.write_str(concat!("::typenet::", stringify!($name)))
            }
            fn fill(&mut self, _: T) {}
            fn all_finite(&self) -> bool {
                true
            }
            fn zip_params_mut<const K: usize, F>(&mut self, _: &Self, _: [&mut Self; K], _: &mut F)
            where
                F: FnMut(&mut [T], &[T], [&mut [T]; K]),
            {
            }
            fn tensors(&self) -> impl Iterator<Item = $crate::Tensor<'_, T>> {
                core::iter::empty()
            }
            fn tensors_mut(&mut self) -> impl Iterator<Item = $crate::TensorMut<'_, T>> {
                core::iter::empty()
            }
        }

        impl<Rest: $crate::Network> $crate::Leads<Rest> for $name {
            type Scalar = Rest::Scalar;
            type InputDim = Rest::InputDim;
            type Input = Rest::Input;
        }

        // SAFETY: a zero-sized type has exactly one value and no bytes to get wrong.
        unsafe impl bytemuck::Zeroable for $name {}

        // No parameters: the fused step is the plain backward pass.
        impl<In> $crate::FusedSgd<In> for $name
        where
            $name: $crate::Layer<In>,
        {
            fn backward_sgd(
                &mut self,
                cache: Self::Cache,
                d_out: Self::Out,
                _: &$crate::Sgd,
            ) -> In {
                $crate::Layer::backward(self, cache, d_out, &mut $name)
            }
        }
    };
}

macro_rules! elementwise_layer {
    ($name:ident) => {
        $crate::activation::elementwise_layer!($name, narrow = value);
    };
    // `narrow`: the form of the function for columns narrower than a vector register, where
    // the latency of one value matters more than the throughput of many.
    ($name:ident, narrow = $narrow:ident) => {
        impl $name {
            /// Applies the function to every value of `xs`.
            #[inline(always)]
            fn apply_all<T: $crate::Float>(xs: &mut [T]) {
                if xs.len() < 8 {
                    xs.iter_mut().for_each(|v| *v = $name::$narrow(*v));
                } else {
                    xs.iter_mut().for_each(|v| *v = $name::value(*v));
                }
            }
        }

        impl<T, R, C> $crate::Layer<nalgebra::OMatrix<T, R, C>> for $name
        where
            T: $crate::Float,
            R: nalgebra::Dim,
            C: nalgebra::Dim,
            nalgebra::DefaultAllocator: nalgebra::allocator::Allocator<R, C>,
        {
            type Out = nalgebra::OMatrix<T, R, C>;
            type Cache = nalgebra::OMatrix<T, R, C>;

            // Loops over the contiguous storage, not nalgebra's `map`/`apply`, which walk
            // rows and columns: a flat loop is what the compiler vectorises.
            fn forward(&self, x: &Self::Out) -> Self::Out {
                let mut y = x.clone();
                $name::apply_all(y.as_mut_slice());
                y
            }

            fn forward_train(&self, mut x: Self::Out) -> (Self::Out, Self::Cache) {
                $name::apply_all(x.as_mut_slice());
                (x.clone(), x)
            }

            fn backward(&self, y: Self::Cache, mut d: Self::Out, _grad: &mut Self) -> Self::Out {
                d.as_mut_slice()
                    .iter_mut()
                    .zip(y.as_slice())
                    .for_each(|(d, &y)| *d *= $name::derivative_from_output(y));
                d
            }
        }

        $crate::activation::parameter_free_layer!($name);
    };
}

pub(crate) use elementwise_layer;
pub(crate) use parameter_free_layer;
