// Restriction of the residual: b_coarse[c] = sum over the members i of aggregate c of (b[i] - ax[i]), with
// ax = A x from the SpMV before it; one invocation per aggregate (params.len aggregates), members in row order.
// CPU twin: `restrict` in src/solver/amg/mod.rs.
@group(0) @binding(0) var<uniform> params: KernelParams;
@group(0) @binding(1) var<storage, read> member_offsets: array<u32>;
@group(0) @binding(2) var<storage, read> members: array<u32>;
@group(0) @binding(3) var<storage, read> b: array<real>;
@group(0) @binding(4) var<storage, read> ax: array<real>;
@group(0) @binding(5) var<storage, read_write> b_coarse: array<real>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(num_workgroups) workgroup_count: vec3<u32>,
    @builtin(local_invocation_index) local_index: u32,
) {
    let c = linear_group(workgroup, workgroup_count) * WORKGROUP_SIZE + local_index;
    if c >= params.len {
        return;
    }
    var sum = real(0.0);
    for (var k = member_offsets[c]; k < member_offsets[c + 1u]; k++) {
        let i = members[k];
        sum += b[i] - ax[i];
    }
    b_coarse[c] = sum;
}
