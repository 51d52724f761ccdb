//! Parameter sweeps (`ionflux sweep`): one solve per point of a grid of `--set` overrides, then
//! `sweep.csv` (one row per point with every number of its summary), `sweep.pvd` (a ParaView collection
//! of the points' VTU files) and `sweep.png` (chosen outputs against the first varied key).
//!
//! A `--vary` spec is `KEY=FROM..TO:N[:log]`: KEY is a case key path as for `--set`, FROM and TO are
//! values with the same unit ("0.80 V..0.95 V:4"); the number is interpolated (linearly, or
//! geometrically with `:log`) and the unit kept, so each point is an ordinary `--set` override.
//! Several `--vary` make the Cartesian product (the last one varies fastest).

mod files;
mod shard;
mod spec;

pub use files::flatten_numbers;
pub use shard::{merge_shards, split_csv_line, Shard, ShardRecord, SHARD_FILE};
pub use spec::{Vary, VaryValue};

use super::pipeline::{self, RunOptions};
use super::progress::Stage;
use super::CaseInput;
use crate::case::{Case, Meshing};
use crate::io::plot::PlotError;
use crate::io::summary::Timings;
use crate::io::transaction::OutputTransaction;
use crate::io::{self, OutputError};
use crate::mesh::geometry::MeshControls;
use crate::mesh::quality::MeshQuality;
use crate::mesh::Mesh;
use crate::solver::settings::SolverSettings;
use crate::solver::SymmetricSolver;
use files::{csv_text, plot_points, pvd_text, summary_columns};
use std::path::{Path, PathBuf};

/// The most points one sweep may have (a typo such as `:1000000` should not start a week of solves).
pub const MAX_POINTS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("--vary `{spec}`: {reason}")]
    BadVary { spec: String, reason: String },
    #[error("the sweep has {points} points, more than the {MAX_POINTS} allowed")]
    TooManyPoints { points: usize },
    #[error("--plot `{column}`: no such column in sweep.csv; numeric columns: {known}")]
    UnknownPlotColumn { column: String, known: String },
    #[error("no sweep point can be loaded, so nothing was solved; the first: {first_error}")]
    NoPointLoads { first_error: String },
    #[error("every one of the {points} sweep points failed; the first: {first_error}")]
    AllFailed { points: usize, first_error: String },
    #[error("--shard `{text}`: {reason}")]
    BadShard { text: String, reason: String },
    #[error("--merge: {reason}")]
    BadMerge { reason: String },
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Plot(#[from] PlotError),
}

#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub out_dir: PathBuf,
    /// CSV columns to plot; empty: every `hotspots.*.current_A`, else `boundaries.interface.current_A`.
    pub plot_columns: Vec<String>,
    /// Show the progress bar over points.
    pub progress: bool,
    /// Run only this shard's points (`--shard K/N`), recording it in `sweep_shard.json`.
    pub shard: Option<Shard>,
}

/// A point's summary numbers as (dotted column name, value), in summary order.
pub type SummaryNumbers = Vec<(String, f64)>;

/// One point of the sweep and how it went.
#[derive(Debug, Clone)]
pub struct PointRecord {
    pub index: usize,
    /// The `--set` overrides of this point (after the base ones).
    pub overrides: Vec<String>,
    /// SI value of each varied key.
    pub values: Vec<f64>,
    /// The point's summary numbers, or why it failed.
    pub outcome: Result<SummaryNumbers, String>,
    /// The point's solution.vtu, if written.
    pub vtu: Option<PathBuf>,
    /// The point reused the previous point's mesh (it changes no geometry or mesh key).
    pub mesh_reused: bool,
}

#[derive(Debug, Clone)]
pub struct SweepReport {
    pub points: Vec<PointRecord>,
    /// sweep.csv, sweep.pvd (if any VTU), sweep.png (if any point succeeded).
    pub written: Vec<PathBuf>,
}

/// Runs every point (`base_set` then the point's overrides), writes each point's outputs into
/// `out_dir/point_<k>/` and the sweep files into `out_dir`, as one transaction: nothing appears in `out_dir` unless
/// the whole sweep succeeds. A failed point is recorded and the sweep goes on; the result is an error for bad
/// arguments (found before the first solve: every point's case is loaded first; the plot columns are checked
/// after the first successful point), unwritable files, or when every point failed.
pub fn run_sweep(
    input: &CaseInput,
    base_set: &[String],
    varies: &[Vary],
    options: &SweepOptions,
) -> Result<SweepReport, SweepError> {
    let all_points = grid_points(varies)?;
    let mine = options.shard.map_or(0..all_points.len(), |shard| shard.points(all_points.len()));
    let grid = &all_points[mine.clone()];
    let overrides: Vec<Vec<String>> = grid
        .iter()
        .map(|choice| varies.iter().zip(choice).map(|(v, &i)| format!("{}={}", v.key, v.values[i].text)).collect())
        .collect();
    // A key or value no point can load (a typo) stops the sweep before any solve.
    let loaded: Vec<Result<Case, String>> = overrides
        .iter()
        .map(|o| input.load(&base_set.iter().chain(o).cloned().collect::<Vec<_>>()).map_err(|e| e.to_string()))
        .collect();
    if let Some(Err(first)) = loaded.iter().find(|c| c.is_err()).filter(|_| loaded.iter().all(|c| c.is_err())) {
        return Err(SweepError::NoPointLoads { first_error: first.clone() });
    }
    let staging = OutputTransaction::begin(&options.out_dir, &["sweep.csv"])?;
    let bar = Stage::new("sweep", options.progress);
    let mut points: Vec<PointRecord> = Vec::with_capacity(grid.len());
    // One solver (one GPU device, one multigrid setup while the matrix stays the same) for every point with the
    // same solver settings; a point that varies `solver.*` gets its own.
    let mut solver: Option<(SolverSettings, Box<dyn SymmetricSolver>)> = None;
    let mut last_mesh: Option<LastMesh> = None;
    for (index, ((choice, overrides), case)) in mine.clone().zip(grid.iter().zip(overrides).zip(loaded)) {
        bar.update(
            (index - mine.start) as f64 / grid.len() as f64,
            &format!("point {}/{}: {}", index + 1, all_points.len(), overrides.join(", ")),
        );
        let values = varies.iter().zip(choice).map(|(v, &i)| v.values[i].si).collect();
        let point_dir = staging.dir().join(format!("point_{index}"));
        // The previous point's mesh when this point changes no geometry or mesh key (a sweep of potentials,
        // conductivities or resistances meshes once); it is dropped before a new one is made.
        // A point that adapts its mesh (`[adapt]`) makes its own: its values decide where it refines.
        let reusable = case
            .as_ref()
            .ok()
            .filter(|case| case.adapt.is_none())
            .and_then(|case| last_mesh.take().filter(|l| l.key == LastMesh::key(case)));
        let mesh_reused = reusable.is_some();
        let solved = case.and_then(|case| {
            let (numbers, vtu, mesh) = solve_point(&case, reusable, &point_dir, &mut solver)?;
            last_mesh = Some(mesh);
            Ok((numbers, vtu))
        });
        let (outcome, vtu) = match solved {
            Ok((numbers, vtu)) => (Ok(numbers), vtu),
            Err(message) => (Err(message), None),
        };
        let first_success = outcome.is_ok() && points.iter().all(|p| p.outcome.is_err());
        points.push(PointRecord { index, overrides, values, outcome, vtu, mesh_reused });
        if first_success {
            // A wrong --plot column is known from the first solved point: stop before the others.
            files::plotted_columns(&summary_columns(&points), &options.plot_columns)?;
        }
    }
    bar.finish();

    if points.iter().all(|p| p.outcome.is_err()) {
        return Err(SweepError::AllFailed { points: points.len(), first_error: first_error(&points) });
    }
    let columns = summary_columns(&points);
    io::write_atomic(&staging.dir().join("sweep.csv"), csv_text(varies, &columns, &points).as_bytes())?;
    if points.iter().any(|p| p.vtu.is_some()) {
        io::write_atomic(&staging.dir().join("sweep.pvd"), pvd_text(staging.dir(), varies, &points).as_bytes())?;
    }
    plot_points(&staging.dir().join("sweep.png"), varies, &columns, &points, &options.plot_columns)?;
    if let Some(shard) = options.shard {
        let record = ShardRecord::new(shard, all_points.len(), varies, base_set, input);
        let text = serde_json::to_string_pretty(&record).expect("a shard record serializes infallibly");
        io::write_atomic(&staging.dir().join(SHARD_FILE), text.as_bytes())?;
    }
    for point in &mut points {
        point.vtu = point.vtu.as_ref().map(|path| staging.final_path(path));
    }
    let written = staging.commit()?.into_iter().filter(|p| p.is_file()).collect();
    Ok(SweepReport { points, written })
}

fn first_error(points: &[PointRecord]) -> String {
    points.iter().find_map(|p| p.outcome.as_ref().err().cloned()).unwrap_or_default()
}

/// Indices into each vary's values for every point, the last vary fastest.
fn grid_points(varies: &[Vary]) -> Result<Vec<Vec<usize>>, SweepError> {
    let total = varies.iter().try_fold(1usize, |n, v| n.checked_mul(v.values.len()).filter(|&n| n <= MAX_POINTS));
    let Some(total) = total else {
        let points = varies.iter().map(|v| v.values.len() as f64).product::<f64>() as usize;
        return Err(SweepError::TooManyPoints { points });
    };
    Ok((0..total)
        .map(|mut flat| {
            let mut choice = vec![0; varies.len()];
            for (slot, v) in choice.iter_mut().zip(varies).rev() {
                *slot = flat % v.values.len();
                flat /= v.values.len();
            }
            choice
        })
        .collect())
}

/// A point's mesh with what it was made from (the case's geometry, mesh controls and mesh file) and the seconds
/// it took (0 when it is the previous point's).
struct LastMesh {
    key: (Meshing, MeshControls),
    mesh: Mesh,
    quality: MeshQuality,
    seconds: f64,
}

impl LastMesh {
    /// What the mesh is made from. The node limit is left out: it bounds a mesh without shaping it, and its
    /// default follows the memory available when each point's case was loaded, which differs between points.
    fn key(case: &Case) -> (Meshing, MeshControls) {
        let controls = MeshControls { max_nodes: 0, ..case.mesh };
        (case.meshing.clone(), controls)
    }
}

/// Solve, summarize and write one point, on the previous point's mesh when given (else meshed anew, adaptively
/// with `[adapt]`), on `solver` when it was made for the same settings; any failure becomes its message. The mesh
/// comes back (from the solution, not copied) for the next point, marked as costing no meshing time there.
fn solve_point(
    case: &Case,
    meshed: Option<LastMesh>,
    point_dir: &Path,
    solver: &mut Option<(SolverSettings, Box<dyn SymmetricSolver>)>,
) -> Result<(SummaryNumbers, Option<PathBuf>, LastMesh), String> {
    let options = RunOptions { progress: false, ..Default::default() };
    if solver.as_ref().is_none_or(|(settings, _)| *settings != case.solver) {
        *solver = None;
        let selected = pipeline::select_solver(case, &options).map_err(|e| e.to_string())?;
        *solver = Some((case.solver.clone(), selected));
    }
    let (_, selected) = solver.as_mut().expect("selected above");
    let solution = match meshed {
        Some(LastMesh { mesh, quality, seconds, .. }) => {
            let timings = Timings { mesh: seconds, ..Timings::default() };
            pipeline::solve_meshed(case, mesh, quality, timings, selected.as_mut(), &options)
        }
        None => pipeline::solve_case_with(case, selected.as_mut(), &options),
    }
    .map_err(|e| e.to_string())?;
    let (key, quality) = (LastMesh::key(case), solution.quality);
    let summary = pipeline::summarize(case, &solution);
    pipeline::write_outputs(point_dir, &case.output, &solution, &summary).map_err(|e| e.to_string())?;
    let value = serde_json::to_value(&summary).expect("summaries serialize infallibly");
    let mut numbers = Vec::new();
    flatten_numbers("", &value, &mut numbers);
    let vtu = case.output.vtu.then(|| point_dir.join("solution.vtu"));
    Ok((numbers, vtu, LastMesh { key, mesh: solution.mesh, quality, seconds: 0.0 }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cartesian_product_runs_the_last_key_fastest() {
        let a = Vary::parse("a=1..2:2").unwrap();
        let b = Vary::parse("b=1..3:3").unwrap();
        let grid = grid_points(&[a, b]).unwrap();
        assert_eq!(grid, vec![vec![0, 0], vec![0, 1], vec![0, 2], vec![1, 0], vec![1, 1], vec![1, 2]]);
        let big = Vary::parse("c=1..2:200").unwrap();
        let err = grid_points(&[big.clone(), big]).unwrap_err();
        assert!(matches!(err, SweepError::TooManyPoints { points: 40000 }), "{err}");
    }
}
