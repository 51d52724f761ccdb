//! Rust twins of the structs in `shaders/shared/`: same field order and sizes, checked by the tests below.

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

/// The scalar type the WGSL `real` alias stands for.
pub(crate) trait GpuReal: Pod + Copy + Default {
    fn from_f64(value: f64) -> Self;
    fn to_f64(self) -> f64;
}

impl GpuReal for f32 {
    fn from_f64(value: f64) -> Self {
        value as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl GpuReal for f64 {
    fn from_f64(value: f64) -> Self {
        value
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// Twin of `CgScalars` in shaders/shared/cg_scalars.wgsl, for `real` = R. Keep in sync.
/// Eight R then four u32: no padding for f32 (48 bytes) or f64 (80 bytes, WGSL align 16 of vec2<f64>).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct CgScalars<R> {
    pub reduced: [R; 2],
    pub rz: R,
    pub alpha: R,
    pub beta: R,
    pub rr: R,
    pub target_rr: R,
    pub pad: R,
    pub iteration: u32,
    pub max_iterations: u32,
    pub running: u32,
    pub breakdown: u32,
}

// SAFETY: R is f32 or f64 (GpuReal is implemented only for those); eight R followed by four u32 leave no
// padding bytes for either (8*4+16 = 48, 8*8+16 = 80, both multiples of the alignment), and every bit
// pattern is valid.
unsafe impl<R: GpuReal> Zeroable for CgScalars<R> {}
unsafe impl<R: GpuReal> Pod for CgScalars<R> {}

impl<R: GpuReal> CgScalars<R> {
    /// The same scalars in f64, whatever precision the GPU used.
    pub fn to_f64(self) -> CgScalars<f64> {
        CgScalars {
            reduced: [self.reduced[0].to_f64(), self.reduced[1].to_f64()],
            rz: self.rz.to_f64(),
            alpha: self.alpha.to_f64(),
            beta: self.beta.to_f64(),
            rr: self.rr.to_f64(),
            target_rr: self.target_rr.to_f64(),
            pad: self.pad.to_f64(),
            iteration: self.iteration,
            max_iterations: self.max_iterations,
            running: self.running,
            breakdown: self.breakdown,
        }
    }

    pub fn from_f64(s: CgScalars<f64>) -> Self {
        CgScalars {
            reduced: [R::from_f64(s.reduced[0]), R::from_f64(s.reduced[1])],
            rz: R::from_f64(s.rz),
            alpha: R::from_f64(s.alpha),
            beta: R::from_f64(s.beta),
            rr: R::from_f64(s.rr),
            target_rr: R::from_f64(s.target_rr),
            pad: R::from_f64(s.pad),
            iteration: s.iteration,
            max_iterations: s.max_iterations,
            running: s.running,
            breakdown: s.breakdown,
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
        assert_eq!(std::mem::size_of::<CgScalars<f32>>(), 48);
        assert_eq!(std::mem::size_of::<CgScalars<f64>>(), 80);
        assert_eq!(std::mem::offset_of!(CgScalars<f64>, iteration), 64);
        assert_eq!(std::mem::offset_of!(CgScalars<f32>, iteration), 32);
    }
}
