// First reduction stage of (a . b, a . a) over one vector chunk: one partial sum per workgroup (no float atomics),
// stored after the partials of the chunks before it so the final stage sums them all.
@group(0) @binding(0) var<uniform> params: KernelParams;
@group(0) @binding(1) var<storage, read> a: array<real>;
@group(0) @binding(2) var<storage, read> b: array<real>;
@group(0) @binding(3) var<storage, read_write> partials: array<vec2<real>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(num_workgroups) workgroup_count: vec3<u32>,
    @builtin(local_invocation_index) local_index: u32,
) {
    let group = linear_group(workgroup, workgroup_count);
    var product = vec2<real>(real(0.0), real(0.0));
    // REDUCE_ITEMS blocks of WORKGROUP_SIZE consecutive entries, so neighbouring invocations read neighbours.
    for (var item = 0u; item < REDUCE_ITEMS; item++) {
        let i = (group * REDUCE_ITEMS + item) * WORKGROUP_SIZE + local_index;
        if i < params.len {
            product += a[i] * vec2<real>(b[i], a[i]);
        }
    }
    let total = workgroup_sum(local_index, product);
    if local_index == 0u && group < params.partial_count {
        partials[params.first_partial + group] = total;
    }
}
