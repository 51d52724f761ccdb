//! The `ionflux` command line. `solve` reads as the numbered walkthrough of the pipeline (ARCHITECTURE.md):
//! 1 case -> 2 mesh -> 3 assemble -> 4 solve -> 5 post -> 6 analyse -> 7 write.
//! One file for the command line (over 500 lines): the clap definitions and each command's terminal output;
//! the work itself is in `ionflux::app`.

use clap::{Parser, Subcommand, ValueEnum};
use ionflux::app::pipeline::{self, RunOptions};
use ionflux::app::CaseInput;
use ionflux::case::Case;
use ionflux::case::OutputSettings;
use ionflux::io::petsc_binary::IndexWidth;
use ionflux::io::summary::Summary;
use ionflux::io::transaction::OutputTransaction;
use ionflux::io::SystemFormat;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Parser)]
#[command(
    name = "ionflux",
    version,
    about = "Steady ionic current fields around Li-depleted hot spots (3D FEM, CPU and GPU)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Case selection and overrides, shared by every command that reads a case.
#[derive(clap::Args)]
struct CaseArgs {
    /// Case file (TOML). Without it, the built-in default case (meshes/default.toml).
    case: Option<PathBuf>,
    /// Override any case value, e.g. --set mesh.h_min="1 nm" --set solver.rtol=1e-8 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum BackendArg {
    Auto,
    Gpu,
    Cpu,
    /// PETSc's KSP in process, under mpiexec on several ranks (a build with `--features petsc`).
    Petsc,
}

#[derive(Clone, Copy, ValueEnum)]
enum PreconditionerArg {
    Amg,
    Jacobi,
}

#[derive(Clone, Copy, ValueEnum)]
enum PrecisionArg {
    Mixed,
    F32,
    F64,
}

#[derive(Subcommand)]
enum Command {
    /// Mesh, assemble, solve and write solution.vtu + summary.json.
    Solve {
        #[command(flatten)]
        case: CaseArgs,
        /// Output folder (default: out/<case name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Solver backend (overrides solver.backend): auto picks a hardware GPU if there is one.
        #[arg(long, value_enum)]
        backend: Option<BackendArg>,
        /// GPU precision (overrides solver.precision).
        #[arg(long, value_enum)]
        precision: Option<PrecisionArg>,
        /// Preconditioner of the conjugate gradients (overrides solver.preconditioner; default amg).
        #[arg(long, value_enum)]
        preconditioner: Option<PreconditionerArg>,
        /// Choose the GPU adapter whose name contains this text (see `ionflux devices`).
        #[arg(long)]
        adapter: Option<String>,
        /// Refine the mesh where the error estimates say until every current's estimate is below this, e.g.
        /// 0.1% (sets adapt.target; see [adapt] in the README).
        #[arg(long, value_name = "PERCENT")]
        accuracy: Option<String>,
        /// Skip solution.vtu (summary.json only).
        #[arg(long)]
        no_vtu: bool,
        /// Also write PNG plots: the J_r(z) profile of each cylinder and a |J| map through the first hot spot.
        #[arg(long)]
        plots: bool,
        /// Also write the reduced linear system into DIR for other solvers: A.mtx, b.mtx (Matrix Market),
        /// free_nodes.txt (the mesh node of each unknown) and x.mtx (ionflux's solution); every further system
        /// the run solves (the analyses' re-solves) as A_1.mtx, b_1.mtx, x_1.mtx, ...
        #[arg(long, value_name = "DIR")]
        export_system: Option<PathBuf>,
        /// The format of the exported system: mtx (Matrix Market text) or petsc (PETSc's binary format, read by
        /// MatLoad / VecLoad and PetscBinaryIO.py: A.petsc, b.petsc, x.petsc).
        #[arg(long, value_enum, default_value = "mtx", requires = "export_system")]
        format: ExportFormat,
        /// With --format petsc: 64-bit indices, for a PETSc configured --with-64-bit-indices (default 32-bit).
        #[arg(long, requires = "export_system")]
        petsc_64bit_indices: bool,
        /// No progress bars and no summary on the terminal.
        #[arg(long, short)]
        quiet: bool,
    },
    /// List the GPU adapters wgpu can open (name, type, backend, driver, f64 support, buffer limits).
    Devices {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Speed of SpMV and of one PCG iteration on the case's own matrix, CPU and GPU, as ratios to the copy
    /// bandwidth of the same device measured in the same run (the byte model is printed).
    Bench {
        #[command(flatten)]
        case: CaseArgs,
        /// Backends to time, as for solve (overrides solver.backend): auto times the CPU and a hardware GPU if
        /// there is one; gpu also a software adapter (Mesa's llvmpipe); cpu the CPU alone.
        #[arg(long, value_enum)]
        backend: Option<BackendArg>,
        /// Timed repetitions per kernel in each of the interleaved rounds (the fastest round is reported).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        iterations: u32,
        /// Bench the mesher instead: seconds per million nodes and peak bytes per node of each stage, for CASE, or
        /// without CASE for random-sphere interfaces with 1, 50, 200 and 1000 spheres at about --nodes nodes.
        #[arg(long)]
        mesh: bool,
        /// Node count of each family member of `--mesh` (the box is sized by the node estimate).
        #[arg(long, default_value_t = 8e6, value_parser = parse_family_nodes)]
        nodes: f64,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Solve a case at every point of a grid of parameter values: sweep.csv, sweep.pvd, sweep.png.
    Sweep {
        #[command(flatten)]
        case: CaseArgs,
        /// KEY=FROM..TO:N[:log], e.g. --vary "boundaries.hotspot.potential=0.80 V..0.95 V:4" (repeatable:
        /// the Cartesian product).
        #[arg(long = "vary", value_name = "KEY=FROM..TO:N[:log]", required_unless_present = "merge")]
        vary: Vec<String>,
        /// Run only the K-th of N contiguous blocks of the points (1 <= K <= N; e.g. a Slurm array task): the
        /// whole sweep's point folders and CSV rows for those points, and sweep_shard.json for --merge.
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
        /// Join the --out folders of the N shards of one sweep into --out: one sweep.csv, sweep.pvd and plot.
        #[arg(long, value_name = "DIR", num_args = 1.., conflicts_with_all = ["vary", "shard"])]
        merge: Vec<PathBuf>,
        /// Output folder (default: out/<case name>_sweep).
        #[arg(long)]
        out: Option<PathBuf>,
        /// sweep.csv column to plot against the first varied key (repeatable; default: the hot-spot
        /// currents, else the interface current).
        #[arg(long = "plot", value_name = "COLUMN")]
        plot: Vec<String>,
        /// Also write each point's solution.vtu and sweep.pvd (ParaView's time series of them); without it a sweep
        /// writes sweep.csv, sweep.png and each point's summary.json (a VTU per point adds ~10 MB each at the
        /// default size).
        #[arg(long)]
        vtu: bool,
        /// The default (no VTU per point); kept so that older scripts still run.
        #[arg(long, hide = true, conflicts_with = "vtu")]
        no_vtu: bool,
        /// No progress bar and no report on the terminal.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Mesh a case and write the mesh alone: VTU (region and boundary tags) for inspection, or Gmsh MSH 4.1
    /// (physical groups named after the regions and boundaries) for other FEM codes.
    Mesh {
        #[command(flatten)]
        case: CaseArgs,
        /// Output file: `.vtu`, or `.msh` for Gmsh MSH 4.1 (binary unless --ascii).
        #[arg(long, default_value = "mesh.vtu")]
        out: PathBuf,
        /// Write the MSH file as text.
        #[arg(long)]
        ascii: bool,
        #[arg(long, short)]
        quiet: bool,
    },
}

/// Set when a line could not be written to stdout (closed pipe, full disk): the run then ends with an error
/// instead of a panic, after its outputs are in place.
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);

/// println! that never panics: a closed or full stdout is remembered (see [`STDOUT_FAILED`]).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            STDOUT_FAILED.store(true, Ordering::SeqCst);
        }
    }};
}

/// eprintln! that never panics: with stderr closed there is nobody to tell.
macro_rules! tell {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// A signal ends the run with no staging folder or temporary file left behind (a commit in progress finishes
/// first): SIGINT, SIGTERM and SIGHUP through ctrlc, SIGQUIT, SIGUSR1, SIGUSR2 and SIGALRM through a signal-hook
/// thread. SIGXFSZ (a file-size limit) is ignored, so the write that passes the limit fails as an error, which
/// cleans up like any other.
fn handle_signals() {
    let abandon = |exit_status: i32| {
        if ionflux::io::transaction::abandon_all(exit_status) {
            tell!("interrupted: no output written");
            std::process::exit(exit_status);
        }
    };
    let _ = ctrlc::set_handler(move || abandon(ionflux::io::transaction::INTERRUPTED_EXIT));
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGALRM, SIGQUIT, SIGUSR1, SIGUSR2, SIGXFSZ};
        // SAFETY: SIG_IGN installs no handler code; it only makes a write past the limit return EFBIG.
        unsafe {
            libc::signal(SIGXFSZ, libc::SIG_IGN);
        }
        if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM]) {
            std::thread::spawn(move || {
                for signal in signals.forever() {
                    abandon(128 + signal);
                }
            });
        }
    }
}

fn main() -> ExitCode {
    ionflux::gpu::quiet_headless_vulkan_layers();
    handle_signals();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Solve {
            case,
            out,
            backend,
            precision,
            preconditioner,
            adapter,
            accuracy,
            no_vtu,
            plots,
            export_system,
            format,
            petsc_64bit_indices,
            quiet,
        } => {
            let mut set = case.set.clone();
            set.extend(backend.map(|b| choice_override("solver.backend", b)));
            set.extend(precision.map(|p| choice_override("solver.precision", p)));
            set.extend(preconditioner.map(|p| choice_override("solver.preconditioner", p)));
            if let Some(a) = adapter {
                set.push(format!("solver.adapter={}", toml_string(&a)));
            }
            if let Some(a) = accuracy {
                set.push(format!("adapt.target={}", toml_string(&a)));
            }
            let export_format = match (format, petsc_64bit_indices) {
                (ExportFormat::Mtx, false) => Ok(SystemFormat::MatrixMarket),
                (ExportFormat::Mtx, true) => {
                    Err(anyhow::anyhow!("--petsc-64bit-indices applies to --format petsc only"))
                }
                (ExportFormat::Petsc, false) => Ok(SystemFormat::Petsc(IndexWidth::Bits32)),
                (ExportFormat::Petsc, true) => Ok(SystemFormat::Petsc(IndexWidth::Bits64)),
            };
            export_format.and_then(|export_format| {
                let outputs = SolveOutputs { vtu: !no_vtu, plots, export_system, export_format };
                solve(case.case.as_deref(), &set, out, outputs, quiet)
            })
        }
        Command::Sweep { mut case, vary, shard, merge, out, plot, vtu, quiet, .. } => {
            if !vtu {
                case.set.push("output.vtu=false".into());
            }
            sweep(case, &vary, SweepParts { shard, merge }, out, plot, quiet)
        }
        Command::Mesh { case, out, ascii, quiet } => mesh(case.case.as_deref(), &case.set, &out, ascii, quiet),
        Command::Devices { json } => devices(json),
        Command::Bench { case, json, mesh: true, nodes, .. } => {
            bench_mesh(case.case.as_deref(), &case.set, nodes, json.as_deref())
        }
        Command::Bench { mut case, iterations, json, mesh: false, backend, .. } => {
            case.set.extend(backend.map(|b| choice_override("solver.backend", b)));
            bench(case.case.as_deref(), &case.set, iterations as usize, json.as_deref())
        }
    };
    // Under mpiexec only rank 0 speaks (the others run the same pipeline and fail alike).
    #[cfg(feature = "petsc")]
    let quiet_rank = ionflux::petsc::rank_and_size().0 > 0;
    #[cfg(not(feature = "petsc"))]
    let quiet_rank = false;
    let code = match result {
        Ok(()) if STDOUT_FAILED.load(Ordering::SeqCst) => {
            tell!("error: could not write to standard output (closed or full); the run's files are written");
            ExitCode::FAILURE
        }
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            ionflux::io::transaction::exit_if_interrupted();
            if !quiet_rank {
                tell!("error: {err}");
            }
            ExitCode::FAILURE
        }
    };
    // After rank 0's message: finalizing is collective, so no rank exits (and mpiexec tears the job down) before
    // rank 0 has said why.
    #[cfg(feature = "petsc")]
    ionflux::petsc::finalize();
    code
}

/// `bench --mesh --nodes`: the family's spheres need room, and a week-long run helps nobody: 1e5 ..= 5e7.
fn parse_family_nodes(text: &str) -> Result<f64, String> {
    let nodes: f64 = text.trim().parse().map_err(|_| format!("`{text}` is not a number"))?;
    if !(1e5..=5e7).contains(&nodes) {
        return Err(format!("{nodes} is outside 1e5 ..= 5e7 nodes per family member"));
    }
    Ok(nodes)
}

/// The `--set` a choice flag (`--backend gpu`, `--precision f64`, ...) stands for.
fn choice_override(key: &str, choice: impl ValueEnum) -> String {
    format!("{key}={}", choice.to_possible_value().expect("no choice is skipped").get_name())
}

/// A string as a TOML literal, so `--set` values with spaces or quotes survive.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// 1. Case: the file given, or the built-in default; `--set` overrides applied.
fn load_case(path: Option<&Path>, set: &[String]) -> anyhow::Result<Case> {
    Ok(CaseInput::from_arg(path).load(set)?)
}

/// Optional outputs of `solve`.
struct SolveOutputs {
    vtu: bool,
    plots: bool,
    export_system: Option<PathBuf>,
    export_format: SystemFormat,
}

/// `--format` of an exported system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExportFormat {
    Mtx,
    Petsc,
}

fn solve(
    path: Option<&Path>,
    set: &[String],
    out: Option<PathBuf>,
    outputs: SolveOutputs,
    quiet: bool,
) -> anyhow::Result<()> {
    let case = load_case(path, set)?;
    if mpi_rank(&case)? > 0 {
        // Another rank of a PETSc run: the same pipeline (its solves are collective), no files, no terminal.
        let options = RunOptions { progress: false, ..RunOptions::default() };
        pipeline::solve_case(&case, &options)?;
        return Ok(());
    }
    let out_dir = out.unwrap_or_else(|| Path::new("out").join(output_stem(path)));
    // The output folder is checked writable (and locked) before any work; files go to its staging folder until all
    // are done.
    let files = OutputSettings { vtu: outputs.vtu && case.output.vtu, ..case.output };
    let expected: Vec<&str> = [(files.vtu, "solution.vtu"), (files.summary_json, "summary.json")]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
    let staging = OutputTransaction::begin(&out_dir, &expected)?;
    // The exported system is part of the run too: staged, and moved into place only when the run succeeds.
    let extension = outputs.export_format.extension();
    let exported =
        [format!("A.{extension}"), format!("b.{extension}"), format!("x.{extension}"), "free_nodes.txt".into()];
    let exported: Vec<&str> = exported.iter().map(String::as_str).collect();
    let same_folder = |dir: &Path| dir.canonicalize().ok() == out_dir.canonicalize().ok();
    let export = match &outputs.export_system {
        Some(dir) if same_folder(dir) => {
            staging.check_absent(&exported)?;
            None
        }
        Some(dir) => Some(OutputTransaction::begin(dir, &exported)?),
        None => None,
    };
    let export_dir = outputs.export_system.as_ref().map(|_| export.as_ref().map_or(staging.dir(), |t| t.dir()));
    let options = RunOptions {
        progress: !quiet,
        export_system: export_dir.map(Path::to_path_buf),
        export_format: outputs.export_format,
    };
    // 2.-6. Mesh, assemble, solve, post-process, analyse.
    let solution = pipeline::solve_case(&case, &options)?;
    let summary = pipeline::summarize(&case, &solution);
    // 7. Write.
    pipeline::write_outputs(staging.dir(), &files, &solution, &summary)?;
    if outputs.plots {
        pipeline::write_plots(staging.dir(), &case, &solution)?;
    }
    let mut written = staging.commit()?;
    if let Some(export) = export {
        written.extend(export.commit()?);
    }
    for warning in &summary.warnings {
        tell!("warning: {warning}");
    }
    if !quiet {
        print_summary(&summary, &written);
    }
    Ok(())
}

/// A sweep's share of the work: one shard of it, or the merge of all shards.
struct SweepParts {
    shard: Option<String>,
    merge: Vec<PathBuf>,
}

fn sweep(
    case: CaseArgs,
    vary: &[String],
    parts: SweepParts,
    out: Option<PathBuf>,
    plot: Vec<String>,
    quiet: bool,
) -> anyhow::Result<()> {
    use ionflux::app::sweep::{merge_shards, run_sweep, Shard, SweepOptions, Vary};
    let varies = vary.iter().map(|spec| Vary::parse(spec)).collect::<Result<Vec<_>, _>>()?;
    let input = CaseInput::from_arg(case.case.as_deref());
    let out_dir = out.unwrap_or_else(|| Path::new("out").join(format!("{}_sweep", output_stem(case.case.as_deref()))));
    let shard = parts.shard.as_deref().map(Shard::parse).transpose()?;
    let options = SweepOptions { out_dir, plot_columns: plot, progress: !quiet, shard };
    let report = if parts.merge.is_empty() {
        run_sweep(&input, &case.set, &varies, &options)?
    } else {
        merge_shards(&parts.merge, &options)?
    };
    if !quiet {
        for point in &report.points {
            match &point.outcome {
                Ok(_) if point.mesh_reused => {
                    say!(
                        "point {:>3} ok      {} (mesh of the previous point reused)",
                        point.index,
                        point.overrides.join(", ")
                    )
                }
                Ok(_) => say!("point {:>3} ok      {}", point.index, point.overrides.join(", ")),
                Err(e) => say!("point {:>3} failed  {}: {e}", point.index, point.overrides.join(", ")),
            }
        }
        let names: Vec<String> = report.written.iter().map(|p| p.display().to_string()).collect();
        say!("wrote {}", names.join(", "));
    }
    Ok(())
}

/// This process's MPI rank: 0 unless the case runs on PETSc, which starts MPI here (under mpiexec, each rank).
#[cfg(feature = "petsc")]
fn mpi_rank(case: &Case) -> anyhow::Result<usize> {
    if case.solver.backend != ionflux::solver::settings::Backend::Petsc {
        return Ok(0);
    }
    ionflux::petsc::initialize()?;
    Ok(ionflux::petsc::rank_and_size().0)
}

#[cfg(not(feature = "petsc"))]
fn mpi_rank(_case: &Case) -> anyhow::Result<usize> {
    Ok(0)
}

fn output_stem(path: Option<&Path>) -> String {
    path.and_then(|p| p.file_stem()).map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "default".into())
}

fn mesh(path: Option<&Path>, set: &[String], out: &Path, ascii: bool, quiet: bool) -> anyhow::Result<()> {
    use ionflux::io::msh::{write_msh, MshEncoding};
    let msh = out.extension().is_some_and(|e| e.eq_ignore_ascii_case("msh"));
    if !msh && ascii {
        anyhow::bail!("--ascii applies to .msh output, not to {}", out.display());
    }
    if !msh && !out.extension().is_some_and(|e| e.eq_ignore_ascii_case("vtu")) {
        anyhow::bail!("--out {}: the mesh is written as .vtu or .msh (Gmsh 4.1); name the file so", out.display());
    }
    let case = load_case(path, set)?;
    let (mesh, quality) = pipeline::mesh_case(&case, &RunOptions { progress: !quiet, ..Default::default() })?;
    match (msh, ascii) {
        (true, true) => write_msh(out, &mesh, MshEncoding::Ascii)?,
        (true, false) => write_msh(out, &mesh, MshEncoding::Binary)?,
        (false, _) => ionflux::io::vtu::write_mesh(out, &mesh)?,
    }
    if !quiet {
        say!("{}", mesh_line(&quality));
        say!("regions:    {}", numbered(&mesh.region_names));
        say!("boundaries: {}", numbered(&mesh.boundary_names));
        if !mesh.interface_names.is_empty() {
            say!("interfaces: {}", numbered(&mesh.interface_names));
        }
        say!("wrote {}", out.display());
    }
    Ok(())
}

fn devices(json: bool) -> anyhow::Result<()> {
    let adapters = ionflux::gpu::list_adapters();
    if json {
        say!("{}", serde_json::to_string_pretty(&adapters)?);
        return Ok(());
    }
    if adapters.is_empty() {
        say!("no GPU adapter found (a Vulkan driver is needed; `apt-get install mesa-vulkan-drivers` gives a CPU one)");
    }
    for a in &adapters {
        say!(
            "{} | {} | {} | driver {} | f64 {} | storage binding {} MiB | buffer {} MiB",
            a.name,
            a.device_type,
            a.backend,
            a.driver,
            if a.shader_f64 { "yes" } else { "no" },
            a.max_storage_buffer_binding_size >> 20,
            a.max_buffer_size >> 20
        );
    }
    Ok(())
}

/// Bench the case's own matrix: mesh and assemble it, then time SpMV and PCG iterations on the CPU and on
/// the GPU the case asks for (a hardware adapter with `auto`; any, software included, with `gpu`, so lavapipe can
/// be measured too); CPU only with `cpu`.
fn bench(path: Option<&Path>, set: &[String], iterations: usize, json: Option<&Path>) -> anyhow::Result<()> {
    let case = load_case(path, set)?;
    let (mesh, _) = pipeline::mesh_case(&case, &RunOptions { progress: true, ..Default::default() })?;
    let assembly = ionflux::fem::assemble(&mesh, &case.problem(&mesh)?)?;
    // As `solve` does: a software adapter only when asked for (`--backend gpu`); on the same cores the CPU
    // rows already say what it would.
    use ionflux::solver::settings::Backend;
    let allow_software = case.solver.backend == Backend::Gpu;
    let request =
        ionflux::gpu::GpuRequest { adapter: case.solver.adapter.clone(), allow_software, ..Default::default() };
    let context = if matches!(case.solver.backend, Backend::Cpu | Backend::Petsc) {
        None
    } else {
        match ionflux::gpu::GpuContext::new(&request) {
            Ok(context) => Some(context),
            Err(reason) => {
                tell!("note: no GPU to bench ({reason}); CPU only");
                None
            }
        }
    };
    let options = case.solver.cg_options();
    let report =
        ionflux::app::bench::run_bench(&assembly.matrix, &assembly.rhs, &options, context.as_ref(), iterations);
    say!("case: {} ({})", case.name, case.source);
    say!("{report}");
    if let Some(path) = json {
        ionflux::io::write_json(path, &report)?;
        say!("wrote {}", path.display());
    }
    Ok(())
}

/// `bench --mesh`: the family of random-sphere interfaces, or the case given.
fn bench_mesh(path: Option<&Path>, set: &[String], nodes: f64, json: Option<&Path>) -> anyhow::Result<()> {
    use ionflux::app::bench::mesh::{bench_mesh, run_family, MeshBenchReport};
    let report = match path {
        Some(_) => {
            MeshBenchReport { threads: rayon::current_num_threads(), cases: vec![bench_mesh(&load_case(path, set)?)?] }
        }
        None => run_family(nodes)?,
    };
    say!("{report}");
    if let Some(path) = json {
        ionflux::io::write_json(path, &report)?;
        say!("wrote {}", path.display());
    }
    Ok(())
}

/// A length on the terminal in nm, um or m with four significant digits ("768.4 nm", "1.500 um").
fn length(metres: f64) -> String {
    let (value, unit) = match metres.abs() {
        m if m < 1e-6 => (metres * 1e9, "nm"),
        m if m < 1e-3 => (metres * 1e6, "um"),
        _ => (metres, "m"),
    };
    format!("{} {unit}", ionflux::io::four_digits(value))
}

/// A current's relative error estimate on the terminal: " ± 0.08 %" (blank when none was made).
fn error_bar(relative: Option<f64>) -> String {
    match relative {
        Some(0.0) => " ± 0 %".into(),
        Some(r) if r < 1e-4 => format!(" ± {:.1e} %", 100.0 * r),
        Some(r) => format!(" ± {:.2} %", 100.0 * r),
        None => String::new(),
    }
}

fn numbered(names: &[String]) -> String {
    names.iter().enumerate().map(|(i, n)| format!("{i}={n}")).collect::<Vec<_>>().join(", ")
}

fn mesh_line(q: &ionflux::mesh::quality::MeshQuality) -> String {
    format!(
        "mesh:       {} nodes, {} tets; edges {} .. {}; dihedral angles {:.1} .. {:.1} deg",
        q.nodes,
        q.tets,
        length(q.shortest_edge_m),
        length(q.longest_edge_m),
        q.min_dihedral_deg,
        q.max_dihedral_deg
    )
}

fn print_summary(s: &Summary, written: &[PathBuf]) {
    say!("case:       {} ({})", s.case.name, s.case.source);
    say!("{}", mesh_line(&s.mesh.quality));
    say!(
        "solver:     {} {} on {}: {} unknowns, {} iterations, relative residual {:.2e} ({:.2} s)",
        s.solver.backend,
        s.solver.precision,
        s.solver.device,
        s.solver.unknowns,
        s.solver.iterations,
        s.solver.relative_residual,
        s.solver.seconds
    );
    if let Some(newton) = &s.newton {
        let history: Vec<String> = newton
            .steps
            .iter()
            .map(|step| {
                let length = if step.step_length != 1.0 { format!(" x{}", step.step_length) } else { String::new() };
                format!("{:.1e}{length} ({} it)", step.relative_residual, step.linear_iterations)
            })
            .collect();
        say!(
            "newton:     {} steps to relative residual {:.2e} ({:.2} s); per step the residual it started from, the \
             step length when shortened and the linear iterations: {}",
            newton.steps.len(),
            newton.relative_residual,
            newton.seconds,
            history.join(", ")
        );
    }
    let sizes: Vec<String> = s.solver.levels.iter().map(|l| l.unknowns.to_string()).collect();
    say!(
        "preconditioner: {}, {} level(s) ({} unknowns), operator complexity {:.2}, setup {:.2} s",
        s.solver.preconditioner,
        s.solver.levels.len(),
        sizes.join(" / "),
        s.solver.operator_complexity,
        s.solver.setup_seconds
    );
    say!("currents leaving the electrolyte (A), and each surface's mean potential (V):");
    let reference = s.reference_electrode.as_ref().map_or(String::new(), |r| r.name.clone());
    for c in s.boundaries.iter().chain(&s.hotspots) {
        let voltage = c.voltage_v.map_or(String::new(), |v| format!("; {v:+.6} V against {reference}"));
        let asr = c.area_specific_resistance.map_or(String::new(), |r| format!(", {r:.5e} Ohm m^2 area-specific"));
        if c.resolved {
            say!(
                "  {:<16} {:>12.5e}{}  ({}, {:.6} V{voltage}{asr})",
                c.name,
                c.current_a,
                error_bar(c.relative_error_estimate),
                c.condition,
                c.mean_potential_v
            );
        } else {
            say!(
                "  {:<16} |I| < {:.1e}  ({}; not resolved: below the round-off of its terms)",
                c.name,
                c.resolution_bound_a,
                c.condition
            );
        }
    }
    for (name, k) in s.boundaries.iter().chain(&s.hotspots).filter_map(|c| Some((&c.name, c.kinetics.as_ref()?))) {
        say!(
            "  {name}: Butler-Volmer, overpotential {:.4} V mean ({:.4} .. {:.4} V), current density {:.4e} A/m^2 \
             mean, max / mean {:.3}",
            k.mean_overpotential_v,
            k.min_overpotential_v,
            k.max_overpotential_v,
            k.mean_current_density,
            k.non_uniformity
        );
    }
    for g in &s.hotspot_groups {
        let relative = g.error_estimate_a.filter(|_| g.current_sum_a != 0.0).map(|e| (e / g.current_sum_a).abs());
        say!(
            "  {:<16} {:>12.5e}{}  (sum over its {} hot spots; mean {:.5e}, from {:.5e} to {:.5e})",
            g.name,
            g.current_sum_a,
            error_bar(relative),
            g.members,
            g.current_mean_a,
            g.current_min_a,
            g.current_max_a
        );
    }
    if s.hotspots.len() > 1 && s.hotspot_groups.iter().all(|g| g.members < s.hotspots.len()) {
        let total: f64 = s.hotspots.iter().map(|h| h.current_a).sum();
        say!("  {:<16} {:>12.5e}  (sum over the {} hot spots)", "all hot spots", total, s.hotspots.len());
    }
    say!("conservation: |sum| / max = {:.2e}", s.conservation.relative_imbalance);
    if s.mesh.quality.ungrouped_boundary_faces > 0 {
        say!(
            "  ({} exterior faces of the mesh file are in no physical group: the `{}` boundary above)",
            s.mesh.quality.ungrouped_boundary_faces,
            ionflux::mesh::gmsh::UNGROUPED
        );
    }
    for c in &s.surfaces {
        say!("current through surface {}: {:.5e} A, {}", c.name, c.current_a, c.orientation);
    }
    for i in &s.interfaces {
        say!(
            "interface {} (R = {:.3e} Ohm m^2): {:.5e} A{} upward, potential jump {:.5e} V",
            i.name,
            i.resistance_ohm_m2,
            i.current_a,
            error_bar(i.relative_error_estimate),
            i.potential_jump_v
        );
    }
    for c in &s.cylinders {
        say!(
            "lateral current through r = {} around {}: {:.5e} A, |J_r| peaks at z = {}",
            length(c.radius_m),
            c.hotspot,
            c.lateral_current_A,
            length(c.peak_depth_m)
        );
    }
    for l in &s.lithiation {
        say!(
            "lithiation {} {}: {:.4e} C at {:.2} V, {:.4e} A into the hot spot -> {:.4e} s",
            l.hotspot,
            l.step,
            l.charge_C,
            l.potential_V,
            l.current_A,
            l.time_s
        );
    }
    for p in &s.paper_mode {
        say!(
            "paper mode {}: Gaussian charge {:.4e} C (w = {}) gives {:.4} V at {}; current {:.5e} A",
            p.hotspot,
            p.charge_C,
            length(p.width_m),
            p.potential_at_distance_V,
            length(p.calibration_distance_m),
            p.current_A
        );
    }
    for v in &s.voids {
        say!(
            "void {} (r = {}): mean J into the interface over the rim annulus {} wide {:.4e} A/m^2 = {:.3} x \
             applied {:.4e} A/m^2; constriction resistance {:.5e} Ohm (top to interface {:.5e} Ohm)",
            v.hotspot,
            length(v.radius_m),
            length(v.rim_width_m),
            v.rim_current_density_A_per_m2,
            v.focusing_factor,
            v.applied_current_density_A_per_m2,
            v.constriction_resistance_Ohm,
            v.resistance_Ohm
        );
    }
    let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    say!("wrote {}", names.join(", "));
}
