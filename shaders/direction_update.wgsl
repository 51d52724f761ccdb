// p = z + beta p with z = B r stored by the preconditioner (AMG).
@group(0) @binding(0) var<uniform> params: KernelParams;
@group(0) @binding(1) var<storage, read> scalars: CgScalars;
@group(0) @binding(2) var<storage, read> z: array<real>;
@group(0) @binding(3) var<storage, read_write> p: array<real>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(num_workgroups) workgroup_count: vec3<u32>,
    @builtin(local_invocation_index) local_index: u32,
) {
    let i = linear_group(workgroup, workgroup_count) * WORKGROUP_SIZE + local_index;
    if i >= params.len {
        return;
    }
    var next = z[i];
    // beta = 0 starts a fresh search direction; skipping the read also ignores stale contents.
    if scalars.beta != real(0.0) {
        next += scalars.beta * p[i];
    }
    p[i] = next;
}
