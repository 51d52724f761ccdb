//! Each CG kernel alone on host vectors: what the tests compare with the kernels' CPU twins on seeded data.

use super::GpuSystem;
use crate::gpu::layout::CgScalars;
use crate::gpu::GpuError;

impl GpuSystem {
    /// y = A x (the SpMV kernel alone).
    pub fn spmv(&self, x: &[f64]) -> Result<Vec<f64>, GpuError> {
        self.upload(&self.p, x);
        self.ctx.run(|pass| self.record_spmv(pass), 1)?;
        self.download(&self.q)
    }

    /// a . b (the two-stage reduction alone).
    pub fn dot(&self, a: &[f64], b: &[f64]) -> Result<f64, GpuError> {
        self.upload(&self.p, a);
        self.upload(&self.q, b);
        self.ctx.run(|pass| self.record_dot(pass), 1)?;
        Ok(self.read_scalars()?.reduced[0])
    }

    /// The fused update alone: returns (x + alpha p, r - alpha q, r'.D^-1 r', r'.r') with r' the new r.
    pub fn cg_update(
        &self,
        alpha: f64,
        x: &[f64],
        r: &[f64],
        p: &[f64],
        q: &[f64],
    ) -> Result<(Vec<f64>, Vec<f64>, f64, f64), GpuError> {
        for (buffer, values) in [(&self.x, x), (&self.r, r), (&self.p, p), (&self.q, q)] {
            self.upload(buffer, values);
        }
        self.write_scalars(CgScalars { alpha, ..Default::default() });
        self.ctx.run(|pass| self.record_cg_update(pass), 1)?;
        let reduced = self.read_scalars()?.reduced;
        Ok((self.download(&self.x)?, self.download(&self.r)?, reduced[0], reduced[1]))
    }

    /// The search-direction update alone: D^-1 r + beta p.
    pub fn p_update(&self, beta: f64, r: &[f64], p: &[f64]) -> Result<Vec<f64>, GpuError> {
        self.upload(&self.r, r);
        self.upload(&self.p, p);
        self.write_scalars(CgScalars { beta, ..Default::default() });
        self.ctx.run(|pass| self.record_p_update(pass), 1)?;
        self.download(&self.p)
    }

    /// z = B r by the GPU's cycle alone (a system built with a hierarchy).
    pub fn amg_cycle(&self, r: &[f64]) -> Result<Vec<f64>, GpuError> {
        let amg = self.amg.as_ref().ok_or_else(|| GpuError::Backend("the system has no hierarchy".into()))?;
        self.upload(&self.r, r);
        self.ctx.run(|pass| amg.cycle.record_cycle(&self.ctx, self.kernels(), pass, 0), 1)?;
        self.download(&amg.z)
    }
}
