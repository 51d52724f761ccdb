//! The scalar type of the GPU kernels and its host codec: the one place that knows how a `real` of WGSL is
//! laid out in bytes (f32, or f64 where the adapter has SHADER_F64).

use crate::solver::sparse::Entry;

/// The scalar type of the GPU kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Real {
    F32,
    /// Needs SHADER_F64.
    F64,
}

impl Real {
    pub fn bytes(self) -> u64 {
        match self {
            Real::F32 => 4,
            Real::F64 => 8,
        }
    }

    /// The bytes of `values` as this type, in one allocation (a matrix's values are the largest upload).
    pub(crate) fn encode<V: Entry>(self, values: &[V]) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(values.len() * self.bytes() as usize);
        for &v in values {
            match self {
                Real::F32 => bytes.extend_from_slice(&(v.into() as f32).to_ne_bytes()),
                Real::F64 => bytes.extend_from_slice(&v.into().to_ne_bytes()),
            }
        }
        bytes
    }

    pub(crate) fn decode(self, bytes: &[u8]) -> Vec<f64> {
        match self {
            Real::F32 => bytemuck::pod_collect_to_vec::<u8, f32>(bytes).into_iter().map(f64::from).collect(),
            Real::F64 => bytemuck::pod_collect_to_vec::<u8, f64>(bytes),
        }
    }

    /// `value` rounded to this precision, as the GPU sees it.
    pub(crate) fn round(self, value: f64) -> f64 {
        match self {
            Real::F32 => value as f32 as f64,
            Real::F64 => value,
        }
    }

    /// The WGSL type the `real` alias of the kernels stands for.
    pub(crate) fn wgsl_name(self) -> &'static str {
        match self {
            Real::F32 => "f32",
            Real::F64 => "f64",
        }
    }
}
