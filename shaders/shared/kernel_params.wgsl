// Per-dispatch sizes. Keep in sync with `KernelParams` in src/gpu/layout.rs.
struct KernelParams {
    // Rows (or vector entries) this dispatch covers; its bindings start at its first row (or entry).
    len: u32,
    // Where this vector chunk's partial sums start in the partials array shared by all chunks.
    first_partial: u32,
    // Number of partial sums this dispatch writes (the final stage: reads, over all chunks).
    partial_count: u32,
    // Entries per x binding of the SpMV (every x chunk but the last holds exactly this many); 0 when all of x
    // fits in the first binding.
    x_chunk_len: u32,
}
