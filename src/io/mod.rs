//! Output files: VTU for ParaView, `summary.json`, CSV. Every file is written atomically (a temp
//! file in the same folder, then a rename), so an interrupted run never leaves a half file that
//! looks whole.

pub mod matrix_market;
pub mod msh;
pub mod petsc_binary;
pub mod plot;
pub mod summary;
pub mod transaction;
pub mod vtu;

/// The file format of an exported linear system (`ionflux solve --export-system DIR --format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SystemFormat {
    /// Matrix Market text (`matrix_market`): scipy, Julia, any solver.
    #[default]
    MatrixMarket,
    /// PETSc's binary format (`petsc_binary`), with the index width of the PETSc that will load it.
    Petsc(petsc_binary::IndexWidth),
}

impl SystemFormat {
    /// The extension of the matrix and vector files.
    pub fn extension(self) -> &'static str {
        match self {
            SystemFormat::MatrixMarket => "mtx",
            SystemFormat::Petsc(_) => "petsc",
        }
    }
}

use crate::analysis::cylinder::ProfilePoint;
use std::io::Write;
use std::path::{Path, PathBuf};

/// An output file could not be written; names the file.
#[derive(Debug, thiserror::Error)]
#[error("could not write {}: {source}", path.display())]
pub struct OutputError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Write `bytes` to `path` atomically: into `path` + ".tmp" beside it, flushed to disk, then renamed
/// over `path`. Creates the parent folder if needed. On error the temp file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    write_atomic_with(path, |out| out.write_all(bytes))
}

/// [`write_atomic`] for content written piece by piece: `write` streams into a buffered temporary file.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<(), OutputError> {
    let fail = |source| OutputError { path: path.to_path_buf(), source };
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let file = transaction::create_tracked(&tmp).map_err(fail)?;
    let result = (|| {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        write(&mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    transaction::untrack(&tmp);
    result.map_err(fail)
}

/// A number with four significant digits in plain notation ("768.4", "1.500", "0.001000"), for values that a
/// unit already brought near 1 (terminal lengths, plot ticks).
pub fn four_digits(value: f64) -> String {
    let decimals = (3 - value.abs().max(1e-300).log10().floor() as i32).clamp(0, 6) as usize;
    format!("{value:.decimals$}")
}

/// Longest label a name gives a file name (the rest of a longer name is cut).
const MAX_LABEL_CHARS: usize = 64;

/// The labels that user names (hot spots, groups, surfaces) give to file names such as `profile_<label>.csv`.
/// A name is data, never a path: each character other than an ASCII letter, digit, `-`, `_` or `.` becomes `_`,
/// a leading `.` too, and the label is cut at 64 characters; names whose labels coincide get `-2`, `-3`, ... in
/// order. So every label is one plain component, and distinct names give distinct files.
pub fn file_labels<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut taken = std::collections::HashSet::new();
    names
        .into_iter()
        .map(|name| {
            let mut label: String =
                name.chars()
                    .take(MAX_LABEL_CHARS)
                    .enumerate()
                    .map(|(i, c)| {
                        if (c.is_ascii_alphanumeric() || "-_.".contains(c)) && !(i == 0 && c == '.') {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
            if label.is_empty() {
                label.push('_');
            }
            let base = label.clone();
            let mut k = 1;
            while !taken.insert(label.clone()) {
                k += 1;
                label = format!("{base}-{k}");
            }
            label
        })
        .collect()
}

/// A cylinder's J_r(z) profile as CSV (`z_m,jr_A_per_m2`), written atomically.
pub fn write_profile_csv(path: &Path, profile: &[ProfilePoint]) -> Result<(), OutputError> {
    let mut text = String::from("z_m,jr_A_per_m2\n");
    for p in profile {
        text.push_str(&format!("{:e},{:e}\n", p.z_m, p.jr_A_per_m2));
    }
    write_atomic(path, text.as_bytes())
}

/// Serialize `value` as pretty JSON and write it atomically.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), OutputError> {
    let mut text = serde_json::to_string_pretty(value).expect("summary types serialize infallibly");
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.txt");
        write_atomic(&path, b"first version, long").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> =
            std::fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.txt")]);
    }

    #[test]
    fn names_become_plain_distinct_file_labels() {
        let labels = file_labels(["hs", "x/../../../../victim", "..", "a b", "a_b", "", "ü\n\"q"]);
        assert_eq!(labels, ["hs", "x_.._.._.._.._victim", "_.", "a_b", "a_b-2", "_", "___q"]);
        let long = "n".repeat(1000);
        assert_eq!(file_labels([long.as_str()])[0].len(), MAX_LABEL_CHARS);
    }

    #[test]
    fn atomic_write_reports_the_path_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        // A file where a folder is needed makes the write fail.
        std::fs::write(dir.path().join("blocker"), b"x").unwrap();
        let path = dir.path().join("blocker/out.txt");
        let err = write_atomic(&path, b"data").unwrap_err();
        assert!(err.to_string().contains("blocker/out.txt"), "{err}");
    }
}
