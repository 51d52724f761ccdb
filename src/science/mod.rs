//! Science on a solved field (issue 5): point location in the mesh, the lateral current through a
//! cylinder around a hot spot, the re-lithiation time of a depleted region (paper 001, Eqs. 17-23),
//! and plots. Everything here works on a [`crate::mesh::Mesh`] and plain slices (nodal potential,
//! per-tet current density), so it does not depend on how the field was solved.

pub mod cylinder;
pub mod lithiation;
pub mod locate;
pub mod plot;

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so an
/// interrupted run never leaves a half file that looks whole.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.partial", std::process::id()));
    let temporary = std::path::PathBuf::from(temporary);
    let written = std::fs::File::create(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&temporary, path)) {
        Ok(()) => Ok(()),
        Err(error) => {
            // Best effort: the error that matters is the one returned.
            let _ = std::fs::remove_file(&temporary);
            Err(error)
        }
    }
}
