// Dispatches beyond the per-dimension workgroup limit are folded into a 2D grid
// (src/gpu/kernels.rs, `fold_dispatch`); this undoes the fold.
fn linear_group(workgroup: vec3<u32>, workgroup_count: vec3<u32>) -> u32 {
    return workgroup.x + workgroup.y * workgroup_count.x;
}

var<workgroup> reduction_scratch: array<vec2<real>, WORKGROUP_SIZE>;

// Tree sum over the workgroup; the result is valid in invocation 0. Every invocation must call it
// (it contains barriers), so callers keep it out of non-uniform branches.
fn workgroup_sum(local_index: u32, value: vec2<real>) -> vec2<real> {
    reduction_scratch[local_index] = value;
    for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride /= 2u) {
        workgroupBarrier();
        if local_index < stride {
            reduction_scratch[local_index] += reduction_scratch[local_index + stride];
        }
    }
    return reduction_scratch[0];
}
