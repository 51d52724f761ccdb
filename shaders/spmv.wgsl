// y = A x over one row chunk of a CSR matrix (one invocation per row). Chunks keep every binding under
// max_storage_buffer_binding_size; row_ptr is rebased to the chunk's own cols/values, y is bound from the
// chunk's first row, and x, which is gathered at any column, is bound as up to four consecutive chunks.
@group(0) @binding(0) var<uniform> params: KernelParams;
@group(0) @binding(1) var<storage, read> row_ptr: array<u32>;
@group(0) @binding(2) var<storage, read> cols: array<u32>;
@group(0) @binding(3) var<storage, read> values: array<real>;
// Keep the count in sync with MAX_X_BINDINGS in src/gpu/chunks.rs; unused ones repeat x0.
@group(0) @binding(4) var<storage, read> x0: array<real>;
@group(0) @binding(5) var<storage, read> x1: array<real>;
@group(0) @binding(6) var<storage, read> x2: array<real>;
@group(0) @binding(7) var<storage, read> x3: array<real>;
@group(0) @binding(8) var<storage, read_write> y: array<real>;

fn gather_x(column: u32) -> real {
    let chunk = column / params.x_chunk_len;
    let local = column - chunk * params.x_chunk_len;
    switch chunk {
        case 0u: { return x0[local]; }
        case 1u: { return x1[local]; }
        case 2u: { return x2[local]; }
        default: { return x3[local]; }
    }
}

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
    let end = row_ptr[row + 1u];
    var sum = real(0.0);
    // The branch is uniform, and taken once per row: with one x binding (the usual case) the products skip
    // the chunk selection, which costs 30 % on lavapipe (tested per product, it still costs 25 %).
    if params.x_chunk_len == 0u {
        // Two running sums: a single one chains every addition on the adder's latency (25 % slower there).
        var other = real(0.0);
        var k = row_ptr[row];
        for (; k + 1u < end; k += 2u) {
            sum += values[k] * x0[cols[k]];
            other += values[k + 1u] * x0[cols[k + 1u]];
        }
        if k < end {
            sum += values[k] * x0[cols[k]];
        }
        sum += other;
    } else {
        for (var k = row_ptr[row]; k < end; k++) {
            sum += values[k] * gather_x(cols[k]);
        }
    }
    y[row] = sum;
}
