//! The PETSc backend (`--backend petsc`, cargo feature `petsc`): the reduced system solved by PETSc's KSP in
//! process, through its C API (ARCHITECTURE.md, "PETSc and MPI"), under `mpiexec -n N` on N ranks.
//!
//! Every rank runs the same deterministic pipeline (mesh, assembly) and hands PETSc only its own contiguous block
//! of rows (`MatCreateMPIAIJWithArrays` copies them into PETSc's distributed matrix); the solution is gathered to
//! every rank (`VecScatterCreateToAll`) for the post-processing, and only rank 0 writes files and the terminal.
//! Defaults: CG with hypre's BoomerAMG where PETSc has hypre (Debian's build does), else GAMG, on the true
//! (unpreconditioned) residual with the case's rtol; `[solver] petsc_options` and `PETSC_OPTIONS` pass through.
//! A diverged or non-finite solve is an error naming KSP's reason.
//!
//! The bindings are hand-written for the dozen calls used (bindgen would need libclang at build time for a
//! surface this small); PETSc's ABI here: `PetscInt` 32-bit (Debian's real build; `build.rs` refuses a 64-bit
//! one), `PetscScalar` f64, objects and communicators as opaque pointers (OpenMPI's `MPI_Comm`).

use crate::solver::sparse::CsrMatrix;
use crate::solver::{CgOptions, CgReport, PreconditionerReport, SolveError, SymmetricSolver};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::Mutex;
use std::time::Instant;

type PetscErrorCode = c_int;
type PetscInt = i32;
type Object = *mut c_void;
type Comm = *mut c_void;

extern "C" {
    static PETSC_COMM_WORLD: Comm;
    static PetscGlobalRank: c_int;
    static PetscGlobalSize: c_int;
    fn PetscInitializeNoArguments() -> PetscErrorCode;
    fn PetscFinalize() -> PetscErrorCode;
    fn PetscOptionsInsertString(options: Object, text: *const c_char) -> PetscErrorCode;
    fn MatCreateMPIAIJWithArrays(
        comm: Comm,
        m: PetscInt,
        n: PetscInt,
        rows: PetscInt,
        columns: PetscInt,
        i: *const PetscInt,
        j: *const PetscInt,
        a: *const f64,
        matrix: *mut Object,
    ) -> PetscErrorCode;
    fn MatDestroy(matrix: *mut Object) -> PetscErrorCode;
    fn VecCreateMPIWithArray(
        comm: Comm,
        block: PetscInt,
        n: PetscInt,
        size: PetscInt,
        array: *const f64,
        vector: *mut Object,
    ) -> PetscErrorCode;
    fn VecDestroy(vector: *mut Object) -> PetscErrorCode;
    fn VecScatterCreateToAll(vector: Object, scatter: *mut Object, all: *mut Object) -> PetscErrorCode;
    fn VecScatterBegin(scatter: Object, x: Object, y: Object, mode: c_int, direction: c_int) -> PetscErrorCode;
    fn VecScatterEnd(scatter: Object, x: Object, y: Object, mode: c_int, direction: c_int) -> PetscErrorCode;
    fn VecScatterDestroy(scatter: *mut Object) -> PetscErrorCode;
    fn VecGetArrayRead(vector: Object, array: *mut *const f64) -> PetscErrorCode;
    fn VecRestoreArrayRead(vector: Object, array: *mut *const f64) -> PetscErrorCode;
    fn KSPCreate(comm: Comm, ksp: *mut Object) -> PetscErrorCode;
    fn KSPSetOperators(ksp: Object, a: Object, p: Object) -> PetscErrorCode;
    fn KSPSetType(ksp: Object, kind: *const c_char) -> PetscErrorCode;
    fn KSPGetPC(ksp: Object, pc: *mut Object) -> PetscErrorCode;
    fn PCSetType(pc: Object, kind: *const c_char) -> PetscErrorCode;
    fn PCGetType(pc: Object, kind: *mut *const c_char) -> PetscErrorCode;
    fn KSPGetType(ksp: Object, kind: *mut *const c_char) -> PetscErrorCode;
    fn KSPSetTolerances(ksp: Object, rtol: f64, atol: f64, dtol: f64, max_iterations: PetscInt) -> PetscErrorCode;
    fn KSPSetNormType(ksp: Object, norm: c_int) -> PetscErrorCode;
    fn KSPSetFromOptions(ksp: Object) -> PetscErrorCode;
    fn KSPSolve(ksp: Object, b: Object, x: Object) -> PetscErrorCode;
    fn KSPGetConvergedReason(ksp: Object, reason: *mut c_int) -> PetscErrorCode;
    fn KSPGetIterationNumber(ksp: Object, iterations: *mut PetscInt) -> PetscErrorCode;
    fn KSPDestroy(ksp: *mut Object) -> PetscErrorCode;
}

/// PETSc's enum values used here (petscsys.h, petscksp.h).
const INSERT_VALUES: c_int = 1;
const SCATTER_FORWARD: c_int = 0;
const KSP_NORM_UNPRECONDITIONED: c_int = 2;
const PETSC_DEFAULT: f64 = -2.0;

/// Whether PETSc (and MPI) are up; set once by [`initialize`], ended by [`finalize`].
static SESSION: Mutex<bool> = Mutex::new(false);

fn check(code: PetscErrorCode, call: &str) -> Result<(), SolveError> {
    if code == 0 {
        Ok(())
    } else {
        Err(SolveError::Backend(
            format!("PETSc: {call} failed with error code {code} (see PETSc's message above)").into(),
        ))
    }
}

/// Starts PETSc and MPI for this process, once (later calls do nothing). `PETSC_OPTIONS` is read here.
pub fn initialize() -> Result<(), SolveError> {
    let mut up = SESSION.lock().expect("no panic holds it");
    if !*up {
        // SAFETY: called once per process, before any other PETSc call.
        check(unsafe { PetscInitializeNoArguments() }, "PetscInitialize")?;
        *up = true;
    }
    Ok(())
}

/// Ends PETSc and MPI if [`initialize`] started them (MPI expects it before the process exits).
pub fn finalize() {
    let mut up = SESSION.lock().expect("no panic holds it");
    if *up {
        // SAFETY: PETSc is up and no PETSc object outlives this call (each solve destroys its own).
        unsafe { PetscFinalize() };
        *up = false;
    }
}

/// This process's rank and the number of ranks (0 and 1 before [`initialize`]).
pub fn rank_and_size() -> (usize, usize) {
    if !*SESSION.lock().expect("no panic holds it") {
        return (0, 1);
    }
    // SAFETY: plain integers PETSc set in PetscInitialize and never changes afterwards.
    unsafe { (PetscGlobalRank as usize, PetscGlobalSize.max(1) as usize) }
}

/// KSP's converged reasons by value (petscksp.h), for the messages.
fn reason_name(reason: c_int) -> &'static str {
    match reason {
        2 => "CONVERGED_RTOL",
        3 => "CONVERGED_ATOL",
        4 => "CONVERGED_ITS",
        -3 => "DIVERGED_ITS",
        -4 => "DIVERGED_DTOL",
        -5 => "DIVERGED_BREAKDOWN",
        -6 => "DIVERGED_BREAKDOWN_BICG",
        -7 => "DIVERGED_NONSYMMETRIC",
        -8 => "DIVERGED_INDEFINITE_PC",
        -9 => "DIVERGED_NANORINF",
        -10 => "DIVERGED_INDEFINITE_MAT",
        -11 => "DIVERGED_PC_FAILED",
        _ => "another reason",
    }
}

/// The PETSc solver: each solve builds KSP on this rank's rows of the matrix, solves, and gathers x to every rank.
pub struct PetscSolver {
    /// Made only by [`PetscSolver::new`], which starts PETSc and inserts `[solver] petsc_options` into its options
    /// (once: each KSP reads them in `KSPSetFromOptions`).
    _started: (),
}

impl PetscSolver {
    /// Starts PETSc if needed; `options` pass through to KSP (after the defaults, before `PETSC_OPTIONS`' own
    /// values, which PETSc read at start and which win).
    pub fn new(options: &str) -> Result<PetscSolver, SolveError> {
        initialize()?;
        if !options.trim().is_empty() {
            let text = CString::new(options)
                .map_err(|_| SolveError::Backend("solver.petsc_options holds a NUL character".into()))?;
            // SAFETY: PETSc is up; the string is NUL-terminated and PETSc copies it into its options database.
            check(
                unsafe { PetscOptionsInsertString(std::ptr::null_mut(), text.as_ptr()) },
                "PetscOptionsInsertString",
            )?;
        }
        Ok(PetscSolver { _started: () })
    }
}

/// A PETSc object destroyed when dropped (the solve's objects are freed on every error path).
struct Owned(Object, unsafe extern "C" fn(*mut Object) -> PetscErrorCode);

impl Drop for Owned {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the object was created by PETSc and is destroyed once, here.
            unsafe { (self.1)(&mut self.0) };
        }
    }
}

fn type_name(get: impl FnOnce(*mut *const c_char) -> PetscErrorCode) -> String {
    let mut name: *const c_char = std::ptr::null();
    if get(&mut name) != 0 || name.is_null() {
        return "unknown".into();
    }
    // SAFETY: PETSc returns a NUL-terminated static type name.
    unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned()
}

impl SymmetricSolver for PetscSolver {
    fn solve(&mut self, a: &CsrMatrix, b: &[f64], x: &mut [f64], options: &CgOptions) -> Result<CgReport, SolveError> {
        let start = Instant::now();
        let (b_norm, _) = options.target(b)?;
        let (rank, size) = rank_and_size();
        let n = a.nrows;
        let too_large =
            || SolveError::Backend(format!("PETSc's 32-bit indices cannot hold {} nonzeros", a.nnz()).into());
        let (lo, hi) = (rank * n / size, (rank + 1) * n / size);
        // This rank's rows as a local CSR (row offsets from 0, global column indices).
        let base = a.row_ptr[lo];
        let row_ptr: Vec<PetscInt> = a.row_ptr[lo..=hi]
            .iter()
            .map(|&p| PetscInt::try_from(p - base))
            .collect::<Result<_, _>>()
            .map_err(|_| too_large())?;
        let columns: Vec<PetscInt> = a.col_idx[base..a.row_ptr[hi]].iter().map(|&c| c as PetscInt).collect();
        let (m, global) =
            (PetscInt::try_from(hi - lo).map_err(|_| too_large())?, PetscInt::try_from(n).map_err(|_| too_large())?);
        // SAFETY: every pointer handed to PETSc points into a live slice of the stated length for the duration of
        // the call (PETSc copies the matrix; the vectors wrap `b` and `x`'s local part until destroyed below), and
        // every object is created by PETSc and destroyed once by `Owned`.
        unsafe {
            let mut matrix = Owned(std::ptr::null_mut(), MatDestroy);
            let values = &a.values[base..a.row_ptr[hi]];
            check(
                MatCreateMPIAIJWithArrays(
                    PETSC_COMM_WORLD,
                    m,
                    m,
                    global,
                    global,
                    row_ptr.as_ptr(),
                    columns.as_ptr(),
                    values.as_ptr(),
                    &mut matrix.0,
                ),
                "MatCreateMPIAIJWithArrays",
            )?;
            let mut rhs = Owned(std::ptr::null_mut(), VecDestroy);
            check(
                VecCreateMPIWithArray(PETSC_COMM_WORLD, 1, m, global, b[lo..hi].as_ptr(), &mut rhs.0),
                "VecCreateMPI",
            )?;
            let mut local_x = x[lo..hi].to_vec();
            let mut solution = Owned(std::ptr::null_mut(), VecDestroy);
            check(
                VecCreateMPIWithArray(PETSC_COMM_WORLD, 1, m, global, local_x.as_mut_ptr(), &mut solution.0),
                "VecCreateMPI",
            )?;
            let mut ksp = Owned(std::ptr::null_mut(), KSPDestroy);
            check(KSPCreate(PETSC_COMM_WORLD, &mut ksp.0), "KSPCreate")?;
            check(KSPSetOperators(ksp.0, matrix.0, matrix.0), "KSPSetOperators")?;
            check(KSPSetType(ksp.0, c"cg".as_ptr()), "KSPSetType")?;
            let mut pc: Object = std::ptr::null_mut();
            check(KSPGetPC(ksp.0, &mut pc), "KSPGetPC")?;
            check(PCSetType(pc, DEFAULT_PC.as_ptr()), "PCSetType")?;
            check(KSPSetNormType(ksp.0, KSP_NORM_UNPRECONDITIONED), "KSPSetNormType")?;
            let max_iterations = PetscInt::try_from(options.max_iter).unwrap_or(PetscInt::MAX);
            check(
                KSPSetTolerances(ksp.0, options.rtol, options.atol, PETSC_DEFAULT, max_iterations),
                "KSPSetTolerances",
            )?;
            check(KSPSetFromOptions(ksp.0), "KSPSetFromOptions")?;
            // A nonzero start (Newton passes none, the refinement of a dual none either): KSP starts from x.
            check(KSPSolve(ksp.0, rhs.0, solution.0), "KSPSolve")?;
            let mut reason: c_int = 0;
            check(KSPGetConvergedReason(ksp.0, &mut reason), "KSPGetConvergedReason")?;
            let mut iterations: PetscInt = 0;
            check(KSPGetIterationNumber(ksp.0, &mut iterations), "KSPGetIterationNumber")?;
            let ksp_type = type_name(|name| KSPGetType(ksp.0, name));
            let pc_type = type_name(|name| PCGetType(pc, name));
            if reason < 0 {
                return Err(SolveError::Backend(
                    format!(
                    "PETSc's KSP ({ksp_type}, {pc_type}) diverged: {} ({reason}) after {iterations} iterations; no \
                     result is reported",
                    reason_name(reason)
                )
                    .into(),
                ));
            }
            // The whole solution on every rank.
            let mut scatter = Owned(std::ptr::null_mut(), VecScatterDestroy);
            let mut all = Owned(std::ptr::null_mut(), VecDestroy);
            check(VecScatterCreateToAll(solution.0, &mut scatter.0, &mut all.0), "VecScatterCreateToAll")?;
            check(VecScatterBegin(scatter.0, solution.0, all.0, INSERT_VALUES, SCATTER_FORWARD), "VecScatterBegin")?;
            check(VecScatterEnd(scatter.0, solution.0, all.0, INSERT_VALUES, SCATTER_FORWARD), "VecScatterEnd")?;
            let mut gathered: *const f64 = std::ptr::null();
            check(VecGetArrayRead(all.0, &mut gathered), "VecGetArrayRead")?;
            x.copy_from_slice(std::slice::from_raw_parts(gathered, n));
            check(VecRestoreArrayRead(all.0, &mut gathered), "VecRestoreArrayRead")?;
            let mut residual = vec![0.0; n];
            a.residual(b, x, &mut residual);
            let scale = if b_norm > 0.0 { b_norm } else { 1.0 };
            let relative_residual = crate::solver::vector::norm(&residual) / scale;
            if !relative_residual.is_finite() {
                return Err(SolveError::NotFinite { iteration: iterations as usize, value: relative_residual });
            }
            let preconditioner = PreconditionerReport {
                kind: format!("petsc {pc_type}"),
                levels: Vec::new(),
                operator_complexity: 1.0,
                setup_seconds: 0.0,
                reused: false,
            };
            CgReport {
                backend: "petsc".into(),
                precision: "f64".into(),
                device: format!("PETSc {ksp_type} on {size} MPI rank(s)"),
                iterations: iterations as usize,
                relative_residual,
                residual_history: vec![1.0, relative_residual],
                converged: false,
                seconds: start.elapsed().as_secs_f64(),
                preconditioner,
            }
            // KSP stops on its recurrence residual; the true one may lie a little above: within 10 rtol it is an
            // answer (reported with its residual, and a warning above rtol), beyond it an error.
            .into_result(relative_residual <= (10.0 * options.rtol).max(options.atol / scale), options.rtol)
        }
    }
}

/// CG's default preconditioner: hypre's BoomerAMG where this PETSc has hypre (`build.rs` reads petscconf.h),
/// else PETSc's own GAMG.
#[cfg(petsc_has_hypre)]
const DEFAULT_PC: &CStr = c"hypre";
#[cfg(not(petsc_has_hypre))]
const DEFAULT_PC: &CStr = c"gamg";
