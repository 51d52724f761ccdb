// y = A x over one row chunk of a CSR matrix (one invocation per row). Chunks keep every binding under
// max_storage_buffer_binding_size; row_ptr is rebased to the chunk's own cols/values.
@group(0) @binding(0) var<uniform> params: KernelParams;
@group(0) @binding(1) var<storage, read> row_ptr: array<u32>;
@group(0) @binding(2) var<storage, read> cols: array<u32>;
@group(0) @binding(3) var<storage, read> values: array<real>;
@group(0) @binding(4) var<storage, read> x: array<real>;
@group(0) @binding(5) var<storage, read_write> y: array<real>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(num_workgroups) workgroup_count: vec3<u32>,
    @builtin(local_invocation_index) local_index: u32,
) {
    let row = linear_group(workgroup, workgroup_count) * WORKGROUP_SIZE + local_index;
    if row >= params.len {
        return;
    }
    var sum = real(0.0);
    for (var k = row_ptr[row]; k < row_ptr[row + 1u]; k++) {
        sum += values[k] * x[cols[k]];
    }
    y[params.row_begin + row] = sum;
}
