//! VTK XML unstructured grids (`.vtu`), binary: raw appended data with UInt64 block headers,
//! little endian, which ParaView, VTK and meshio read. Tets and (optionally) boundary triangles
//! share one grid so a mesh and its boundary tags can be inspected together.

use super::{write_atomic, OutputError};
use crate::mesh::Mesh;
use glam::DVec3;
use std::fmt::Write as _;
use std::path::Path;

const VTK_TETRA: u8 = 10;
const VTK_TRIANGLE: u8 = 5;

/// The values of one data array; borrowed, one entry per point or per cell.
pub enum Values<'a> {
    Scalars(&'a [f64]),
    Vectors(&'a [DVec3]),
    Ints(&'a [i32]),
}

impl Values<'_> {
    fn len(&self) -> usize {
        match self {
            Values::Scalars(v) => v.len(),
            Values::Vectors(v) => v.len(),
            Values::Ints(v) => v.len(),
        }
    }

    /// (VTK type name, components, little-endian bytes)
    fn encode(&self) -> (&'static str, usize, Vec<u8>) {
        match self {
            Values::Scalars(v) => ("Float64", 1, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            Values::Vectors(v) => {
                ("Float64", 3, v.iter().flat_map(|p| p.to_array()).flat_map(|x| x.to_le_bytes()).collect())
            }
            Values::Ints(v) => ("Int32", 1, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        }
    }
}

/// A named array; `unit` goes into the file as an attribute and an XML comment for the reader.
pub struct Field<'a> {
    pub name: &'a str,
    pub unit: &'a str,
    pub values: Values<'a>,
}

/// A grid of tets followed by triangles. Cell data has one entry per tet, then per triangle.
pub struct Grid<'a> {
    pub points: &'a [DVec3],
    pub tets: &'a [[u32; 4]],
    pub triangles: &'a [[u32; 3]],
    pub point_data: Vec<Field<'a>>,
    pub cell_data: Vec<Field<'a>>,
}

/// Accumulates the XML header and the appended binary blocks side by side.
struct Encoder {
    xml: String,
    appended: Vec<u8>,
}

impl Encoder {
    fn data_array(&mut self, name: &str, unit: &str, vtk_type: &str, components: usize, bytes: &[u8]) {
        let unit_attr = if unit.is_empty() { String::new() } else { format!(r#" unit="{unit}""#) };
        let _ = writeln!(
            self.xml,
            r#"        <DataArray type="{vtk_type}" Name="{name}" NumberOfComponents="{components}"{unit_attr} format="appended" offset="{}"/>"#,
            self.appended.len()
        );
        self.appended.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        self.appended.extend_from_slice(bytes);
    }

    fn fields(&mut self, tag: &str, fields: &[Field], expected_len: usize) {
        let _ = writeln!(self.xml, "      <{tag}>");
        for f in fields {
            assert_eq!(f.values.len(), expected_len, "{tag} array `{}` has the wrong length", f.name);
            let (vtk_type, components, bytes) = f.values.encode();
            self.data_array(f.name, f.unit, vtk_type, components, &bytes);
        }
        let _ = writeln!(self.xml, "      </{tag}>");
    }
}

/// The complete `.vtu` file as bytes.
pub fn encode(grid: &Grid) -> Vec<u8> {
    let n_cells = grid.tets.len() + grid.triangles.len();
    let mut enc = Encoder { xml: String::new(), appended: Vec::new() };
    enc.xml.push_str("<?xml version=\"1.0\"?>\n");
    let units: Vec<String> = grid
        .point_data
        .iter()
        .chain(&grid.cell_data)
        .filter(|f| !f.unit.is_empty())
        .map(|f| format!("{} [{}]", f.name, f.unit))
        .collect();
    if !units.is_empty() {
        let _ = writeln!(enc.xml, "<!-- written by ionflux; units: {} -->", units.join(", "));
    }
    enc.xml.push_str(
        "<VTKFile type=\"UnstructuredGrid\" version=\"1.0\" byte_order=\"LittleEndian\" header_type=\"UInt64\">\n",
    );
    enc.xml.push_str("  <UnstructuredGrid>\n");
    let _ = writeln!(enc.xml, r#"    <Piece NumberOfPoints="{}" NumberOfCells="{n_cells}">"#, grid.points.len());
    enc.fields("PointData", &grid.point_data, grid.points.len());
    enc.fields("CellData", &grid.cell_data, n_cells);

    enc.xml.push_str("      <Points>\n");
    let (_, _, point_bytes) = Values::Vectors(grid.points).encode();
    enc.data_array("Points", "m", "Float64", 3, &point_bytes);
    enc.xml.push_str("      </Points>\n      <Cells>\n");
    let connectivity: Vec<u8> = grid
        .tets
        .iter()
        .flat_map(|t| t.iter())
        .chain(grid.triangles.iter().flat_map(|t| t.iter()))
        .flat_map(|&v| (v as i64).to_le_bytes())
        .collect();
    let offsets: Vec<u8> = (1..=grid.tets.len())
        .map(|i| 4 * i as i64)
        .chain((1..=grid.triangles.len()).map(|i| 4 * grid.tets.len() as i64 + 3 * i as i64))
        .flat_map(|o| o.to_le_bytes())
        .collect();
    let types: Vec<u8> = std::iter::repeat_n(VTK_TETRA, grid.tets.len())
        .chain(std::iter::repeat_n(VTK_TRIANGLE, grid.triangles.len()))
        .collect();
    enc.data_array("connectivity", "", "Int64", 1, &connectivity);
    enc.data_array("offsets", "", "Int64", 1, &offsets);
    enc.data_array("types", "", "UInt8", 1, &types);
    enc.xml.push_str("      </Cells>\n    </Piece>\n  </UnstructuredGrid>\n  <AppendedData encoding=\"raw\">\n   _");

    let mut bytes = enc.xml.into_bytes();
    bytes.extend_from_slice(&enc.appended);
    bytes.extend_from_slice(b"\n  </AppendedData>\n</VTKFile>\n");
    bytes
}

/// Write `grid` to `path` atomically.
pub fn write(path: &Path, grid: &Grid) -> Result<(), OutputError> {
    write_atomic(path, &encode(grid))
}

/// The mesh alone, for inspection: tets with cell data `region` (and -1 on triangles) and the
/// boundary triangles with cell data `boundary` (their tag; -1 on tets).
pub fn write_mesh(path: &Path, mesh: &Mesh) -> Result<(), OutputError> {
    let triangles: Vec<[u32; 3]> = mesh.boundary_faces.iter().map(|f| f.nodes).collect();
    let region: Vec<i32> =
        mesh.tet_region.iter().map(|&r| r as i32).chain(std::iter::repeat_n(-1, triangles.len())).collect();
    let boundary: Vec<i32> =
        std::iter::repeat_n(-1, mesh.tets.len()).chain(mesh.boundary_faces.iter().map(|f| f.tag as i32)).collect();
    let grid = Grid {
        points: &mesh.nodes,
        tets: &mesh.tets,
        triangles: &triangles,
        point_data: vec![],
        cell_data: vec![
            Field { name: "region", unit: "", values: Values::Ints(&region) },
            Field { name: "boundary", unit: "", values: Values::Ints(&boundary) },
        ],
    };
    write(path, &grid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::structured::{tensor_box, uniform_line};

    /// Parse the XML header back and check each appended block's byte count and first value: an
    /// in-crate structural check; the independent reader (Python VTK) runs in tests/vtu_readback.rs.
    #[test]
    fn appended_blocks_match_their_declared_offsets() {
        let l = uniform_line(0.0, 1.0, 1);
        let mesh = tensor_box(&l, &l, &l);
        let phi: Vec<f64> = mesh.nodes.iter().map(|p| p.z).collect();
        let grid = Grid {
            points: &mesh.nodes,
            tets: &mesh.tets,
            triangles: &[],
            point_data: vec![Field { name: "phi", unit: "V", values: Values::Scalars(&phi) }],
            cell_data: vec![],
        };
        let bytes = encode(&grid);
        let start = bytes.windows(2).position(|w| w == b" _").unwrap() + 2;
        let header = String::from_utf8_lossy(&bytes[..start]).to_string();
        assert!(header.contains(r#"NumberOfPoints="8" NumberOfCells="6""#));
        let offset_of = |name: &str| -> usize {
            let at = header.find(&format!(r#"Name="{name}""#)).unwrap();
            let rest = &header[at..];
            let o = rest.find("offset=\"").unwrap() + 8;
            rest[o..o + rest[o..].find('"').unwrap()].parse().unwrap()
        };
        let block = |name: &str| {
            let o = start + offset_of(name);
            let len = u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap()) as usize;
            bytes[o + 8..o + 8 + len].to_vec()
        };
        let phi_back: Vec<f64> = block("phi").chunks(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(phi_back, phi);
        assert_eq!(block("types"), vec![VTK_TETRA; 6]);
        let offsets: Vec<i64> = block("offsets").chunks(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(offsets, vec![4, 8, 12, 16, 20, 24]);
    }
}
