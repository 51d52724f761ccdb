// The coarsest level's direct solve as one product with the dense inverse (row-major, params.len squared
// entries, computed once in the setup from the Cholesky factor): x = A_c^-1 b, one invocation per row.
// CPU twin: `Cholesky::solve` in src/solver/amg/dense.rs.
@group(0) @binding(0) var<uniform> params: KernelParams;
@group(0) @binding(1) var<storage, read> inverse: array<real>;
@group(0) @binding(2) var<storage, read> b: array<real>;
@group(0) @binding(3) var<storage, read_write> x: array<real>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(num_workgroups) workgroup_count: vec3<u32>,
    @builtin(local_invocation_index) local_index: u32,
) {
    let i = linear_group(workgroup, workgroup_count) * WORKGROUP_SIZE + local_index;
    let n = params.len;
    if i >= n {
        return;
    }
    var sum = real(0.0);
    for (var j = 0u; j < n; j++) {
        sum += inverse[i * n + j] * b[j];
    }
    x[i] = sum;
}
