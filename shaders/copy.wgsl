// dst = src: the bandwidth yardstick the benchmarks compare SpMV and CG iterations against.
@group(0) @binding(0) var<uniform> params: KernelParams;
@group(0) @binding(1) var<storage, read> src: array<real>;
@group(0) @binding(2) var<storage, read_write> dst: array<real>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(num_workgroups) workgroup_count: vec3<u32>,
    @builtin(local_invocation_index) local_index: u32,
) {
    let i = linear_group(workgroup, workgroup_count) * WORKGROUP_SIZE + local_index;
    if i < params.len {
        dst[i] = src[i];
    }
}
