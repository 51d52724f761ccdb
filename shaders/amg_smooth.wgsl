// One damped l1-Jacobi sweep after the SpMV ax = A x: x += d (b - ax), d = w / l1 row norm.
// CPU twin: `smooth` in src/solver/amg/mod.rs.
@group(0) @binding(0) var<uniform> params: KernelParams;
@group(0) @binding(1) var<storage, read> scaling: array<real>;
@group(0) @binding(2) var<storage, read> b: array<real>;
@group(0) @binding(3) var<storage, read> ax: array<real>;
@group(0) @binding(4) var<storage, read_write> x: array<real>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(num_workgroups) workgroup_count: vec3<u32>,
    @builtin(local_invocation_index) local_index: u32,
) {
    let i = linear_group(workgroup, workgroup_count) * WORKGROUP_SIZE + local_index;
    if i < params.len {
        x[i] += scaling[i] * (b[i] - ax[i]);
    }
}
