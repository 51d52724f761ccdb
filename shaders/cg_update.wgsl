// Fused CG update: x += alpha p; r -= alpha q; z = D^-1 r (not stored), and the partial sums of
// (r.z, r.r) for the next beta and the convergence test, all in one pass over one chunk of the vectors.
@group(0) @binding(0) var<uniform> params: KernelParams;
@group(0) @binding(1) var<storage, read> scalars: CgScalars;
@group(0) @binding(2) var<storage, read> p: array<real>;
@group(0) @binding(3) var<storage, read> q: array<real>;
@group(0) @binding(4) var<storage, read> inv_diag: array<real>;
@group(0) @binding(5) var<storage, read_write> x: array<real>;
@group(0) @binding(6) var<storage, read_write> r: array<real>;
@group(0) @binding(7) var<storage, read_write> partials: array<vec2<real>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(num_workgroups) workgroup_count: vec3<u32>,
    @builtin(local_invocation_index) local_index: u32,
) {
    let group = linear_group(workgroup, workgroup_count);
    let alpha = scalars.alpha;
    var contribution = vec2<real>(real(0.0), real(0.0));
    // REDUCE_ITEMS blocks of WORKGROUP_SIZE consecutive entries, so neighbouring invocations read neighbours.
    for (var item = 0u; item < REDUCE_ITEMS; item++) {
        let i = (group * REDUCE_ITEMS + item) * WORKGROUP_SIZE + local_index;
        if i < params.len {
            x[i] += alpha * p[i];
            let r_new = r[i] - alpha * q[i];
            r[i] = r_new;
            contribution += vec2<real>(r_new * inv_diag[i] * r_new, r_new * r_new);
        }
    }
    let total = workgroup_sum(local_index, contribution);
    if local_index == 0u && group < params.partial_count {
        partials[params.first_partial + group] = total;
    }
}
