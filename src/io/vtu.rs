//! VTK XML unstructured grids (`.vtu`), binary: appended data with UInt64 headers, little endian, which
//! ParaView, VTK and meshio read; zlib-compressed in VTK's block format (`vtkZLibDataCompressor`: 32 KiB blocks,
//! each its own zlib stream) or raw; connectivity and offsets in Int32 (Int64 only beyond 2^31 - 1 corners).
//! Tets and (optionally) boundary triangles share one grid so a mesh and its boundary tags can be inspected
//! together.
//!
//! The file is streamed: every array (including the derived ones: connectivity, |J|, per-tet region and sigma) is
//! encoded in small chunks straight into the temporary file, so writing adds a fixed buffer to the run's memory,
//! not a copy of the mesh. The header's offsets come first: raw, they follow from the array lengths; compressed,
//! a first pass compresses every block to learn its size (blocks in parallel) and the second writes them.

use super::{write_atomic_with, OutputError};
use crate::mesh::Mesh;
use glam::DVec3;
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

const VTK_TETRA: u8 = 10;
const VTK_TRIANGLE: u8 = 5;
/// Bytes encoded at a time.
const CHUNK_BYTES: usize = 1 << 20;
/// Uncompressed bytes per zlib block (VTK's own default).
const BLOCK_BYTES: usize = 1 << 15;

/// How the appended arrays are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// VTK's zlib blocks (fast level: most of the gain, at a fraction of the time).
    #[default]
    Zlib,
    /// The bytes as they are.
    None,
}

/// The values of one data array, one entry per point or per cell: borrowed, or computed per entry.
pub enum Values<'a> {
    Scalars(&'a [f64]),
    Vectors(&'a [DVec3]),
    Ints(&'a [i32]),
    /// `len` scalars, entry i computed by the function.
    ScalarsFn(usize, &'a (dyn Fn(usize) -> f64 + Sync)),
    /// `len` integers, entry i computed by the function.
    IntsFn(usize, &'a (dyn Fn(usize) -> i32 + Sync)),
    /// `len` vectors, entry i computed by the function.
    VectorsFn(usize, &'a (dyn Fn(usize) -> DVec3 + Sync)),
}

/// Appends the little-endian bytes of a range of entries to the buffer.
type Encode<'a> = Box<dyn Fn(std::ops::Range<usize>, &mut Vec<u8>) + 'a>;

/// What the appended section holds for one array: its VTK type, components, entry count and encoder.
struct Payload<'a> {
    vtk_type: &'static str,
    components: usize,
    entries: usize,
    entry_bytes: usize,
    encode: Encode<'a>,
}

fn payload<'a>(
    vtk_type: &'static str,
    components: usize,
    entries: usize,
    entry_bytes: usize,
    encode: Encode<'a>,
) -> Payload<'a> {
    Payload { vtk_type, components, entries, entry_bytes, encode }
}

/// Declares an array in the header at `position` of the appended section and advances it past the array's
/// `stored` bytes (its header included).
fn declare(xml: &mut String, position: &mut u64, name: &str, unit: &str, payload: &Payload, stored: u64) {
    let unit_attr = if unit.is_empty() { String::new() } else { format!(r#" unit="{unit}""#) };
    let _ = writeln!(
        xml,
        r#"        <DataArray type="{}" Name="{name}" NumberOfComponents="{}"{unit_attr} format="appended" offset="{position}"/>"#,
        payload.vtk_type, payload.components
    );
    *position += stored;
}

/// One zlib stream of a block.
fn deflate(block: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(block).expect("writing to memory cannot fail");
    encoder.finish().expect("writing to memory cannot fail")
}

impl Payload<'_> {
    fn bytes(&self) -> u64 {
        (self.entries * self.entry_bytes) as u64
    }

    /// Hands `emit` the array's bytes in order, a chunk at a time.
    fn for_each_chunk(
        &self,
        buffer: &mut Vec<u8>,
        mut emit: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let per_chunk = (CHUNK_BYTES / self.entry_bytes).max(1);
        for first in (0..self.entries).step_by(per_chunk) {
            buffer.clear();
            (self.encode)(first..(first + per_chunk).min(self.entries), buffer);
            emit(buffer)?;
        }
        Ok(())
    }

    /// The array raw: its byte count, then its bytes.
    fn stream_raw(&self, out: &mut impl Write, buffer: &mut Vec<u8>) -> std::io::Result<()> {
        out.write_all(&self.bytes().to_le_bytes())?;
        self.for_each_chunk(buffer, |bytes| out.write_all(bytes))
    }

    /// The array's zlib blocks, in order, compressed in parallel a chunk's worth at a time; `emit` gets each.
    fn for_each_block(
        &self,
        buffer: &mut Vec<u8>,
        mut emit: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        use rayon::prelude::*;
        let mut carry: Vec<u8> = Vec::with_capacity(CHUNK_BYTES + BLOCK_BYTES);
        let mut flush = |carry: &mut Vec<u8>, all: bool| -> std::io::Result<()> {
            let whole = if all { carry.len() } else { carry.len() / BLOCK_BYTES * BLOCK_BYTES };
            let blocks: Vec<Vec<u8>> = carry[..whole].par_chunks(BLOCK_BYTES).map(deflate).collect();
            blocks.iter().try_for_each(|b| emit(b))?;
            carry.drain(..whole);
            Ok(())
        };
        self.for_each_chunk(buffer, |bytes| {
            carry.extend_from_slice(bytes);
            flush(&mut carry, false)
        })?;
        flush(&mut carry, true)
    }

    /// The sizes of the array's compressed blocks (the first pass).
    fn block_sizes(&self, buffer: &mut Vec<u8>) -> Vec<u64> {
        let mut sizes = Vec::new();
        self.for_each_block(buffer, |block| {
            sizes.push(block.len() as u64);
            Ok(())
        })
        .expect("counting cannot fail");
        sizes
    }

    /// The array compressed: VTK's header (block count, block size, size of a partial last block or 0, each
    /// block's compressed size), then the blocks.
    fn stream_zlib(&self, out: &mut impl Write, sizes: &[u64], buffer: &mut Vec<u8>) -> std::io::Result<()> {
        let partial = self.bytes() % BLOCK_BYTES as u64;
        for word in [sizes.len() as u64, BLOCK_BYTES as u64, partial].iter().chain(sizes) {
            out.write_all(&word.to_le_bytes())?;
        }
        self.for_each_block(buffer, |block| out.write_all(block))
    }
}

impl<'a> Values<'a> {
    fn len(&self) -> usize {
        match self {
            Values::Scalars(v) => v.len(),
            Values::Vectors(v) => v.len(),
            Values::Ints(v) => v.len(),
            Values::ScalarsFn(n, _) | Values::IntsFn(n, _) | Values::VectorsFn(n, _) => *n,
        }
    }

    fn payload(&self) -> Payload<'a> {
        let f64s = |n: usize, components: usize, encode| payload("Float64", components, n, 8 * components, encode);
        let i32s = |n: usize, encode| payload("Int32", 1, n, 4, encode);
        match *self {
            Values::Scalars(v) => {
                f64s(v.len(), 1, Box::new(move |r, out| v[r].iter().for_each(|x| out.extend(x.to_le_bytes()))))
            }
            Values::Vectors(v) => f64s(
                v.len(),
                3,
                Box::new(move |r, out| {
                    v[r].iter().flat_map(|p| p.to_array()).for_each(|x| out.extend(x.to_le_bytes()))
                }),
            ),
            Values::Ints(v) => {
                i32s(v.len(), Box::new(move |r, out| v[r].iter().for_each(|x| out.extend(x.to_le_bytes()))))
            }
            Values::ScalarsFn(n, f) => {
                f64s(n, 1, Box::new(move |r, out| r.for_each(|i| out.extend(f(i).to_le_bytes()))))
            }
            Values::IntsFn(n, f) => i32s(n, Box::new(move |r, out| r.for_each(|i| out.extend(f(i).to_le_bytes())))),
            Values::VectorsFn(n, f) => f64s(
                n,
                3,
                Box::new(move |r, out| r.flat_map(|i| f(i).to_array()).for_each(|x| out.extend(x.to_le_bytes()))),
            ),
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
    /// Named lists of strings for the file's field data (`region_names`: what a `region` index means).
    pub field_strings: Vec<(&'a str, &'a [String])>,
}

/// A string array in VTK's XML ascii form: each string's bytes as numbers, each string ended by a 0.
fn string_array(xml: &mut String, name: &str, strings: &[String]) {
    let codes: Vec<String> =
        strings.iter().flat_map(|s| s.bytes().map(|b| b.to_string()).chain(["0".to_string()])).collect();
    let _ = writeln!(
        xml,
        "      <Array type=\"String\" Name=\"{name}\" NumberOfTuples=\"{}\" format=\"ascii\">\n        {}\n      </Array>",
        strings.len(),
        codes.join(" ")
    );
}

/// A connectivity or offsets array of `n` entries, entry i `value(i)`: Int32, or Int64 when `wide`.
fn index_payload<'a>(n: usize, wide: bool, value: Box<dyn Fn(usize) -> i64 + 'a>) -> Payload<'a> {
    if wide {
        payload("Int64", 1, n, 8, Box::new(move |r, o| r.for_each(|i| o.extend(value(i).to_le_bytes()))))
    } else {
        payload("Int32", 1, n, 4, Box::new(move |r, o| r.for_each(|i| o.extend((value(i) as i32).to_le_bytes()))))
    }
}

/// Writes the whole `.vtu` file to `out`, streaming the appended arrays.
pub fn write_to(out: &mut impl Write, grid: &Grid, compression: Compression) -> std::io::Result<()> {
    let n_cells = grid.tets.len() + grid.triangles.len();
    let (tets, triangles) = (grid.tets, grid.triangles);
    // Connectivity entry i: tets' corners first, then the triangles'.
    let corner = move |i: usize| -> i64 {
        if i < 4 * tets.len() {
            tets[i / 4][i % 4] as i64
        } else {
            let j = i - 4 * tets.len();
            triangles[j / 3][j % 3] as i64
        }
    };
    let offset = move |c: usize| -> i64 {
        if c < tets.len() {
            4 * (c as i64 + 1)
        } else {
            4 * tets.len() as i64 + 3 * (c - tets.len()) as i64 + 3
        }
    };
    // Connectivity and offsets in 32 bits (half of the file's largest array) while the offsets fit, else 64.
    let connectivity_entries = 4 * tets.len() + 3 * triangles.len();
    let wide = connectivity_entries > i32::MAX as usize;
    let cell_arrays = [
        ("connectivity", index_payload(connectivity_entries, wide, Box::new(corner))),
        ("offsets", index_payload(n_cells, wide, Box::new(offset))),
        (
            "types",
            payload(
                "UInt8",
                1,
                n_cells,
                1,
                Box::new(move |r, o| r.for_each(|c| o.push(if c < tets.len() { VTK_TETRA } else { VTK_TRIANGLE }))),
            ),
        ),
    ];
    let fields = |fields: &[Field], expected: usize, tag: &str| {
        for f in fields {
            assert_eq!(f.values.len(), expected, "{tag} array `{}` has the wrong length", f.name);
        }
    };
    fields(&grid.point_data, grid.points.len(), "PointData");
    fields(&grid.cell_data, n_cells, "CellData");

    // The header, with every array's offset into the appended section (raw: an 8-byte length, then the bytes;
    // zlib: VTK's block header, then the blocks).
    let mut xml = String::from("<?xml version=\"1.0\"?>\n");
    let units: Vec<String> = grid
        .point_data
        .iter()
        .chain(&grid.cell_data)
        .filter(|f| !f.unit.is_empty())
        .map(|f| format!("{} [{}]", f.name, f.unit))
        .collect();
    if !units.is_empty() {
        let _ = writeln!(xml, "<!-- written by ionflux; units: {} -->", units.join(", "));
    }
    let compressor = match compression {
        Compression::Zlib => " compressor=\"vtkZLibDataCompressor\"",
        Compression::None => "",
    };
    let _ = writeln!(
        xml,
        "<VTKFile type=\"UnstructuredGrid\" version=\"1.0\" byte_order=\"LittleEndian\" header_type=\"UInt64\"{compressor}>"
    );
    xml.push_str("  <UnstructuredGrid>\n");
    if !grid.field_strings.is_empty() {
        xml.push_str("    <FieldData>\n");
        for (name, strings) in &grid.field_strings {
            string_array(&mut xml, name, strings);
        }
        xml.push_str("    </FieldData>\n");
    }
    let _ = writeln!(xml, r#"    <Piece NumberOfPoints="{}" NumberOfCells="{n_cells}">"#, grid.points.len());
    let mut buffer = Vec::with_capacity(CHUNK_BYTES + 64);
    // What each array takes in the appended section (zlib: its blocks' sizes, from the first pass).
    let mut stored = |payload: &Payload| -> (u64, Vec<u64>) {
        match compression {
            Compression::None => (8 + payload.bytes(), Vec::new()),
            Compression::Zlib => {
                let sizes = payload.block_sizes(&mut buffer);
                (8 * (3 + sizes.len() as u64) + sizes.iter().sum::<u64>(), sizes)
            }
        }
    };
    let mut appended: Vec<(Payload, Vec<u64>)> = Vec::new();
    let mut position = 0u64;
    for (tag, data) in [("PointData", &grid.point_data), ("CellData", &grid.cell_data)] {
        let _ = writeln!(xml, "      <{tag}>");
        for f in data.iter() {
            let payload = f.values.payload();
            let (bytes, sizes) = stored(&payload);
            declare(&mut xml, &mut position, f.name, f.unit, &payload, bytes);
            appended.push((payload, sizes));
        }
        let _ = writeln!(xml, "      </{tag}>");
    }
    xml.push_str("      <Points>\n");
    let points = Values::Vectors(grid.points).payload();
    let (bytes, sizes) = stored(&points);
    declare(&mut xml, &mut position, "Points", "m", &points, bytes);
    appended.push((points, sizes));
    xml.push_str("      </Points>\n      <Cells>\n");
    for (name, payload) in cell_arrays {
        let (bytes, sizes) = stored(&payload);
        declare(&mut xml, &mut position, name, "", &payload, bytes);
        appended.push((payload, sizes));
    }
    xml.push_str("      </Cells>\n    </Piece>\n  </UnstructuredGrid>\n  <AppendedData encoding=\"raw\">\n   _");
    out.write_all(xml.as_bytes())?;
    for (payload, sizes) in &appended {
        match compression {
            Compression::None => payload.stream_raw(out, &mut buffer)?,
            Compression::Zlib => payload.stream_zlib(out, sizes, &mut buffer)?,
        }
    }
    out.write_all(b"\n  </AppendedData>\n</VTKFile>\n")
}

/// The complete `.vtu` file as bytes (for tests and small grids).
pub fn encode(grid: &Grid, compression: Compression) -> Vec<u8> {
    let mut bytes = Vec::new();
    write_to(&mut bytes, grid, compression).expect("writing to memory cannot fail");
    bytes
}

/// Write `grid` to `path` atomically, streamed.
pub fn write(path: &Path, grid: &Grid, compression: Compression) -> Result<(), OutputError> {
    write_atomic_with(path, |out| write_to(out, grid, compression))
}

/// The mesh alone, for inspection: tets with cell data `region` (and -1 on triangles) and the
/// boundary triangles with cell data `boundary` (their tag; -1 on tets).
pub fn write_mesh(path: &Path, mesh: &Mesh) -> Result<(), OutputError> {
    let triangles: Vec<[u32; 3]> = mesh.boundary_faces.iter().map(|f| f.nodes).collect();
    let tets = mesh.tets.len();
    let region = |c: usize| if c < tets { mesh.tet_region[c] as i32 } else { -1 };
    let boundary = |c: usize| if c < tets { -1 } else { mesh.boundary_faces[c - tets].tag as i32 };
    let cells = tets + triangles.len();
    let grid = Grid {
        points: &mesh.nodes,
        tets: &mesh.tets,
        triangles: &triangles,
        point_data: vec![],
        cell_data: vec![
            Field { name: "region", unit: "", values: Values::IntsFn(cells, &region) },
            Field { name: "boundary", unit: "", values: Values::IntsFn(cells, &boundary) },
        ],
        field_strings: vec![("region_names", &mesh.region_names), ("boundary_names", &mesh.boundary_names)],
    };
    write(path, &grid, Compression::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::structured::{tensor_box, uniform_line};

    /// Parse the XML header back and check each appended array's bytes, raw and zlib-compressed (three blocks for
    /// phi, the last partial): an in-crate structural check; the independent reader (Python VTK) runs in
    /// tests/cli/vtu_readback.rs.
    #[test]
    fn appended_arrays_match_their_declared_offsets_raw_and_compressed() {
        use std::io::Read;
        let l = uniform_line(0.0, 1.0, 20);
        let mesh = tensor_box(&l, &l, &l);
        let phi: Vec<f64> = mesh.nodes.iter().map(|p| p.z + 0.1 * p.x).collect();
        assert!(8 * phi.len() > 2 * BLOCK_BYTES && !(8 * phi.len()).is_multiple_of(BLOCK_BYTES));
        let grid = Grid {
            points: &mesh.nodes,
            tets: &mesh.tets,
            triangles: &[],
            point_data: vec![Field { name: "phi", unit: "V", values: Values::Scalars(&phi) }],
            cell_data: vec![],
            field_strings: vec![],
        };
        for compression in [Compression::None, Compression::Zlib] {
            let bytes = encode(&grid, compression);
            let start = bytes.windows(2).position(|w| w == b" _").unwrap() + 2;
            let header = String::from_utf8_lossy(&bytes[..start]).to_string();
            assert_eq!(header.contains("vtkZLibDataCompressor"), compression == Compression::Zlib);
            assert!(header.contains(&format!(r#"NumberOfPoints="{}" NumberOfCells="{}""#, phi.len(), mesh.tets.len())));
            let offset_of = |name: &str| -> usize {
                let at = header.find(&format!(r#"Name="{name}""#)).unwrap();
                let rest = &header[at..];
                let o = rest.find("offset=\"").unwrap() + 8;
                rest[o..o + rest[o..].find('"').unwrap()].parse().unwrap()
            };
            let word = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap()) as usize;
            let block = |name: &str| -> Vec<u8> {
                let o = start + offset_of(name);
                match compression {
                    Compression::None => bytes[o + 8..o + 8 + word(o)].to_vec(),
                    Compression::Zlib => {
                        let (count, size, partial) = (word(o), word(o + 8), word(o + 16));
                        assert_eq!(size, BLOCK_BYTES);
                        let mut at = o + 24 + 8 * count;
                        let mut out = Vec::new();
                        for k in 0..count {
                            let mut block = Vec::new();
                            let compressed = &bytes[at..at + word(o + 24 + 8 * k)];
                            flate2::read::ZlibDecoder::new(compressed).read_to_end(&mut block).unwrap();
                            let full = k + 1 < count || partial == 0;
                            assert_eq!(block.len(), if full { BLOCK_BYTES } else { partial });
                            at += compressed.len();
                            out.extend(block);
                        }
                        out
                    }
                }
            };
            let phi_back: Vec<f64> =
                block("phi").chunks(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
            assert_eq!(phi_back, phi);
            assert_eq!(block("types"), vec![VTK_TETRA; mesh.tets.len()]);
            // Connectivity and offsets in 32 bits.
            assert!(header.contains(r#"type="Int32" Name="offsets""#), "{header}");
            let offsets: Vec<i32> =
                block("offsets").chunks(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect();
            assert_eq!(offsets, (1..=mesh.tets.len() as i32).map(|c| 4 * c).collect::<Vec<_>>());
            let corners: Vec<i32> =
                block("connectivity").chunks(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect();
            assert_eq!(corners, mesh.tets.iter().flatten().map(|&n| n as i32).collect::<Vec<_>>());
        }
    }

    /// Beyond 2^31 - 1 connectivity entries the index arrays are Int64.
    #[test]
    fn index_arrays_widen_to_64_bits_when_the_offsets_do_not_fit() {
        let value = |i: usize| 3_000_000_000 + i as i64;
        for (wide, vtk_type, bytes) in [(false, "Int32", 4), (true, "Int64", 8)] {
            let array = index_payload(3, wide, Box::new(value));
            assert_eq!((array.vtk_type, array.entry_bytes), (vtk_type, bytes));
            let mut out = Vec::new();
            (array.encode)(0..3, &mut out);
            assert_eq!(out.len(), 3 * bytes);
            if wide {
                assert_eq!(i64::from_le_bytes(out[8..16].try_into().unwrap()), 3_000_000_001);
            }
        }
    }
}
