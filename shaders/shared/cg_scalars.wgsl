// The CG scalars live on the GPU so the loop never waits for the host.
// Keep in sync with `CgScalars` in src/gpu/layout.rs (8 reals, then 4 u32: no implicit padding for f32 or f64).
struct CgScalars {
    // Output of the last two-stage reduction: (p.q) or (r.z, r.r).
    reduced: vec2<real>,
    rz: real,
    alpha: real,
    beta: real,
    rr: real,
    // Stop once r.r falls to this value.
    target_rr: real,
    pad: real,
    iteration: u32,
    max_iterations: u32,
    // 1 while iterating; the scalar kernels set 0 on convergence, breakdown or max_iterations,
    // which turns every later recorded iteration into a no-op (alpha = beta = 0).
    running: u32,
    // 1 when p.q <= 0: the matrix is not positive definite (or f32 round-off broke down).
    breakdown: u32,
}
