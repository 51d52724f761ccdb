// Per-dispatch sizes. Keep in sync with `KernelParams` in src/gpu/layout.rs.
struct KernelParams {
    // Rows (or vector entries) this dispatch covers.
    len: u32,
    // First row of this dispatch in the whole vector (SpMV row chunks start past 0).
    row_begin: u32,
    // Number of per-workgroup partial sums the first reduction stage writes.
    partial_count: u32,
    pad: u32,
}
