//! `ionflux bench --mesh`: what each mesher stage (refine, surfaces, tag, quality) costs per node, in seconds per
//! million nodes and peak resident bytes per node, on a family of random-sphere interfaces of about the same node
//! count with 1, 50, 200 and 1000 spheres; each figure also as a ratio to the one-sphere case of the same run,
//! which is what says whether the cost grows with the number of hot spots.

use crate::case::Case;

use crate::study::{MeshSource, StudyError};
use serde::Serialize;
use std::fmt;
use std::time::Instant;

/// The mesher's stages, in order, as its progress callback names them.
pub const MESH_STAGES: [&str; 4] = ["refine", "surfaces", "tag", "quality"];

/// Sphere counts of the family.
pub const FAMILY_SPHERES: [usize; 4] = [1, 50, 200, 1000];

/// One stage of one mesh.
#[derive(Debug, Clone, Serialize)]
pub struct StageCost {
    pub stage: String,
    pub seconds: f64,
    pub seconds_per_million_nodes: f64,
    /// Peak resident memory during the stage over the final node count (Linux; None elsewhere).
    pub peak_bytes_per_node: Option<f64>,
}

/// One meshed case.
#[derive(Debug, Clone, Serialize)]
pub struct MeshBench {
    pub case: String,
    pub spheres: usize,
    /// None for a mesh file.
    pub estimated_nodes: Option<f64>,
    pub nodes: usize,
    pub tets: usize,
    pub min_dihedral_deg: f64,
    pub max_dihedral_deg: f64,
    pub seconds: f64,
    pub stages: Vec<StageCost>,
}

/// The family, with each figure's ratio to the first (one-sphere) case.
#[derive(Debug, Clone, Serialize)]
pub struct MeshBenchReport {
    pub threads: usize,
    pub cases: Vec<MeshBench>,
}

/// Resets the process's peak resident memory (Linux: `/proc/self/clear_refs`), so the next reading is the peak
/// of what follows.
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The peak resident memory since the last reset (bytes), where the system reports it.
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The node count a generated case's size field implies (before meshing); counting stops past `limit`.
fn estimated_nodes(case: &Case, limit: f64) -> Result<f64, StudyError> {
    Ok(MeshSource::of(case).estimated_nodes(limit)?.unwrap_or(f64::INFINITY))
}

/// Meshes `case` with a clock and a memory reading per stage.
pub fn bench_mesh(case: &Case) -> Result<MeshBench, StudyError> {
    let estimated = MeshSource::of(case).estimated_nodes(f64::INFINITY)?;
    let mut marks: Vec<(String, f64, Option<u64>)> = Vec::new();
    let start = Instant::now();
    reset_peak_memory();
    let mut current = String::new();
    let (mesh, quality) = crate::study::mesh_case(case, &mut |progress| {
        let stage = progress.stage;
        if stage != current && MESH_STAGES.contains(&stage) {
            if !current.is_empty() {
                marks.push((current.clone(), start.elapsed().as_secs_f64(), peak_memory()));
                reset_peak_memory();
            }
            current = stage.to_string();
        }
    })?;
    let seconds = start.elapsed().as_secs_f64();
    marks.push((current, seconds, peak_memory()));
    let nodes = mesh.nodes.len();
    drop(mesh);
    let mut stages = Vec::new();
    let mut before = 0.0;
    for (stage, at, peak) in marks {
        stages.push(StageCost {
            stage,
            seconds: at - before,
            seconds_per_million_nodes: (at - before) / nodes as f64 * 1e6,
            peak_bytes_per_node: peak.map(|p| p as f64 / nodes as f64),
        });
        before = at;
    }
    Ok(MeshBench {
        case: case.name.clone(),
        spheres: case.hotspots().len(),
        estimated_nodes: estimated,
        nodes,
        tets: quality.tets,
        min_dihedral_deg: quality.min_dihedral_deg,
        max_dihedral_deg: quality.max_dihedral_deg,
        seconds,
        stages,
    })
}

/// A random-sphere interface: `spheres` depleted Sb spheres (radius 10-20 nm, centres 25-60 nm deep, at least
/// 100 nm apart) on an L x L x L/4 box, meshed at h_max 1 um, h_min 4 nm and the given h_interface.
pub fn sphere_case(spheres: usize, side_um: f64, h_interface_nm: f64) -> Result<Case, crate::case::CaseError> {
    let text = format!(
        r#"name = "{spheres} spheres, {side_um:.1} um, h_i {h_interface_nm:.0} nm"
[domain]
size = ["{side_um} um", "{side_um} um", "{height} um"]
material = "llzo"
[materials.llzo]
conductivity = "0.00216 S/cm"
[boundaries.interface]
type = "dirichlet"
potential = "0 V"
[boundaries.top]
type = "neumann"
current_density = "50 mA/cm^2"
[[hotspot_random]]
name = "rand"
shape = "sphere"
count = {spheres}
radius = ["10 nm", "20 nm"]
depth = ["25 nm", "60 nm"]
seed = 1
min_gap = "100 nm"
[boundaries.rand]
type = "dirichlet"
potential = "0.90 V"
[mesh]
h_max = "1 um"
h_interface = "{h_interface_nm} nm"
h_min = "4 nm"
"#,
        height = side_um / 4.0
    );
    Case::from_toml_str(&text, "mesh bench family", &[])
}

/// The interface h_interface of the family's largest member; the others are refined toward the interface until
/// they have as many nodes.
const FAMILY_H_INTERFACE_NM: f64 = 250.0;

/// The family at about `nodes` nodes each, on one box: sized so that the 1000-sphere member at h_interface 250 nm
/// has that many nodes; members with fewer spheres refine the interface (a smaller h_interface) to the same count,
/// so every member is mostly refined mesh and the comparison isolates the number of surfaces.
pub fn family(nodes: f64) -> Result<Vec<Case>, StudyError> {
    let largest = *FAMILY_SPHERES.iter().max().expect("the family has members");
    // Bisections on a log scale to 0.1 %; counting stops once a candidate is known to be too large.
    let bisect = |mut small: f64, mut large: f64, too_large: &dyn Fn(f64) -> Result<bool, StudyError>| {
        while large / small > 1.001 {
            let mid = (small * large).sqrt();
            if too_large(mid)? {
                large = mid;
            } else {
                small = mid;
            }
        }
        Ok::<f64, StudyError>(large)
    };
    // A box too small to place the spheres counts as too small.
    let side = bisect(2.0, 400.0, &|side| match sphere_case(largest, side, FAMILY_H_INTERFACE_NM) {
        Ok(case) => Ok(estimated_nodes(&case, nodes)? >= nodes),
        Err(_) => Ok(false),
    })?;
    FAMILY_SPHERES
        .iter()
        .map(|&spheres| {
            let h_interface = if spheres == largest {
                FAMILY_H_INTERFACE_NM
            } else {
                // Fewer nodes as h_interface grows: "too large" means a count below the target.
                bisect(4.0, FAMILY_H_INTERFACE_NM, &|h| {
                    let case = sphere_case(spheres, side, h)?;
                    Ok(estimated_nodes(&case, nodes)? < nodes)
                })?
            };
            Ok(sphere_case(spheres, side, h_interface)?)
        })
        .collect()
}

/// Meshes the family at about `nodes` nodes each.
pub fn run_family(nodes: f64) -> Result<MeshBenchReport, StudyError> {
    let cases = family(nodes)?.iter().map(bench_mesh).collect::<Result<_, _>>()?;
    Ok(MeshBenchReport { threads: rayon::current_num_threads(), cases })
}

impl fmt::Display for MeshBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "mesher cost per stage ({} threads); ratios are to the first case, measured in this run",
            self.threads
        )?;
        writeln!(
            f,
            "{:<34} {:>10} {:>10} {:>8} {:<9} {:>10} {:>7} {:>10} {:>7}",
            "case", "nodes", "estimate", "min deg", "stage", "s/Mnode", "ratio", "B/node", "ratio"
        )?;
        let first = self.cases.first();
        for case in &self.cases {
            for (i, stage) in case.stages.iter().enumerate() {
                let base = first.and_then(|c| c.stages.iter().find(|s| s.stage == stage.stage));
                let time_ratio =
                    base.map_or(f64::NAN, |b| stage.seconds_per_million_nodes / b.seconds_per_million_nodes);
                let memory_ratio = match (stage.peak_bytes_per_node, base.and_then(|b| b.peak_bytes_per_node)) {
                    (Some(m), Some(b)) => m / b,
                    _ => f64::NAN,
                };
                let (name, nodes, estimate, angle) = if i == 0 {
                    (
                        case.case.as_str(),
                        case.nodes.to_string(),
                        case.estimated_nodes.map_or("-".into(), |n| format!("{n:.3e}")),
                        format!("{:.1}", case.min_dihedral_deg),
                    )
                } else {
                    ("", String::new(), String::new(), String::new())
                };
                writeln!(
                    f,
                    "{name:<34} {nodes:>10} {estimate:>10} {angle:>8} {:<9} {:>10.3} {:>7.2} {:>10} {:>7.2}",
                    stage.stage,
                    stage.seconds_per_million_nodes,
                    time_ratio,
                    stage.peak_bytes_per_node.map_or("-".to_string(), |b| format!("{b:.0}")),
                    memory_ratio
                )?;
            }
            let total = case.seconds / case.nodes as f64 * 1e6;
            let base_total = first.map_or(f64::NAN, |c| c.seconds / c.nodes as f64 * 1e6);
            writeln!(
                f,
                "{:<34} {:>10} {:>10} {:>8} {:<9} {:>10.3} {:>7.2}",
                "",
                "",
                "",
                "",
                "all",
                total,
                total / base_total
            )?;
        }
        Ok(())
    }
}
