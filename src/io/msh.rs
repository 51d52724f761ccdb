//! Gmsh MSH 4.1 output (`ionflux mesh CASE --out mesh.msh [--ascii]`), so our graded hot-spot meshes open in
//! Gmsh, DOLFINx (`dolfinx.io.gmshio`), meshio and ParaView with their regions and boundaries named:
//!
//! - one volume entity and physical group (dimension 3) per region, tags 1.. in `Mesh::region_names` order;
//! - one surface entity and physical group (dimension 2) per named boundary, tags 1.. in `Mesh::boundary_names`
//!   order, then one per resistive interface (its faces as seen from below; the nodes above the plane are the
//!   interface's duplicates, so the mesh is not conforming there, on purpose), then one per measurement surface
//!   of an imported mesh (its faces as oriented for the current through it);
//! - nodes in one block (tags 1..n, coordinates in metres), linear tetrahedra (type 4) per region and triangles
//!   (type 2) per boundary, element tags 1.. in that order.
//!
//! Binary files (the default) are little-endian with 8-byte sizes and 4-byte ints, as Gmsh writes them.

use super::{write_atomic_with, OutputError};
use crate::mesh::{bounding_box, Mesh};
use glam::DVec3;
use std::io::Write;
use std::path::Path;

/// Gmsh element types.
const TRIANGLE: i32 = 2;
const TETRAHEDRON: i32 = 4;

/// ASCII or binary encoding of the numeric sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MshEncoding {
    Ascii,
    Binary,
}

/// A physical group and its one entity: dimension, tag, name, bounding box and elements.
struct Group<'a> {
    dim: i32,
    tag: i32,
    name: &'a str,
    element_type: i32,
    elements: Vec<&'a [u32]>,
}

impl Group<'_> {
    fn bounds(&self, nodes: &[DVec3]) -> (DVec3, DVec3) {
        bounding_box(self.elements.iter().flat_map(|e| e.iter().map(|&n| nodes[n as usize])))
    }
}

/// Writes `out` in one encoding: numbers as text or as little-endian bytes.
struct Writer<'w, W: Write> {
    out: &'w mut W,
    encoding: MshEncoding,
}

impl<W: Write> Writer<'_, W> {
    fn size(&mut self, v: usize) -> std::io::Result<()> {
        match self.encoding {
            MshEncoding::Ascii => write!(self.out, "{v} "),
            MshEncoding::Binary => self.out.write_all(&(v as u64).to_le_bytes()),
        }
    }

    fn int(&mut self, v: i32) -> std::io::Result<()> {
        match self.encoding {
            MshEncoding::Ascii => write!(self.out, "{v} "),
            MshEncoding::Binary => self.out.write_all(&v.to_le_bytes()),
        }
    }

    fn real(&mut self, v: f64) -> std::io::Result<()> {
        match self.encoding {
            MshEncoding::Ascii => write!(self.out, "{v:.17e} "),
            MshEncoding::Binary => self.out.write_all(&v.to_le_bytes()),
        }
    }

    /// Ends a line of text (ASCII only: binary records have no separators).
    fn line(&mut self) -> std::io::Result<()> {
        match self.encoding {
            MshEncoding::Ascii => writeln!(self.out),
            MshEncoding::Binary => Ok(()),
        }
    }

    /// Ends a section's data and writes its end marker (after binary data, on a line of its own).
    fn end(&mut self, marker: &str) -> std::io::Result<()> {
        if self.encoding == MshEncoding::Binary {
            writeln!(self.out)?;
        }
        writeln!(self.out, "{marker}")
    }
}

/// Writes `mesh` to `path` as MSH 4.1, atomically.
pub fn write_msh(path: &Path, mesh: &Mesh, encoding: MshEncoding) -> Result<(), OutputError> {
    let mut groups: Vec<Group> = mesh
        .region_names
        .iter()
        .enumerate()
        .map(|(r, name)| Group {
            dim: 3,
            tag: r as i32 + 1,
            name,
            element_type: TETRAHEDRON,
            elements: mesh
                .tets
                .iter()
                .zip(&mesh.tet_region)
                .filter(|(_, &t)| t as usize == r)
                .map(|(t, _)| &t[..])
                .collect(),
        })
        .collect();
    for (b, name) in mesh.boundary_names.iter().enumerate() {
        let faces = mesh.boundary_faces.iter().filter(|f| f.tag as usize == b).map(|f| &f.nodes[..]).collect();
        groups.push(Group { dim: 2, tag: b as i32 + 1, name, element_type: TRIANGLE, elements: faces });
    }
    for (i, name) in mesh.interface_names.iter().enumerate() {
        let faces = mesh.interface_faces.iter().filter(|f| f.tag as usize == i).map(|f| &f.below[..]).collect();
        let tag = (mesh.boundary_names.len() + i) as i32 + 1;
        groups.push(Group { dim: 2, tag, name, element_type: TRIANGLE, elements: faces });
    }
    for (i, surface) in mesh.surfaces.iter().enumerate() {
        let tag = (mesh.boundary_names.len() + mesh.interface_names.len() + i) as i32 + 1;
        let faces = surface.faces.iter().map(|f| &f[..]).collect();
        groups.push(Group { dim: 2, tag, name: &surface.name, element_type: TRIANGLE, elements: faces });
    }
    // Gmsh names are quoted on one line with no escape: a quote or a control character cannot be stored, and
    // changing the name would give a file whose groups do not match the case.
    if let Some(g) = groups.iter().find(|g| g.name.contains(|c: char| c == '"' || c.is_control())) {
        let message = format!(
            "the {} group name {:?} holds a quote or a control character, which a Gmsh MSH file cannot store; \
             rename it in the case",
            if g.dim == 3 { "volume" } else { "surface" },
            g.name
        );
        return Err(OutputError { path: path.to_path_buf(), source: std::io::Error::other(message) });
    }
    write_atomic_with(path, |out| {
        let binary = encoding == MshEncoding::Binary;
        writeln!(out, "$MeshFormat\n4.1 {} 8", binary as i32)?;
        if binary {
            out.write_all(&1i32.to_le_bytes())?;
            writeln!(out)?;
        }
        writeln!(out, "$EndMeshFormat\n$PhysicalNames\n{}", groups.len())?;
        for g in &groups {
            writeln!(out, "{} {} \"{}\"", g.dim, g.tag, g.name)?;
        }
        writeln!(out, "$EndPhysicalNames\n$Entities")?;
        let mut w = Writer { out, encoding };
        // Entities only for groups with elements (a boundary with no faces keeps its name alone).
        let filled: Vec<&Group> = groups.iter().filter(|g| !g.elements.is_empty()).collect();
        let surfaces = filled.iter().filter(|g| g.dim == 2).count();
        for count in [0, 0, surfaces, filled.len() - surfaces] {
            w.size(count)?;
        }
        w.line()?;
        for dim in [2, 3] {
            for g in filled.iter().filter(|g| g.dim == dim) {
                let (lo, hi) = g.bounds(&mesh.nodes);
                w.int(g.tag)?;
                for v in [lo.x, lo.y, lo.z, hi.x, hi.y, hi.z] {
                    w.real(v)?;
                }
                // One physical tag (the group's own), no bounding entities.
                w.size(1)?;
                w.int(g.tag)?;
                w.size(0)?;
                w.line()?;
            }
        }
        w.end("$EndEntities")?;
        writeln!(w.out, "$Nodes")?;
        let n = mesh.nodes.len();
        for v in [1, n, 1, n] {
            w.size(v)?;
        }
        w.line()?;
        // All nodes in the first volume entity's block.
        w.int(3)?;
        w.int(1)?;
        w.int(0)?;
        w.size(n)?;
        w.line()?;
        for tag in 1..=n {
            w.size(tag)?;
            w.line()?;
        }
        for p in &mesh.nodes {
            w.real(p.x)?;
            w.real(p.y)?;
            w.real(p.z)?;
            w.line()?;
        }
        w.end("$EndNodes")?;
        writeln!(w.out, "$Elements")?;
        let total: usize = filled.iter().map(|g| g.elements.len()).sum();
        for v in [filled.len(), total, 1, total] {
            w.size(v)?;
        }
        w.line()?;
        let mut next_tag = 1;
        for g in &filled {
            w.int(g.dim)?;
            w.int(g.tag)?;
            w.int(g.element_type)?;
            w.size(g.elements.len())?;
            w.line()?;
            for element in &g.elements {
                w.size(next_tag)?;
                next_tag += 1;
                for &node in element.iter() {
                    w.size(node as usize + 1)?;
                }
                w.line()?;
            }
        }
        w.end("$EndElements")
    })
}
