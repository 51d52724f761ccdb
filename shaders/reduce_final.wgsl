// Second reduction stage: one workgroup sums the per-workgroup partials into scalars.reduced.
@group(0) @binding(0) var<uniform> params: KernelParams;
@group(0) @binding(1) var<storage, read> partials: array<vec2<real>>;
@group(0) @binding(2) var<storage, read_write> scalars: CgScalars;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(local_invocation_index) local_index: u32) {
    var sum = vec2<real>(real(0.0), real(0.0));
    for (var i = local_index; i < params.partial_count; i += WORKGROUP_SIZE) {
        sum += partials[i];
    }
    let total = workgroup_sum(local_index, sum);
    if local_index == 0u {
        scalars.reduced = total;
    }
}
