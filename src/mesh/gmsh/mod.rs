//! Gmsh MSH 4.1 meshes read into a [`Mesh`] (`[mesh] file` in a case), named by their physical groups:
//!
//! - every physical volume group is a region (its name, or `#<tag>` where the file names none); every tet must
//!   lie in exactly one;
//! - a physical surface group whose triangles are exterior faces of the tets is a boundary; exterior faces in
//!   no group form the boundary [`UNGROUPED`] (insulating unless the case says otherwise);
//! - a physical surface group whose triangles are faces between two tets is a measurement surface
//!   ([`MeasureSurface`]): the current through it is reported, along its orientation;
//! - linear tetrahedra only; points and lines are ignored, other surface and volume elements refused.
//!
//! Tets are stored positively oriented, nodes no tet uses are dropped (the others keep their file order);
//! duplicate nodes, zero-volume or overlapping tets, non-manifold faces, group triangles that are no tet's
//! face and groups both on and inside the boundary are errors naming the entity by its tag in the file.

pub mod parse;

use super::{enclosed_six_volume, face_key, signed_volume, BoundaryFace, MeasureSurface, Mesh, OUTWARD_FACES};
use glam::DVec3;
use parse::{element_name, MshFile, MshPosition, ParseError};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The boundary name of exterior faces that are in no physical surface group.
pub const UNGROUPED: &str = "(ungrouped)";

/// Why a MSH file could not become a mesh: the file, where in it (for format errors) and what.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ImportError {
    pub file: String,
    pub at: Option<MshPosition>,
    pub message: String,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some(at) => write!(f, "mesh file {}: {at}: {}", self.file, self.message),
            None => write!(f, "mesh file {}: {}", self.file, self.message),
        }
    }
}

/// A mesh read from a file, with what the summary reports about it.
#[derive(Debug, Clone)]
pub struct ImportedMesh {
    pub mesh: Mesh,
    /// Nodes of the file that no tet uses (dropped).
    pub dropped_nodes: usize,
}

/// Reads `path` (MSH 4.1), coordinates multiplied by `unit_m` (metres per file unit).
pub fn read_msh(path: &Path, unit_m: f64) -> Result<ImportedMesh, ImportError> {
    let file = path.display().to_string();
    let fail = |message: String| ImportError { file: file.clone(), at: None, message };
    check_header(path).map_err(&fail)?;
    let data = std::fs::read(path).map_err(|error| fail(format!("cannot read it: {error}")))?;
    let parsed = parse::parse(&data).map_err(|ParseError { at, message }| ImportError {
        file: file.clone(),
        at: Some(at),
        message,
    })?;
    // The bytes go before the mesh is built: a large file is hundreds of MB.
    drop(data);
    to_mesh(parsed, unit_m).map_err(|message| ImportError { file, at: None, message })
}

/// Before a file is read whole: it is a regular file and starts as an MSH file does (with a `$` section), so a wrong
/// or endless file (a 1 GB binary, `/dev/zero`) is refused from its first bytes.
fn check_header(path: &Path) -> Result<(), String> {
    use std::io::Read;

    let metadata = std::fs::metadata(path).map_err(|error| format!("cannot read it: {error}"))?;
    if !metadata.is_file() {
        return Err("not a regular file".into());
    }
    let mut head = Vec::new();
    let opened = std::fs::File::open(path).map_err(|error| format!("cannot read it: {error}"))?;
    opened.take(256).read_to_end(&mut head).map_err(|error| format!("cannot read it: {error}"))?;
    let start = head.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(head.len());
    // Every MSH file opens with a `$` section (the parser then wants `$MeshFormat` and says what it found).
    match head.get(start) {
        None => Err("no $MeshFormat section: the file is empty or not a Gmsh MSH file".into()),
        Some(b'$') => Ok(()),
        Some(_) => {
            let line = 1 + head[..start].iter().filter(|&&b| b == b'\n').count();
            let text = String::from_utf8_lossy(&head[start..]);
            let first = text.lines().next().unwrap_or_default().chars().take(40).collect::<String>();
            Err(format!("line {line}: the file must start with $MeshFormat, found `{first}`: is this a Gmsh MSH file?"))
        }
    }
}

/// [`read_msh`] on the file's bytes; the error without the file's name.
pub fn import_bytes(data: &[u8], unit_m: f64) -> Result<ImportedMesh, (Option<MshPosition>, String)> {
    let parsed = parse::parse(data).map_err(|ParseError { at, message }| (Some(at), message))?;
    to_mesh(parsed, unit_m).map_err(|message| (None, message))
}

/// A physical group's name: its own, or `#<tag>`.
fn group_name(file: &MshFile, dim: i32, tag: i32) -> String {
    file.physical_names.get(&(dim, tag)).cloned().unwrap_or_else(|| format!("#{tag}"))
}

/// The one physical group of an entity, or an error naming the entity when it has none or several.
fn entity_group(file: &MshFile, dim: i32, entity: i32, first_element: u64) -> Result<i32, String> {
    let kind = if dim == 3 { "volume" } else { "surface" };
    match file.entity_groups.get(&(dim, entity)).map(Vec::as_slice) {
        Some([group]) => Ok(*group),
        None | Some([]) => Err(format!(
            "{kind} entity {entity} (element {first_element} and the rest of its block) is in no physical {kind} \
             group: name every {kind} in Gmsh (Physical {}(\"name\") = {{{entity}}};)",
            if dim == 3 { "Volume" } else { "Surface" }
        )),
        Some(groups) => Err(format!(
            "{kind} entity {entity} is in {} physical groups ({}); its elements can have only one",
            groups.len(),
            groups.iter().map(|&g| format!("`{}`", group_name(file, dim, g))).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// A triangle rotated to start at its smallest node: equal for two triangles iff they are the same face with
/// the same orientation.
fn oriented_key(nodes: [u32; 3]) -> [u32; 3] {
    let first = (0..3).min_by_key(|&i| nodes[i]).expect("three nodes");
    [nodes[first], nodes[(first + 1) % 3], nodes[(first + 2) % 3]]
}

/// One face of one tet: its nodes in ascending order, the tet, and which of its [`OUTWARD_FACES`] it is.
#[derive(Debug, Clone, Copy)]
struct FaceEntry {
    key: [u32; 3],
    tet: u32,
    local: u8,
}

/// Every face of the tets, sorted by its nodes: a run of one entry is an exterior face, of two a face between two
/// tets. Sorted (in parallel) rather than hashed: a file's tets can number millions, and a hash map of their faces
/// costs a cache miss per face and about three times the memory.
struct TetFaces {
    entries: Vec<FaceEntry>,
}

impl TetFaces {
    fn new(tets: &[[u32; 4]]) -> TetFaces {
        let mut entries: Vec<FaceEntry> = tets
            .par_iter()
            .enumerate()
            .flat_map_iter(|(t, tet)| {
                OUTWARD_FACES.iter().enumerate().map(move |(local, face)| FaceEntry {
                    key: face_key(face.map(|i| tet[i])),
                    tet: t as u32,
                    local: local as u8,
                })
            })
            .collect();
        entries.par_sort_unstable_by_key(|e| (e.key, e.tet));
        TetFaces { entries }
    }

    /// The entries of each face.
    fn runs(&self) -> impl Iterator<Item = &[FaceEntry]> {
        self.entries.chunk_by(|a, b| a.key == b.key)
    }

    /// Whether a triangle is a face of the tets: `None` if not, else whether two tets share it.
    fn shared(&self, triangle: [u32; 3]) -> Option<bool> {
        let key = face_key(triangle);
        let first = self.entries.partition_point(|e| e.key < key);
        (self.entries.get(first)?.key == key).then(|| self.entries.get(first + 1).is_some_and(|e| e.key == key))
    }
}

/// The face of `entry` oriented outward from its tet.
fn outward(tets: &[[u32; 4]], entry: &FaceEntry) -> [u32; 3] {
    OUTWARD_FACES[entry.local as usize].map(|i| tets[entry.tet as usize][i])
}

/// The file's mesh in metres, checked, named by its groups: the steps below in order.
fn to_mesh(mut file: MshFile, unit_m: f64) -> Result<ImportedMesh, String> {
    refuse_elements(&file)?;
    let (volume_groups, region_of) = volume_groups(&file)?;
    let used = used_nodes(&file, unit_m);
    check_distinct(&used.points, &used.tags)?;
    let tets = oriented_tets(&file, &region_of, &used)?;
    // The file's copy of the tets is no longer needed.
    drop(std::mem::take(&mut file.tets));
    let faces = TetFaces::new(&tets.nodes);
    check_faces(&faces, &tets, &used.tags)?;
    let groups = surface_groups(&file, &faces, &used)?;

    // Exterior faces, outward, tagged by group; the rest on the ungrouped boundary. In the order of their nodes.
    let mut boundary_names = groups.boundary_names;
    let mut boundary_faces: Vec<BoundaryFace> = faces
        .runs()
        .filter_map(|run| match run {
            [entry] => Some(BoundaryFace {
                nodes: outward(&tets.nodes, entry),
                tag: groups.boundary_of_face.get(&entry.key).copied().unwrap_or(u16::MAX),
            }),
            _ => None,
        })
        .collect();
    drop(faces);
    if boundary_faces.iter().any(|f| f.tag == u16::MAX) {
        let tag = boundary_names.len() as u16;
        boundary_names.push(UNGROUPED.to_string());
        for face in boundary_faces.iter_mut().filter(|f| f.tag == u16::MAX) {
            face.tag = tag;
        }
    }
    let dropped_nodes = file.nodes.len() - used.tags.len();
    let mesh = Mesh {
        nodes: used.points,
        tets: tets.nodes,
        tet_region: tets.region,
        region_names: volume_groups,
        boundary_faces,
        boundary_names,
        interface_faces: Vec::new(),
        interface_names: Vec::new(),
        surfaces: groups.surfaces,
    };
    Ok(ImportedMesh { mesh, dropped_nodes })
}

/// Elements other than linear tets and triangles (points and lines aside), and a file without tets, refused.
fn refuse_elements(file: &MshFile) -> Result<(), String> {
    if let Some(refused) = file.refused.first() {
        let total: usize =
            file.refused.iter().filter(|r| r.element_type == refused.element_type).map(|r| r.count).sum();
        return Err(format!(
            "{} elements of type {} (first block at {}): ionflux solves on linear tetrahedra (type 4) with triangle \
             (type 2) boundaries only; remesh with first-order tetrahedra (Gmsh: Mesh.ElementOrder = 1, no \
             recombination)",
            total,
            element_name(refused.element_type),
            refused.at
        ));
    }
    if file.tets.iter().all(|b| b.nodes.is_empty()) {
        return Err("the file has no tetrahedra (type 4): ionflux needs a 3D tetrahedral mesh".into());
    }
    Ok(())
}

/// At most `u16::MAX` groups of a kind: region and boundary ids are 16-bit.
fn groups_at_most(count: usize, kind: &str) -> Result<(), String> {
    if count > u16::MAX as usize {
        Err(format!("{count} physical {kind} groups: ionflux takes at most {}", u16::MAX))
    } else {
        Ok(())
    }
}

/// The regions: the names of the physical volume groups in tag order, and each group's region id.
fn volume_groups(file: &MshFile) -> Result<(Vec<String>, FxHashMap<i32, u16>), String> {
    let mut groups = BTreeMap::new();
    for block in file.tets.iter().filter(|b| !b.tags.is_empty()) {
        let group = entity_group(file, 3, block.entity, block.tags[0])?;
        groups.entry(group).or_insert_with(|| group_name(file, 3, group));
    }
    groups_at_most(groups.len(), "volume")?;
    let region_of = groups.keys().enumerate().map(|(i, &g)| (g, i as u16)).collect();
    Ok((groups.into_values().collect(), region_of))
}

/// The nodes the tets use, in file order, scaled to metres; their file tags; each file node's new index
/// (`u32::MAX` when dropped).
struct UsedNodes {
    points: Vec<DVec3>,
    tags: Vec<u64>,
    new_index: Vec<u32>,
}

fn used_nodes(file: &MshFile, unit_m: f64) -> UsedNodes {
    let used = super::used_nodes(file.nodes.len(), file.tets.iter().map(|block| block.nodes.as_slice()));
    UsedNodes {
        points: used.kept.iter().map(|&i| DVec3::from_array(file.nodes[i as usize]) * unit_m).collect(),
        tags: used.kept.iter().map(|&i| file.node_tags[i as usize]).collect(),
        new_index: used.new_index,
    }
}

/// The tets, positively oriented, with their region ids and file tags.
struct Tets {
    nodes: Vec<[u32; 4]>,
    region: Vec<u16>,
    tags: Vec<u64>,
}

/// The file's tets on the used nodes, each turned positive; a zero-volume tet is refused.
fn oriented_tets(file: &MshFile, region_of: &FxHashMap<i32, u16>, used: &UsedNodes) -> Result<Tets, String> {
    let mut tets = Tets { nodes: Vec::new(), region: Vec::new(), tags: Vec::new() };
    for block in &file.tets {
        let region = *region_of.get(&entity_group(file, 3, block.entity, 0).unwrap_or(-1)).unwrap_or(&0);
        for (&tag, element) in block.tags.iter().zip(&block.nodes) {
            let mut tet = element.map(|n| used.new_index[n as usize]);
            let [a, b, c, d] = tet.map(|n| used.points[n as usize]);
            let volume = signed_volume(a, b, c, d);
            let longest = [b - a, c - a, d - a, c - b, d - b, d - c].iter().fold(0.0f64, |m, e| m.max(e.length()));
            if !(volume.abs() > 1e-12 * longest.powi(3)) {
                return Err(format!(
                    "tetrahedron {tag} has zero volume ({volume:.3e} m^3; its nodes {} are coplanar or repeated)",
                    element.map(|n| file.node_tags[n as usize].to_string()).join(", ")
                ));
            }
            if volume < 0.0 {
                tet.swap(2, 3);
            }
            tets.nodes.push(tet);
            tets.region.push(region);
            tets.tags.push(tag);
        }
    }
    Ok(tets)
}

/// Every face exterior (one tet) or shared by two tets on opposite sides; anything else is not a valid mesh.
fn check_faces(faces: &TetFaces, tets: &Tets, node_tags: &[u64]) -> Result<(), String> {
    let show = |face: [u32; 3]| face.map(|n| node_tags[n as usize].to_string()).join(", ");
    let tag = |entry: &FaceEntry| tets.tags[entry.tet as usize];
    for run in faces.runs() {
        match run {
            [first, second]
                if oriented_key(outward(&tets.nodes, first)) == oriented_key(outward(&tets.nodes, second)) =>
            {
                return Err(format!(
                    "tetrahedra {} and {} overlap: they lie on the same side of their shared face (nodes {}), so one \
                     of them is inverted",
                    tag(first),
                    tag(second),
                    show(first.key)
                ));
            }
            [first, second, third, ..] => {
                return Err(format!(
                    "tetrahedra {}, {} and {} share one face (nodes {}): the mesh is not a manifold",
                    tag(first),
                    tag(second),
                    tag(third),
                    show(first.key)
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The surface groups: boundaries (all triangles exterior faces; their names, and the boundary id of each face)
/// and measurement surfaces (all triangles between two tets).
struct SurfaceGroups {
    boundary_names: Vec<String>,
    boundary_of_face: FxHashMap<[u32; 3], u16>,
    surfaces: Vec<MeasureSurface>,
}

fn surface_groups(file: &MshFile, faces: &TetFaces, used: &UsedNodes) -> Result<SurfaceGroups, String> {
    let mut by_group: BTreeMap<i32, Vec<([u32; 3], u64)>> = BTreeMap::new();
    for block in file.triangles.iter().filter(|b| !b.tags.is_empty()) {
        let group = entity_group(file, 2, block.entity, block.tags[0])?;
        let list = by_group.entry(group).or_default();
        for (&tag, triangle) in block.tags.iter().zip(&block.nodes) {
            let mapped = triangle.map(|n| used.new_index[n as usize]);
            if mapped.contains(&u32::MAX) || faces.shared(mapped).is_none() {
                return Err(format!(
                    "triangle {tag} of surface group `{}` (nodes {}) is not a face of any tetrahedron",
                    group_name(file, 2, group),
                    triangle.map(|n| file.node_tags[n as usize].to_string()).join(", ")
                ));
            }
            list.push((mapped, tag));
        }
    }
    // One more boundary than groups at most: the ungrouped faces.
    groups_at_most(by_group.len() + 1, "surface")?;
    let mut groups =
        SurfaceGroups { boundary_names: Vec::new(), boundary_of_face: FxHashMap::default(), surfaces: Vec::new() };
    for (&group, triangles) in &by_group {
        let name = group_name(file, 2, group);
        let exterior = triangles.iter().filter(|(t, _)| faces.shared(*t) == Some(false)).count();
        if exterior == triangles.len() {
            let tag = groups.boundary_names.len() as u16;
            for (triangle, element) in triangles {
                // The same triangle twice in one group is one face.
                let other = groups.boundary_of_face.insert(face_key(*triangle), tag).filter(|&other| other != tag);
                if let Some(other) = other {
                    return Err(format!(
                        "triangle {element} lies in surface groups `{}` and `{name}`: a boundary face has one condition",
                        groups.boundary_names[other as usize]
                    ));
                }
            }
            groups.boundary_names.push(name);
        } else if exterior == 0 {
            groups.surfaces.push(measure_surface(name, triangles, &used.points));
        } else {
            return Err(format!(
                "surface group `{name}` has {exterior} triangles on the exterior of the mesh and {} inside it: a group \
                 is either a boundary (exterior) or a measurement surface (inside); split it",
                triangles.len() - exterior
            ));
        }
    }
    Ok(groups)
}

/// Two nodes at one point would leave a crack in the mesh (Gmsh: Coherence Mesh merges them).
fn check_distinct(nodes: &[DVec3], node_tag: &[u64]) -> Result<(), String> {
    let mut order: Vec<u32> = (0..nodes.len() as u32).collect();
    let bits = |i: u32| nodes[i as usize].to_array().map(f64::to_bits);
    // Stable: of two nodes at one point, the first in the file is named first.
    order.sort_by_key(|&i| bits(i));
    for pair in order.windows(2) {
        if nodes[pair[0] as usize] == nodes[pair[1] as usize] {
            let p = nodes[pair[0] as usize];
            return Err(format!(
                "nodes {} and {} lie at the same point ({:e}, {:e}, {:e}) m: the mesh has a crack there (Gmsh: \
                 Coherence Mesh merges duplicate nodes)",
                node_tag[pair[0] as usize], node_tag[pair[1] as usize], p.x, p.y, p.z
            ));
        }
    }
    Ok(())
}

/// A surface inside the volume, its triangles oriented consistently: each connected piece takes the
/// orientation of its first triangle in the file, except a closed piece, which points outward.
fn measure_surface(name: String, triangles: &[([u32; 3], u64)], nodes: &[DVec3]) -> MeasureSurface {
    let mut faces: Vec<[u32; 3]> = triangles.iter().map(|(t, _)| *t).collect();
    let mut edge_faces: FxHashMap<(u32, u32), Vec<u32>> = FxHashMap::default();
    for (f, face) in faces.iter().enumerate() {
        for i in 0..3 {
            let (a, b) = (face[i], face[(i + 1) % 3]);
            edge_faces.entry((a.min(b), a.max(b))).or_default().push(f as u32);
        }
    }
    let directed = |face: &[u32; 3], a: u32, b: u32| (0..3).any(|i| face[i] == a && face[(i + 1) % 3] == b);
    let mut piece = vec![usize::MAX; faces.len()];
    let mut orientations = Vec::new();
    for seed in 0..faces.len() {
        if piece[seed] != usize::MAX {
            continue;
        }
        let id = orientations.len();
        piece[seed] = id;
        let mut members = vec![seed];
        let mut stack = vec![seed];
        let mut closed = true;
        while let Some(f) = stack.pop() {
            let face = faces[f];
            for i in 0..3 {
                let (a, b) = (face[i], face[(i + 1) % 3]);
                let sharing = &edge_faces[&(a.min(b), a.max(b))];
                if sharing.len() != 2 {
                    closed = false;
                    continue;
                }
                let g = sharing.iter().map(|&g| g as usize).find(|&g| g != f).expect("two faces on the edge");
                if piece[g] == usize::MAX {
                    piece[g] = id;
                    // Consistent neighbours run along the shared edge in opposite directions.
                    if directed(&faces[g], a, b) {
                        faces[g].swap(1, 2);
                    }
                    members.push(g);
                    stack.push(g);
                }
            }
        }
        let outward = if closed {
            if enclosed_six_volume(nodes, members.iter().map(|&f| faces[f])) < 0.0 {
                for &f in &members {
                    faces[f].swap(1, 2);
                }
            }
            "outward (a closed surface)".to_string()
        } else {
            format!("along the normal of triangle {} (right-hand rule on its nodes in the file)", triangles[seed].1)
        };
        orientations.push(outward);
    }
    orientations.dedup();
    MeasureSurface { name, faces, orientation: orientations.join("; ") }
}
