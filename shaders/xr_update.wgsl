// The CG step with a preconditioner applied separately (AMG): x += alpha p; r -= alpha q.
@group(0) @binding(0) var<uniform> params: KernelParams;
@group(0) @binding(1) var<storage, read> scalars: CgScalars;
@group(0) @binding(2) var<storage, read> p: array<real>;
@group(0) @binding(3) var<storage, read> q: array<real>;
@group(0) @binding(4) var<storage, read_write> x: array<real>;
@group(0) @binding(5) var<storage, read_write> r: array<real>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(num_workgroups) workgroup_count: vec3<u32>,
    @builtin(local_invocation_index) local_index: u32,
) {
    let i = linear_group(workgroup, workgroup_count) * WORKGROUP_SIZE + local_index;
    if i < params.len {
        let alpha = scalars.alpha;
        x[i] += alpha * p[i];
        r[i] -= alpha * q[i];
    }
}
