//! Outputs as one transaction: a run writes everything into a staging folder inside `--out` and moves it into
//! place only when every file succeeded, so a folder never holds a partial set or a mix of two runs. On an error
//! the staging folder is removed (by `Drop`); on SIGINT/SIGTERM the handler the CLI installs calls
//! [`abandon_all`], which removes every staging folder and temporary file in flight, unless a commit is under way,
//! which then finishes first (it is only renames) and exits after.

use super::OutputError;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

/// Staging folders and `.tmp` files being written now, and output folders a run created (removed only while
/// empty): what an interrupted run must remove, in reverse order of creation.
static IN_FLIGHT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// Held by a commit while it moves files into place, and by an interrupt while it removes what is in flight: the
/// two never interleave.
static COMMIT: Mutex<()> = Mutex::new(());
/// The exit status of the signal that interrupted the run (128 + its number), 0 while none did: a signal during a
/// commit makes the run exit with it when the commit ends.
static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

/// The exit status of a run stopped by SIGINT (128 + 2); other signals give 128 + their number.
pub const INTERRUPTED_EXIT: i32 = 130;

/// Exits with the interrupting signal's status if a signal arrived.
fn exit_on_signal() {
    let status = INTERRUPTED.load(Ordering::SeqCst);
    if status != 0 {
        std::process::exit(status);
    }
}

/// The staging folder's name inside `--out` (hidden; one per process).
fn staging_name() -> String {
    format!("{STAGING_PREFIX}{}", std::process::id())
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
    let staging = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(STAGING_PREFIX));
    let _ = match (path.is_dir(), staging) {
        (true, true) => std::fs::remove_dir_all(path),
        (true, false) => std::fs::remove_dir(path),
        (false, _) => std::fs::remove_file(path),
    };
}

/// Called from the signal handler thread with the exit status of the signal (128 + its number): removes whatever
/// is in flight and returns true when the process should exit now; false when a commit is running (it exits with
/// that status once its renames are done).
pub fn abandon_all(exit_status: i32) -> bool {
    let guard = match COMMIT.try_lock() {
        Ok(guard) => guard,
        Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => {
            INTERRUPTED.store(exit_status, Ordering::SeqCst);
            return false;
        }
    };
    // Set first: an error the removal causes in the run is then reported as the interruption.
    INTERRUPTED.store(exit_status, Ordering::SeqCst);
    let paths = std::mem::take(&mut *IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner()));
    paths.iter().rev().for_each(|p| remove(p));
    // Held until the caller exits: no commit starts after the removal.
    std::mem::forget(guard);
    true
}

/// When a signal interrupted the run, its errors are the interruption's (files removed under it): wait for the
/// handler to finish removing (it holds the commit lock until it exits the process) and exit as interrupted.
pub fn exit_if_interrupted() {
    if INTERRUPTED.load(Ordering::SeqCst) != 0 {
        let _wait = COMMIT.lock();
        exit_on_signal();
    }
}

/// The list of the entries the last committed run wrote into its output folder, one name a line: a run removes
/// or replaces only entries listed there (or its own), never a file by the look of its name.
pub const MANIFEST: &str = ".ionflux-manifest";

/// Prefix of staging folders: `<prefix><pid>`.
const STAGING_PREFIX: &str = ".ionflux-staging-";

fn io_failure(path: &Path, message: String) -> OutputError {
    OutputError { path: path.to_path_buf(), source: std::io::Error::other(message) }
}

/// An exclusive, non-blocking lock on the output folder itself (flock on its directory handle): one run at a time
/// per folder, released when the process ends however it ends.
fn lock_folder(out: &Path) -> Result<std::fs::File, OutputError> {
    let folder = std::fs::File::open(out).map_err(|source| OutputError { path: out.to_path_buf(), source })?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor this function owns; no memory is shared with the call.
        if unsafe { libc::flock(folder.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let error = std::io::Error::last_os_error();
            return Err(if error.kind() == std::io::ErrorKind::WouldBlock {
                io_failure(
                    out,
                    "another ionflux run is writing into this folder now; wait for it to finish or choose another \
                     --out"
                        .into(),
                )
            } else {
                OutputError { path: out.to_path_buf(), source: error }
            });
        }
    }
    Ok(folder)
}

/// The entries the last run listed in its manifest (none when there is no manifest). Lines that are not plain
/// entry names are ignored: the manifest can never make a run touch anything outside its folder.
fn read_manifest(out: &Path) -> Result<BTreeSet<String>, OutputError> {
    let path = out.join(MANIFEST);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text.lines().filter(|name| is_plain_name(name)).map(str::to_string).collect()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(source) => Err(OutputError { path, source }),
    }
}

/// A name that stays inside the folder it is joined to: one component, not `.` or `..`.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0']) && name != MANIFEST
}

fn write_manifest(path: &Path, names: &BTreeSet<String>) -> Result<(), OutputError> {
    let text: String = names.iter().map(|n| format!("{n}\n")).collect();
    super::write_atomic(path, text.as_bytes())
}

/// A staging folder in an output folder, and the folder's lock.
pub struct OutputTransaction {
    out: PathBuf,
    /// The run made `out` (it did not exist): a failed run removes it again.
    created_out: bool,
    staging: PathBuf,
    /// The entries of `out` an earlier run wrote (its manifest): the only ones this run may replace or remove.
    owned: BTreeSet<String>,
    /// Held until the transaction ends (the flock goes with the handle).
    _lock: std::fs::File,
    committed: bool,
}

impl OutputTransaction {
    /// Creates `out` (if needed), locks it, removes staging folders that killed runs left there, and creates the
    /// staging folder. Fails before any work when `out` is unwritable, another run holds it, or one of `expected`
    /// (names this run will write) is an entry no ionflux run wrote.
    pub fn begin(out: &Path, expected: &[&str]) -> Result<OutputTransaction, OutputError> {
        let staging = out.join(staging_name());
        let fail = |source| OutputError { path: out.to_path_buf(), source };
        let _guard = COMMIT.lock().unwrap_or_else(|e| e.into_inner());
        let created_out = !out.exists();
        std::fs::create_dir_all(out).map_err(fail)?;
        if created_out {
            track(out);
        }
        let lock = match lock_folder(out) {
            Ok(lock) => lock,
            Err(error) => {
                // Another run holds the folder (perhaps the one this run just created): it is that run's now.
                untrack(out);
                return Err(error);
            }
        };
        let prepared = (|| {
            // With the lock held no other run is writing here: every staging folder is a killed run's.
            for entry in std::fs::read_dir(out).map_err(fail)?.filter_map(Result::ok) {
                if entry.file_name().to_str().is_some_and(|n| n.starts_with(STAGING_PREFIX)) {
                    remove(&entry.path());
                }
            }
            let owned = read_manifest(out)?;
            none_unowned(out, expected.iter().copied(), &owned)?;
            std::fs::create_dir(&staging).map_err(fail)?;
            Ok(owned)
        })();
        let owned = match prepared {
            Ok(prepared) => prepared,
            Err(error) => {
                if created_out {
                    remove(out);
                    untrack(out);
                }
                return Err(error);
            }
        };
        track(&staging);
        Ok(OutputTransaction { out: out.to_path_buf(), created_out, staging, owned, _lock: lock, committed: false })
    }

    /// Fails before any work when one of `names`, which this run will also write, is an entry of the output
    /// folder that no ionflux run wrote.
    pub fn check_absent(&self, names: &[&str]) -> Result<(), OutputError> {
        none_unowned(&self.out, names.iter().copied(), &self.owned)
    }

    /// Where this run writes its files.
    pub fn dir(&self) -> &Path {
        &self.staging
    }

    /// The final path of a file written at `staged` in the staging folder.
    pub fn final_path(&self, staged: &Path) -> PathBuf {
        staged.strip_prefix(&self.staging).map_or_else(|_| staged.to_path_buf(), |rel| self.out.join(rel))
    }

    /// Moves every staged entry into `out`, replacing the entries of the same name the last run wrote, removes
    /// the last run's entries this run did not write, and lists this run's in the manifest. An entry of the same
    /// name that no run wrote is an error before anything moves. Returns the final paths of the staged entries.
    pub fn commit(mut self) -> Result<Vec<PathBuf>, OutputError> {
        fn fail(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
            move |source| OutputError { path: path.to_path_buf(), source }
        }
        let mut staged: Vec<String> = std::fs::read_dir(&self.staging)
            .and_then(|entries| entries.map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned())).collect())
            .map_err(fail(&self.staging))?;
        staged.sort();
        none_unowned(&self.out, staged.iter().map(String::as_str), &self.owned)?;
        let new: BTreeSet<String> = staged.iter().cloned().collect();
        // Both manifests are written (into the staging folder, after its listing) before the commit lock: the
        // union goes in first, so a commit cut short leaves every entry it may have moved listed; the new one last.
        let union_manifest = self.staging.join(".manifest-union");
        write_manifest(&union_manifest, &self.owned.union(&new).cloned().collect())?;
        let new_manifest = self.staging.join(".manifest-new");
        write_manifest(&new_manifest, &new)?;
        let manifest = self.out.join(MANIFEST);
        let guard = COMMIT.lock().unwrap_or_else(|e| e.into_inner());
        let result = (|| {
            std::fs::rename(&union_manifest, &manifest).map_err(fail(&manifest))?;
            for name in self.owned.difference(&new) {
                remove_owned(&self.out.join(name));
            }
            let mut moved = Vec::new();
            for name in &staged {
                let target = self.out.join(name);
                if target.symlink_metadata().is_ok_and(|m| m.is_dir()) {
                    remove_owned(&target);
                }
                std::fs::rename(self.staging.join(name), &target).map_err(fail(&target))?;
                moved.push(target);
            }
            std::fs::rename(&new_manifest, &manifest).map_err(fail(&manifest))?;
            Ok(moved)
        })();
        remove(&self.staging);
        untrack(&self.staging);
        untrack(&self.out);
        self.committed = true;
        drop(guard);
        exit_on_signal();
        result
    }
}

/// An error naming the first of `names` that exists in `out` but is not in `owned` (no ionflux run wrote it):
/// such an entry is the user's, and a run never replaces it.
fn none_unowned<'a>(
    out: &Path,
    names: impl IntoIterator<Item = &'a str>,
    owned: &BTreeSet<String>,
) -> Result<(), OutputError> {
    match names.into_iter().find(|name| out.join(name).symlink_metadata().is_ok() && !owned.contains(*name)) {
        Some(name) => Err(not_ours(&out.join(name))),
        None => Ok(()),
    }
}

/// The error for an entry in `--out` that this run must write but no ionflux run wrote.
fn not_ours(target: &Path) -> OutputError {
    io_failure(
        target,
        format!(
            "it exists and no ionflux run wrote it (it is not in {MANIFEST}), so it is left alone; move it away or \
             choose another --out"
        ),
    )
}

/// Removes an entry an earlier run wrote (listed in the manifest): a file, or a folder with its contents.
fn remove_owned(path: &Path) {
    let _ = match path.symlink_metadata() {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(_) => Ok(()),
    };
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

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    /// One committed run writing `files` into `out`.
    fn run(out: &Path, files: &[&str]) -> Result<Vec<PathBuf>, OutputError> {
        let run = OutputTransaction::begin(out, &[])?;
        for name in files {
            std::fs::write(run.dir().join(name), "new").unwrap();
        }
        run.commit()
    }

    #[test]
    fn a_commit_replaces_the_last_runs_set_and_keeps_every_other_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        run(&out, &["solution.vtu", "summary.json", "profile_a.csv"]).unwrap();
        // Files of the user's, named like outputs: no run wrote them, so no run removes them.
        for name in ["notes.txt", "profile_b.csv", "jmap.png"] {
            std::fs::write(out.join(name), "mine").unwrap();
        }
        let moved = run(&out, &["summary.json"]).unwrap();
        assert_eq!(moved, [out.join("summary.json")]);
        assert_eq!(names(&out), [MANIFEST, "jmap.png", "notes.txt", "profile_b.csv", "summary.json"]);
        assert_eq!(std::fs::read_to_string(out.join(MANIFEST)).unwrap(), "summary.json\n");
        // A file of the user's where a run must write: an error, and nothing of the run appears.
        let error = run(&out, &["summary.json", "jmap.png"]).unwrap_err();
        assert!(error.to_string().contains("jmap.png") && error.to_string().contains("no ionflux run wrote it"));
        assert_eq!(std::fs::read_to_string(out.join("jmap.png")).unwrap(), "mine");
        let error = OutputTransaction::begin(&out, &["notes.txt"]).err().expect("refused before any work");
        assert!(error.to_string().contains("notes.txt"), "{error}");
    }

    #[test]
    fn a_dropped_transaction_leaves_the_previous_contents() {
        let dir = tempfile::tempdir().unwrap();
        run(dir.path(), &["summary.json"]).unwrap();
        {
            let run = OutputTransaction::begin(dir.path(), &[]).unwrap();
            std::fs::write(run.dir().join("summary.json"), "other").unwrap();
            std::fs::write(run.dir().join("solution.vtu"), "other").unwrap();
        }
        assert_eq!(names(dir.path()), [MANIFEST, "summary.json"]);
        assert_eq!(std::fs::read_to_string(dir.path().join("summary.json")).unwrap(), "new");
        // An output folder the failed run created is removed again.
        let fresh = dir.path().join("fresh");
        drop(OutputTransaction::begin(&fresh, &[]).unwrap());
        assert!(!fresh.exists());
    }

    #[test]
    fn one_run_at_a_time_and_killed_runs_staging_is_cleared() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".ionflux-staging-999999999")).unwrap();
        let first = OutputTransaction::begin(dir.path(), &[]).unwrap();
        assert_eq!(names(dir.path()), [staging_name()], "the killed run's staging folder is gone");
        let error = OutputTransaction::begin(dir.path(), &[]).err().expect("the folder is locked");
        assert!(error.to_string().contains("another ionflux run"), "{error}");
        drop(first);
        drop(OutputTransaction::begin(dir.path(), &[]).unwrap());
    }

    #[test]
    fn a_manifest_never_reaches_outside_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(dir.path().join("victim"), "keep").unwrap();
        std::fs::write(out.join(MANIFEST), "../victim\n..\n/etc\n").unwrap();
        run(&out, &["summary.json"]).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("victim")).unwrap(), "keep");
    }

    #[test]
    fn an_output_path_that_is_a_file_fails_at_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("taken");
        std::fs::write(&file, "x").unwrap();
        let error = OutputTransaction::begin(&file, &[]).err().expect("refused");
        assert!(error.to_string().contains("taken"), "{error}");
    }
}
