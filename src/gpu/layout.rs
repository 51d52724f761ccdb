//! Rust twins of the structs in `shaders/shared/`: same field order and sizes, checked by the tests below.

use super::real::Real;
use bytemuck::{Pod, Zeroable};

/// Twin of `KernelParams` in shaders/shared/kernel_params.wgsl. Keep in sync.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Pod, Zeroable)]
pub(crate) struct KernelParams {
    pub len: u32,
    pub first_partial: u32,
    pub partial_count: u32,
    /// 0: all of x is in the first binding.
    pub x_chunk_len: u32,
}

/// Twin of `CgScalars` in shaders/shared/cg_scalars.wgsl. Keep in sync. The host keeps it in f64; on the GPU
/// its reals are `real` (f32 or f64), encoded by [`CgScalars::encode`]: eight reals then four u32, which
/// leaves no padding for either width (48 or 80 bytes; the size test compares naga's layout).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct CgScalars {
    pub reduced: [f64; 2],
    pub rz: f64,
    pub alpha: f64,
    pub beta: f64,
    pub rr: f64,
    pub target_rr: f64,
    pub pad: f64,
    pub iteration: u32,
    pub max_iterations: u32,
    pub running: u32,
    pub breakdown: u32,
}

impl CgScalars {
    /// Bytes of the struct for `real` kernels.
    pub fn size(real: Real) -> u64 {
        8 * real.bytes() + 16
    }

    pub fn encode(&self, real: Real) -> Vec<u8> {
        let reals =
            [self.reduced[0], self.reduced[1], self.rz, self.alpha, self.beta, self.rr, self.target_rr, self.pad];
        let mut bytes = real.encode(&reals);
        for word in [self.iteration, self.max_iterations, self.running, self.breakdown] {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        bytes
    }

    pub fn decode(real: Real, bytes: &[u8]) -> CgScalars {
        let split = 8 * real.bytes() as usize;
        let r = real.decode(&bytes[..split]);
        let word = |i: usize| u32::from_le_bytes(bytes[split + 4 * i..split + 4 * i + 4].try_into().expect("4 bytes"));
        CgScalars {
            reduced: [r[0], r[1]],
            rz: r[2],
            alpha: r[3],
            beta: r[4],
            rr: r[5],
            target_rr: r[6],
            pad: r[7],
            iteration: word(0),
            max_iterations: word(1),
            running: word(2),
            breakdown: word(3),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twins_match_the_wgsl_sizes() {
        // WGSL: 4 x u32 = 16; CgScalars: vec2<real> + 6 real + 4 u32, rounded to the vec2 alignment.
        assert_eq!(std::mem::size_of::<KernelParams>(), 16);
        assert_eq!(CgScalars::size(Real::F32), 48);
        assert_eq!(CgScalars::size(Real::F64), 80);
    }

    #[test]
    fn scalars_round_trip_through_both_widths() {
        let scalars = CgScalars {
            reduced: [1.5, -2.25],
            rz: 3.0,
            alpha: 0.5,
            beta: 0.25,
            rr: 9.0,
            target_rr: 0.125,
            pad: 0.0,
            iteration: 7,
            max_iterations: 100,
            running: 1,
            breakdown: 0,
        };
        for real in [Real::F32, Real::F64] {
            let bytes = scalars.encode(real);
            assert_eq!(bytes.len() as u64, CgScalars::size(real));
            assert_eq!(CgScalars::decode(real, &bytes), scalars, "{real:?}");
        }
    }
}
