// The W-cycle's second visit of a level solves for what the first left: b[i] -= t[i], with t = A x from the first.
// CPU twin: the residual in `Hierarchy::visit` (src/solver/amg/mod.rs).
@group(0) @binding(0) var<uniform> params: KernelParams;
@group(0) @binding(1) var<storage, read> t: array<real>;
@group(0) @binding(2) var<storage, read_write> b: array<real>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(num_workgroups) workgroup_count: vec3<u32>,
    @builtin(local_invocation_index) local_index: u32,
) {
    let i = linear_group(workgroup, workgroup_count) * WORKGROUP_SIZE + local_index;
    if i < params.len {
        b[i] -= t[i];
    }
}
