//! The geometry a case describes, in SI units, as the mesher consumes it. The case file layer
//! (`crate::case`) turns TOML with units into these plain types.

use glam::DVec3;

/// A planar layer stacked from z = 0 upward (the first one touches the interface).
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// Region name given to its tets (also the key of its material).
    pub region: String,
    /// Thickness in metres.
    pub thickness: f64,
    /// Interfacial resistance (Ohm m^2) between this layer and what lies on it (the next layer or the
    /// bulk); `None`: the potential is continuous there.
    pub top_resistance: Option<f64>,
}

/// The top plane of a layer with an interfacial resistance: the mesh's nodes are duplicated on it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResistivePlane {
    /// "<layer region>|<region above>", e.g. "li3sb|llzo".
    pub name: String,
    /// Index of the layer whose top it is.
    pub layer: usize,
    pub z: f64,
    /// Ohm m^2.
    pub resistance: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HotSpotShape {
    /// A depleted region removed from the domain; its surface becomes a boundary.
    Sphere { center: DVec3, radius: f64 },
    /// A patch of the interface plane z = 0 with its own boundary condition.
    Disk { center_x: f64, center_y: f64, radius: f64 },
}

/// The smallest hot-spot radius the mesher resolves with the smallest element size `h_min`.
pub fn min_resolvable_radius(h_min: f64) -> f64 {
    2.0 * h_min
}

impl HotSpotShape {
    /// Whether the spot meets the horizontal plane at height `z` (a resistive layer plane, above the interface
    /// on which disks lie).
    pub fn meets_plane(&self, z: f64) -> bool {
        match *self {
            HotSpotShape::Sphere { center, radius } => (center.z - z).abs() <= radius,
            HotSpotShape::Disk { .. } => false,
        }
    }

    /// The (x, y) of the vertical axis through the spot's centre.
    pub fn axis(&self) -> (f64, f64) {
        match *self {
            HotSpotShape::Sphere { center, .. } => (center.x, center.y),
            HotSpotShape::Disk { center_x, center_y, .. } => (center_x, center_y),
        }
    }

    /// Why a sphere does not lie wholly above the interface plane z = 0 (centre z > radius), or None.
    pub fn cuts_interface(&self) -> Option<String> {
        match *self {
            HotSpotShape::Sphere { center, radius } if center.z <= radius => Some(format!(
                "its centre z = {} must exceed its radius {} (a depleted region touching the interface is a disk \
                 hot spot)",
                show_length(center.z),
                show_length(radius)
            )),
            _ => None,
        }
    }

    /// Why the hot spot is not strictly inside the box [0, size] (a disk: inside the interface rectangle), or
    /// None.
    pub fn outside_box(&self, size: DVec3) -> Option<String> {
        let (lows, highs, box_text) = match *self {
            HotSpotShape::Sphere { center, radius } => (center - radius, center + radius, "box"),
            HotSpotShape::Disk { center_x, center_y, radius } => {
                let center = DVec3::new(center_x, center_y, 0.0);
                let half = DVec3::new(radius, radius, 0.0);
                (center - half, center + half, "interface rectangle")
            }
        };
        let inside = lows.x > 0.0 && lows.y > 0.0 && highs.x < size.x && highs.y < size.y && highs.z < size.z;
        let span = |low: f64, high: f64| format!("[{}, {}]", show_length(low), show_length(high));
        (!inside).then(|| {
            format!(
                "it spans x {}, y {}, z {}, not strictly inside the {box_text} x [0, {}], y [0, {}], z [0, {}]",
                span(lows.x, highs.x),
                span(lows.y, highs.y),
                span(lows.z, highs.z),
                show_length(size.x),
                show_length(size.y),
                show_length(size.z)
            )
        })
    }

    /// Why two hot spots closer than `gap` (surface to surface) clash, or None. Spheres lie above z = 0 and
    /// disks on it, so a sphere and a disk never meet.
    pub fn clash(&self, other: &HotSpotShape, gap: f64) -> Option<String> {
        let (distance, ra, rb) = match (self, other) {
            (HotSpotShape::Sphere { center: ca, radius: ra }, HotSpotShape::Sphere { center: cb, radius: rb }) => {
                (ca.distance(*cb), *ra, *rb)
            }
            (
                HotSpotShape::Disk { center_x: xa, center_y: ya, radius: ra },
                HotSpotShape::Disk { center_x: xb, center_y: yb, radius: rb },
            ) => ((xa - xb).hypot(ya - yb), *ra, *rb),
            _ => return None,
        };
        // Touching counts: the relative slack absorbs rounding ("1.02 um" - "1 um" is not exactly 20 nm).
        (distance <= (ra + rb + gap) * (1.0 + 1e-9)).then(|| {
            format!(
                "their centres are {} apart, radii {} + {}",
                show_length(distance),
                show_length(ra),
                show_length(rb)
            )
        })
    }
}

/// A named hot spot; its name is the name of the boundary it creates (and under which its current
/// is reported). `group` names the `[boundaries.<group>]` entry that gives its condition: the hot
/// spot's own name for a single hot spot, the array's name for members of an array.
#[derive(Debug, Clone, PartialEq)]
pub struct HotSpot {
    pub name: String,
    pub group: String,
    pub shape: HotSpotShape,
}

/// The domain: the box [0, size.x] x [0, size.y] x [0, size.z] with layers and hot spots.
/// The region above the last layer up to z = size.z is `bulk_region` (the electrolyte).
#[derive(Debug, Clone, PartialEq)]
pub struct Geometry {
    pub size: DVec3,
    pub layers: Vec<Layer>,
    pub bulk_region: String,
    pub hotspots: Vec<HotSpot>,
}

impl Geometry {
    /// The layers' resistive top planes, bottom to top.
    pub fn resistive_planes(&self) -> Vec<ResistivePlane> {
        let mut top = 0.0;
        let mut planes = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            top += layer.thickness;
            if let Some(resistance) = layer.top_resistance {
                let above = self.layers.get(i + 1).map_or(&self.bulk_region, |l| &l.region);
                planes.push(ResistivePlane { name: format!("{}|{above}", layer.region), layer: i, z: top, resistance });
            }
        }
        planes
    }
}

/// Element-size controls, in metres. The target size grows linearly with the distance d from a
/// feature, h(d) = h_feature + (grading - 1) d, capped at `h_max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeshControls {
    /// Largest element edge far from features.
    pub h_max: f64,
    /// Element size at hot-spot surfaces (spheres, disk edges).
    pub h_min: f64,
    /// Element size at the interface plane z = 0 away from hot spots (and at layer planes).
    pub h_interface: f64,
    /// Ratio between neighbouring element sizes as they grow away from features (> 1).
    pub grading: f64,
    /// The most nodes the mesh may have: checked against the size field's node estimate before meshing, and
    /// against the count while refining.
    pub max_nodes: usize,
}

/// The largest grading the mesher accepts: beyond it neighbouring elements differ by more than a factor four.
pub const MAX_GRADING: f64 = 4.0;

/// Nodes are numbered in 32 bits; the last value marks "none" in several arrays.
pub const MAX_NODE_INDEX: usize = u32::MAX as usize - 1;

/// A node limit for tests and examples: well above their meshes, well below a workstation's memory.
pub const DEFAULT_MAX_NODES: usize = 20_000_000;

/// Bytes per mesh node a whole `solve` needs at its peak (measured, BENCHMARKS.md), with some margin.
pub const BYTES_PER_NODE: u64 = 600;

/// The node limit the machine's available memory allows: MemAvailable / [`BYTES_PER_NODE`] (Linux), else
/// [`DEFAULT_MAX_NODES`].
pub fn max_nodes_for_this_machine() -> usize {
    let available = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok()
    });
    match available {
        Some(kib) => (kib * 1024 / BYTES_PER_NODE).max(1) as usize,
        None => DEFAULT_MAX_NODES,
    }
}

/// A length for messages: "25 nm", "1.5 um".
pub fn show_length(metres: f64) -> String {
    let (value, unit) = if metres.abs() < 1e-6 {
        (metres * 1e9, "nm")
    } else if metres.abs() < 1e-3 {
        (metres * 1e6, "um")
    } else {
        (metres, "m")
    };
    format!("{} {unit}", (value * 1e6).round() / 1e6)
}

/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014):
/// a 64-bit counter advanced by the golden-ratio constant and mixed by two xor-shift-multiply rounds.
/// Integer arithmetic only, so a seed gives the same sequence on every platform.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in the open interval (0, 1): the top 53 bits, offset by half a step.
    pub fn next_open01(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (low, high); exactly `low` when the range is empty.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        if high > low {
            low + (high - low) * self.next_open01()
        } else {
            low
        }
    }
}
