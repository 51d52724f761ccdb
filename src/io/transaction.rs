//! Outputs as one transaction: a run writes everything into a staging folder inside `--out` and moves it into
//! place only when every file succeeded, so a folder never holds a partial set or a mix of two runs. On an error
//! the staging folder is removed (by `Drop`); on SIGINT/SIGTERM the handler the CLI installs calls
//! [`abandon_all`], which removes every staging folder and temporary file in flight, unless a commit is under way,
//! which then finishes first (it is only renames) and exits after.

use super::OutputError;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Staging folders and `.tmp` files being written now, and output folders a run created (removed only while
/// empty): what an interrupted run must remove, in reverse order of creation.
static IN_FLIGHT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// Held by a commit while it moves files into place, and by an interrupt while it removes what is in flight: the
/// two never interleave.
static COMMIT: Mutex<()> = Mutex::new(());
/// An interrupt arrived during a commit: exit when it ends.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The exit status of a run stopped by a signal (128 + SIGINT).
pub const INTERRUPTED_EXIT: i32 = 130;

/// The staging folder's name inside `--out` (hidden; one per process).
fn staging_name() -> String {
    format!(".ionflux-staging-{}", std::process::id())
}

/// Creates the temporary file `tmp` (and its folder) and tracks it, under the commit lock: once an interrupt has
/// removed what was in flight, no new file appears (the lock is then held until the process exits).
pub(super) fn create_tracked(tmp: &Path) -> std::io::Result<std::fs::File> {
    let _guard = COMMIT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(parent) = tmp.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let file = std::fs::File::create(tmp)?;
    track(tmp);
    Ok(file)
}

pub(super) fn track(path: &Path) {
    IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner()).push(path.to_path_buf());
}

pub(super) fn untrack(path: &Path) {
    IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| p != path);
}

/// Removes a staging folder or temporary file; an output folder (not a staging one) only when empty.
fn remove(path: &Path) {
    let staging = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(".ionflux-staging-"));
    let _ = match (path.is_dir(), staging) {
        (true, true) => std::fs::remove_dir_all(path),
        (true, false) => std::fs::remove_dir(path),
        (false, _) => std::fs::remove_file(path),
    };
}

/// Called from the signal handler: removes whatever is in flight and returns true when the process should exit
/// now; false when a commit is running (it exits with [`INTERRUPTED_EXIT`] once its renames are done).
pub fn abandon_all() -> bool {
    let guard = match COMMIT.try_lock() {
        Ok(guard) => guard,
        Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => {
            INTERRUPTED.store(true, Ordering::SeqCst);
            return false;
        }
    };
    // Set first: an error the removal causes in the run is then reported as the interruption.
    INTERRUPTED.store(true, Ordering::SeqCst);
    let paths = std::mem::take(&mut *IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner()));
    paths.iter().rev().for_each(|p| remove(p));
    // Held until the caller exits: no commit starts after the removal.
    std::mem::forget(guard);
    true
}

/// When a signal interrupted the run, its errors are the interruption's (files removed under it): wait for the
/// handler to finish removing (it holds the commit lock until it exits the process) and exit as interrupted.
pub fn exit_if_interrupted() {
    if INTERRUPTED.load(Ordering::SeqCst) {
        let _wait = COMMIT.lock();
        std::process::exit(INTERRUPTED_EXIT);
    }
}

/// Which files in `--out` belong to a kind of run (and are replaced or removed by its commit).
pub type Managed = fn(&str) -> bool;

/// A staging folder in an output folder.
pub struct OutputTransaction {
    out: PathBuf,
    /// The run made `out` (it did not exist): a failed run removes it again.
    created_out: bool,
    staging: PathBuf,
    managed: Managed,
    committed: bool,
}

impl OutputTransaction {
    /// Creates `out` (if needed) and the staging folder in it: an unwritable `out` fails here, before any work.
    pub fn begin(out: &Path, managed: Managed) -> Result<OutputTransaction, OutputError> {
        let staging = out.join(staging_name());
        let fail = |source| OutputError { path: out.to_path_buf(), source };
        let _guard = COMMIT.lock().unwrap_or_else(|e| e.into_inner());
        let created_out = !out.exists();
        std::fs::create_dir_all(out).map_err(fail)?;
        if created_out {
            track(out);
        }
        if staging.exists() {
            remove(&staging);
        }
        if let Err(error) = std::fs::create_dir(&staging) {
            if created_out {
                remove(out);
                untrack(out);
            }
            return Err(fail(error));
        }
        track(&staging);
        Ok(OutputTransaction { out: out.to_path_buf(), created_out, staging, managed, committed: false })
    }

    /// Where this run writes its files.
    pub fn dir(&self) -> &Path {
        &self.staging
    }

    /// The final path of a file written at `staged` in the staging folder.
    pub fn final_path(&self, staged: &Path) -> PathBuf {
        staged.strip_prefix(&self.staging).map_or_else(|_| staged.to_path_buf(), |rel| self.out.join(rel))
    }

    /// Moves every staged entry into `out`, replacing entries of the same name, and removes the managed entries
    /// this run did not write. Returns the final paths of the staged entries.
    pub fn commit(mut self) -> Result<Vec<PathBuf>, OutputError> {
        fn fail(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
            move |source| OutputError { path: path.to_path_buf(), source }
        }
        let mut staged: Vec<PathBuf> = std::fs::read_dir(&self.staging)
            .and_then(|entries| entries.map(|e| e.map(|e| e.path())).collect())
            .map_err(fail(&self.staging))?;
        staged.sort();
        let stale: Vec<PathBuf> = std::fs::read_dir(&self.out)
            .map_err(fail(&self.out))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                (self.managed)(name) && !staged.iter().any(|s| s.file_name() == p.file_name())
            })
            .collect();
        let guard = COMMIT.lock().unwrap_or_else(|e| e.into_inner());
        let result = (|| {
            for path in &stale {
                remove(path);
            }
            let mut moved = Vec::new();
            for path in &staged {
                let target = self.final_path(path);
                if target.is_dir() {
                    remove(&target);
                }
                std::fs::rename(path, &target).map_err(fail(&target))?;
                moved.push(target);
            }
            Ok(moved)
        })();
        remove(&self.staging);
        untrack(&self.staging);
        untrack(&self.out);
        self.committed = true;
        drop(guard);
        if INTERRUPTED.load(Ordering::SeqCst) {
            std::process::exit(INTERRUPTED_EXIT);
        }
        result
    }
}

impl Drop for OutputTransaction {
    fn drop(&mut self) {
        if !self.committed {
            remove(&self.staging);
            untrack(&self.staging);
            if self.created_out {
                remove(&self.out);
                untrack(&self.out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solve_files(name: &str) -> bool {
        name == "summary.json" || name == "solution.vtu" || name.starts_with("profile_")
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_commit_replaces_the_managed_set_and_keeps_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        for name in ["solution.vtu", "summary.json", "profile_a.csv", "notes.txt"] {
            std::fs::write(out.join(name), "old").unwrap();
        }
        let run = OutputTransaction::begin(&out, solve_files).unwrap();
        std::fs::write(run.dir().join("summary.json"), "new").unwrap();
        // Before the commit the old set is untouched.
        assert_eq!(std::fs::read_to_string(out.join("summary.json")).unwrap(), "old");
        let moved = run.commit().unwrap();
        assert_eq!(moved, [out.join("summary.json")]);
        // The old solution.vtu and profile are not this run's: they are gone; the user's file stays.
        assert_eq!(names(&out), ["notes.txt", "summary.json"]);
        assert_eq!(std::fs::read_to_string(out.join("summary.json")).unwrap(), "new");
    }

    #[test]
    fn a_dropped_transaction_leaves_the_previous_contents() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("summary.json"), "old").unwrap();
        {
            let run = OutputTransaction::begin(dir.path(), solve_files).unwrap();
            std::fs::write(run.dir().join("summary.json"), "new").unwrap();
            std::fs::write(run.dir().join("solution.vtu"), "new").unwrap();
        }
        assert_eq!(names(dir.path()), ["summary.json"]);
        assert_eq!(std::fs::read_to_string(dir.path().join("summary.json")).unwrap(), "old");
        // An output folder the failed run created is removed again.
        let fresh = dir.path().join("fresh");
        drop(OutputTransaction::begin(&fresh, solve_files).unwrap());
        assert!(!fresh.exists());
    }

    #[test]
    fn an_output_path_that_is_a_file_fails_at_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("taken");
        std::fs::write(&file, "x").unwrap();
        let error = OutputTransaction::begin(&file, solve_files).err().expect("refused");
        assert!(error.to_string().contains("taken"), "{error}");
    }
}
