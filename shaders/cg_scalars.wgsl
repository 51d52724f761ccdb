// The scalar steps of PCG, run by a single invocation so alpha and beta never leave the GPU.
@group(0) @binding(0) var<storage, read_write> scalars: CgScalars;
// history[k] = r.r after iteration k (history[0] is written by the host).
@group(0) @binding(1) var<storage, read_write> history: array<real>;

// alpha = (r.z) / (p.q), with p.q in scalars.reduced.x.
@compute @workgroup_size(1)
fn compute_alpha() {
    let pq = scalars.reduced.x;
    if scalars.running == 0u {
        scalars.alpha = real(0.0);
        return;
    }
    if !(pq > real(0.0)) {
        scalars.breakdown = 1u;
        scalars.running = 0u;
        scalars.alpha = real(0.0);
        return;
    }
    scalars.alpha = scalars.rz / pq;
}

// beta = (r.z)_new / (r.z)_old, with ((r.z)_new, r.r) in scalars.reduced; records r.r and stops
// the loop on convergence or at max_iterations.
@compute @workgroup_size(1)
fn compute_beta() {
    if scalars.running == 0u {
        scalars.beta = real(0.0);
        return;
    }
    let rz_new = scalars.reduced.x;
    let rr = scalars.reduced.y;
    scalars.iteration += 1u;
    scalars.rr = rr;
    history[scalars.iteration] = rr;
    if rr <= scalars.target_rr || scalars.iteration >= scalars.max_iterations {
        scalars.running = 0u;
        scalars.beta = real(0.0);
        return;
    }
    scalars.beta = rz_new / scalars.rz;
    scalars.rz = rz_new;
}
