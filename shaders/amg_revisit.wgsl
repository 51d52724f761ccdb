// The W-cycle's further visit of a level (CPU twin: `Hierarchy::visit` in src/solver/amg/mod.rs): `subtract` turns
// the level's right-hand side into what the first visit left (b -= t, with t = A x), `add` adds the first visit's
// correction, saved before the second overwrote x (x += saved).
@group(0) @binding(0) var<uniform> params: KernelParams;
@group(0) @binding(1) var<storage, read> term: array<real>;
@group(0) @binding(2) var<storage, read_write> updated: array<real>;

fn entry_index(workgroup: vec3<u32>, workgroup_count: vec3<u32>, local_index: u32) -> u32 {
    return linear_group(workgroup, workgroup_count) * WORKGROUP_SIZE + local_index;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn subtract(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(num_workgroups) workgroup_count: vec3<u32>,
    @builtin(local_invocation_index) local_index: u32,
) {
    let i = entry_index(workgroup, workgroup_count, local_index);
    if i < params.len {
        updated[i] -= term[i];
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn add(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(num_workgroups) workgroup_count: vec3<u32>,
    @builtin(local_invocation_index) local_index: u32,
) {
    let i = entry_index(workgroup, workgroup_count, local_index);
    if i < params.len {
        updated[i] += term[i];
    }
}
