//! The Gmsh MSH 4.1 reader: ASCII and binary (either endianness, 8-byte sizes), the sections a linear-tet mesh
//! needs (`$MeshFormat`, `$PhysicalNames`, `$Entities`, `$Nodes`, `$Elements`); any other section is skipped.
//!
//! Our own reader rather than the `mshio` crate: every error here names the line (ASCII) or byte offset
//! (binary) where the file goes wrong, which `mshio`'s nom errors do not give, and we need only this subset.
//! No count read from the file reserves memory beyond what the rest of the file could hold, so a corrupt
//! header cannot exhaust memory (the reader runs under `cargo fuzz`: `tests/fuzz`).
//! One file for one parser (over 500 lines): its sections share the cursor, the byte-position errors and the
//! memory bounds, which a split by section would have to pass around.

use rustc_hash::FxHashMap;
use std::fmt;

/// Where in the file an error is: a line of text, or a byte offset inside binary data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MshPosition {
    Line(usize),
    Byte(usize),
}

impl fmt::Display for MshPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MshPosition::Line(line) => write!(f, "line {line}"),
            MshPosition::Byte(offset) => write!(f, "byte offset {offset}"),
        }
    }
}

/// A malformed or unsupported file, at a position.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct ParseError {
    pub at: MshPosition,
    pub message: String,
}

/// An element block's elements of one kind, as read: the entity they belong to, their file tags and node
/// indices (into [`MshFile::nodes`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ElementBlock<const N: usize> {
    pub entity: i32,
    pub tags: Vec<u64>,
    pub nodes: Vec<[u32; N]>,
}

/// Elements the solver cannot take (second-order, hexahedra, prisms, quadrangles, ...): type and count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusedElements {
    pub element_type: i32,
    pub dim: i32,
    pub count: usize,
    pub at: MshPosition,
}

/// What a MSH 4.1 file says, in file terms: tags as written, coordinates in the file's unit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MshFile {
    /// (dimension, tag) -> name, from `$PhysicalNames`.
    pub physical_names: FxHashMap<(i32, i32), String>,
    /// (dimension, entity tag) -> physical tags, from `$Entities`.
    pub entity_groups: FxHashMap<(i32, i32), Vec<i32>>,
    pub node_tags: Vec<u64>,
    pub nodes: Vec<[f64; 3]>,
    pub tets: Vec<ElementBlock<4>>,
    pub triangles: Vec<ElementBlock<3>>,
    pub refused: Vec<RefusedElements>,
}

/// Gmsh element type numbers.
pub const TRIANGLE: i32 = 2;
pub const TETRAHEDRON: i32 = 4;

/// Nodes per element of the Gmsh element types up to 31 (index = type); `None` beyond.
fn nodes_per_element(element_type: i32) -> Option<usize> {
    const NODES: [usize; 32] =
        [0, 2, 3, 4, 4, 8, 6, 5, 3, 6, 9, 10, 27, 18, 14, 1, 8, 20, 15, 13, 9, 10, 12, 15, 15, 21, 4, 5, 6, 20, 35, 56];
    usize::try_from(element_type).ok().filter(|&t| t >= 1).and_then(|t| NODES.get(t).copied())
}

/// The dimension of a Gmsh element type (points 0, lines 1, surfaces 2, volumes 3).
fn element_dim(element_type: i32) -> i32 {
    match element_type {
        15 => 0,
        1 | 8 | 26 | 27 | 28 => 1,
        2 | 3 | 9 | 10 | 16 | 20..=25 => 2,
        _ => 3,
    }
}

/// A readable name of an element type, for refusals.
pub fn element_name(element_type: i32) -> String {
    let name = match element_type {
        3 => "4-node quadrangle",
        5 => "8-node hexahedron",
        6 => "6-node prism",
        7 => "5-node pyramid",
        9 => "6-node second-order triangle",
        10 => "9-node second-order quadrangle",
        11 => "10-node second-order tetrahedron",
        12 => "27-node second-order hexahedron",
        13 => "18-node second-order prism",
        14 => "14-node second-order pyramid",
        16 => "8-node second-order quadrangle",
        17 => "20-node second-order hexahedron",
        18 => "15-node second-order prism",
        19 => "13-node second-order pyramid",
        29 => "20-node third-order tetrahedron",
        30 => "35-node fourth-order tetrahedron",
        31 => "56-node fifth-order tetrahedron",
        _ => return format!("element type {element_type}"),
    };
    format!("{name} (type {element_type})")
}

/// Reads a MSH 4.1 file's bytes.
pub fn parse(data: &[u8]) -> Result<MshFile, ParseError> {
    parse_marked(data).map_err(|Fault { at, message }| ParseError { at: at.resolve(data), message })
}

/// A byte offset in the file, and whether it is reported by its line (text) or as an offset (binary data).
/// Lines are counted only when an error is reported: counting them per datum would cost O(n^2).
#[derive(Debug, Clone, Copy)]
struct Mark {
    pos: usize,
    text: bool,
}

impl Mark {
    fn resolve(self, data: &[u8]) -> MshPosition {
        if self.text {
            let end = self.pos.min(data.len());
            MshPosition::Line(1 + data[..end].iter().filter(|&&b| b == b'\n').count())
        } else {
            MshPosition::Byte(self.pos)
        }
    }
}

/// A [`ParseError`] before its position is resolved.
struct Fault {
    at: Mark,
    message: String,
}

fn parse_marked(data: &[u8]) -> Result<MshFile, Fault> {
    let mut reader = Reader { data, pos: 0, binary: false, swap: false };
    let mut file = MshFile::default();
    let mut node_index = NodeIndex::default();
    let mut seen_format = false;
    let mut seen_nodes = false;
    let mut seen_elements = false;
    while let Some(header) = reader.next_line() {
        let header_at = reader.line_at(reader.pos.saturating_sub(1));
        let name = header.trim();
        if name.is_empty() {
            continue;
        }
        let Some(section) = name.strip_prefix('$') else {
            let hint = if seen_format { "" } else { ": is this a Gmsh MSH file?" };
            let message = format!("expected a section header `$...`, found `{}`{hint}", clip(name));
            return Err(Fault { at: header_at, message });
        };
        if !seen_format && section != "MeshFormat" {
            return Err(Fault {
                at: header_at,
                message: format!(
                    "the file must start with $MeshFormat, found `${}`: is this a Gmsh MSH file?",
                    clip(section)
                ),
            });
        }
        match section {
            "MeshFormat" => {
                reader.mesh_format()?;
                seen_format = true;
            }
            "PhysicalNames" => reader.physical_names(&mut file)?,
            "Entities" => reader.entities(&mut file)?,
            "PartitionedEntities" => {
                return Err(Fault {
                    at: header_at,
                    message: "partitioned meshes are not supported: save the mesh unpartitioned (Gmsh: \
                              Mesh.PartitionOldStyleMsh2 off, or do not partition)"
                        .into(),
                })
            }
            "Nodes" => {
                if seen_nodes {
                    return Err(Fault { at: header_at, message: "a second $Nodes section".into() });
                }
                reader.nodes(&mut file, &mut node_index)?;
                seen_nodes = true;
            }
            "Elements" => {
                if !seen_nodes {
                    return Err(Fault { at: header_at, message: "$Elements comes before $Nodes".into() });
                }
                if seen_elements {
                    return Err(Fault { at: header_at, message: "a second $Elements section".into() });
                }
                reader.elements(&mut file, &node_index)?;
                seen_elements = true;
                continue;
            }
            other if other.starts_with("End") => {
                return Err(Fault { at: header_at, message: format!("`${}` without its section", clip(other)) })
            }
            other => {
                reader.skip_section(other, header_at)?;
                continue;
            }
        }
    }
    let end = reader.line_at(data.len());
    if !seen_format {
        return Err(Fault {
            at: end,
            message: "no $MeshFormat section: the file is empty or not a Gmsh MSH file".into(),
        });
    }
    if !seen_nodes {
        return Err(Fault { at: end, message: "no $Nodes section".into() });
    }
    if !seen_elements {
        return Err(Fault { at: end, message: "no $Elements section".into() });
    }
    Ok(file)
}

/// At most 60 characters of a token, for messages.
fn clip(text: &str) -> String {
    let mut clipped: String = text.chars().take(60).collect();
    if clipped.len() < text.len() {
        clipped.push_str("...");
    }
    clipped
}

/// Node tags to indices: a table when the tags are dense (as Gmsh writes them), a map otherwise.
#[derive(Default)]
enum NodeIndex {
    #[default]
    Empty,
    Dense(Vec<u32>),
    Sparse(FxHashMap<u64, u32>),
}

impl NodeIndex {
    const ABSENT: u32 = u32::MAX;

    fn new(max_tag: u64, count: usize) -> NodeIndex {
        if max_tag <= 4 * count as u64 + 1024 {
            NodeIndex::Dense(vec![Self::ABSENT; max_tag as usize + 1])
        } else {
            NodeIndex::Sparse(FxHashMap::default())
        }
    }

    /// Records `tag` as node `index`; false if the tag was there already.
    fn insert(&mut self, tag: u64, index: u32) -> bool {
        match self {
            NodeIndex::Empty => {
                *self = NodeIndex::Sparse(FxHashMap::default());
                self.insert(tag, index)
            }
            NodeIndex::Dense(table) => match table.get_mut(tag as usize) {
                Some(slot) if *slot == Self::ABSENT => {
                    *slot = index;
                    true
                }
                Some(_) => false,
                None => {
                    let map = table
                        .iter()
                        .enumerate()
                        .filter(|(_, &i)| i != Self::ABSENT)
                        .map(|(t, &i)| (t as u64, i))
                        .collect();
                    *self = NodeIndex::Sparse(map);
                    self.insert(tag, index)
                }
            },
            NodeIndex::Sparse(map) => map.insert(tag, index).is_none(),
        }
    }

    fn get(&self, tag: u64) -> Option<u32> {
        match self {
            NodeIndex::Empty => None,
            NodeIndex::Dense(table) => table.get(tag as usize).copied().filter(|&i| i != Self::ABSENT),
            NodeIndex::Sparse(map) => map.get(&tag).copied(),
        }
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    binary: bool,
    /// Binary data in the other byte order than this machine's.
    swap: bool,
}

impl Reader<'_> {
    /// Byte `pos`, to be reported by its line.
    fn line_at(&self, pos: usize) -> Mark {
        Mark { pos, text: true }
    }

    /// Where the next datum is: reported by its line in ASCII, by its byte offset in binary.
    fn here(&self) -> Mark {
        Mark { pos: self.pos, text: !self.binary }
    }

    fn error(&self, message: impl Into<String>) -> Fault {
        Fault { at: self.here(), message: message.into() }
    }

    fn truncated(&self, what: &str) -> Fault {
        Fault {
            at: self.here(),
            message: format!("the file ends while reading {what} (truncated, or a count in the file is wrong)"),
        }
    }

    /// The next line (without its `\n` or `\r\n`), or `None` at the end.
    fn next_line(&mut self) -> Option<String> {
        if self.pos >= self.data.len() {
            return None;
        }
        let rest = &self.data[self.pos..];
        let len = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        self.pos += (len + 1).min(rest.len());
        let line = &rest[..len];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        Some(String::from_utf8_lossy(line).into_owned())
    }

    /// Expects `$End<section>` as the next non-empty line.
    fn end_marker(&mut self, section: &str) -> Result<(), Fault> {
        loop {
            let at = self.line_at(self.pos);
            let Some(line) = self.next_line() else {
                return Err(Fault { at, message: format!("the file ends before $End{section} (truncated?)") });
            };
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if line == format!("$End{section}") {
                return Ok(());
            }
            return Err(Fault {
                at,
                message: format!("expected $End{section}, found `{}` (a count in the section is wrong?)", clip(line)),
            });
        }
    }

    /// Skips an unknown section to its end marker.
    fn skip_section(&mut self, section: &str, at: Mark) -> Result<(), Fault> {
        let marker = format!("$End{section}");
        while let Some(line) = self.next_line() {
            if line.trim() == marker {
                return Ok(());
            }
        }
        Err(Fault { at, message: format!("section ${} has no {marker}", clip(section)) })
    }

    /// The next whitespace-separated token of ASCII data.
    fn token(&mut self, what: &str) -> Result<&str, Fault> {
        while self.pos < self.data.len() && self.data[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        let start = self.pos;
        while self.pos < self.data.len() && !self.data[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        if start == self.pos {
            return Err(self.truncated(what));
        }
        std::str::from_utf8(&self.data[start..self.pos]).map_err(|_| self.error(format!("{what}: not text")))
    }

    fn ascii<T: std::str::FromStr>(&mut self, what: &str) -> Result<T, Fault> {
        let token = self.token(what)?.to_string();
        token.parse().map_err(|_| {
            let mut error = self.error(format!("{what}: `{}` is not a valid number", clip(&token)));
            error.at = self.line_at(self.pos - 1);
            error
        })
    }

    fn bytes<const N: usize>(&mut self, what: &str) -> Result<[u8; N], Fault> {
        let Some(slice) = self.data.get(self.pos..self.pos + N) else {
            return Err(self.truncated(what));
        };
        let mut bytes: [u8; N] = slice.try_into().expect("N bytes");
        if self.swap {
            bytes.reverse();
        }
        self.pos += N;
        Ok(bytes)
    }

    fn int(&mut self, what: &str) -> Result<i32, Fault> {
        if self.binary {
            Ok(i32::from_ne_bytes(self.bytes(what)?))
        } else {
            self.ascii(what)
        }
    }

    fn size(&mut self, what: &str) -> Result<u64, Fault> {
        if self.binary {
            Ok(u64::from_ne_bytes(self.bytes(what)?))
        } else {
            self.ascii(what)
        }
    }

    fn real(&mut self, what: &str) -> Result<f64, Fault> {
        let value = if self.binary { f64::from_ne_bytes(self.bytes(what)?) } else { self.ascii(what)? };
        if value.is_finite() {
            Ok(value)
        } else {
            Err(self.error(format!("{what} is not a finite number ({value})")))
        }
    }

    /// A count of items each at least `min_bytes` long in the file: refused when the rest of the file could not
    /// hold them, so that no corrupt count reserves memory.
    fn count(&mut self, what: &str, min_bytes: usize) -> Result<usize, Fault> {
        let at = self.here();
        let count = self.size(what)?;
        let room = (self.data.len() - self.pos) / min_bytes.max(1);
        if count > room as u64 {
            return Err(Fault {
                at,
                message: format!("{what} is {count}, more than the rest of the file can hold (truncated or corrupt)"),
            });
        }
        Ok(count as usize)
    }

    /// The smallest size of a number in the data: one byte and a separator in ASCII, its width in binary.
    fn min_bytes(&self, width: usize) -> usize {
        if self.binary {
            width
        } else {
            2
        }
    }

    fn mesh_format(&mut self) -> Result<(), Fault> {
        let at = self.line_at(self.pos);
        let line = self.next_line().ok_or_else(|| self.truncated("the $MeshFormat line"))?;
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [version, file_type, data_size] = fields[..] else {
            return Err(Fault {
                at,
                message: format!("$MeshFormat needs `version file-type data-size`, found `{}`", clip(&line)),
            });
        };
        if version != "4.1" {
            return Err(Fault {
                at,
                message: format!(
                    "MSH version {} is not supported: ionflux reads MSH 4.1 (Gmsh: Mesh.MshFileVersion = 4.1, or \
                     `gmsh -save -format msh41`)",
                    clip(version)
                ),
            });
        }
        if data_size != "8" {
            return Err(Fault {
                at,
                message: format!("data-size {} is not supported: ionflux reads 8-byte sizes", clip(data_size)),
            });
        }
        match file_type {
            "0" => {}
            "1" => {
                self.binary = true;
                let one_at = self.pos;
                let one: [u8; 4] = self.bytes("the binary endianness check")?;
                if one == 1i32.to_ne_bytes() {
                    self.swap = false;
                } else if one == 1i32.swap_bytes().to_ne_bytes() {
                    self.swap = true;
                } else {
                    return Err(Fault {
                        at: Mark { pos: one_at, text: false },
                        message: "the binary endianness check is not the integer 1".into(),
                    });
                }
            }
            other => {
                return Err(Fault {
                    at,
                    message: format!("file-type {} is neither 0 (ASCII) nor 1 (binary)", clip(other)),
                })
            }
        }
        self.text_end("MeshFormat")
    }

    fn physical_names(&mut self, file: &mut MshFile) -> Result<(), Fault> {
        // Always text, even in binary files.
        let at = self.line_at(self.pos);
        let count_line = self.next_line().ok_or_else(|| self.truncated("the number of physical names"))?;
        let count: usize = count_line.trim().parse().map_err(|_| Fault {
            at,
            message: format!("the number of physical names `{}` is not a count", clip(count_line.trim())),
        })?;
        for _ in 0..count {
            let at = self.line_at(self.pos);
            let line = self.next_line().ok_or_else(|| self.truncated("a physical name"))?;
            let bad =
                || Fault { at, message: format!("a physical name needs `dim tag \"name\"`, found `{}`", clip(&line)) };
            let mut parts = line.trim().splitn(3, char::is_whitespace);
            let dim: i32 = parts.next().and_then(|d| d.parse().ok()).ok_or_else(bad)?;
            let tag: i32 = parts.next().and_then(|t| t.parse().ok()).ok_or_else(bad)?;
            let quoted = parts.next().map(str::trim).ok_or_else(bad)?;
            let name = quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"')).ok_or_else(bad)?;
            if !(0..=3).contains(&dim) {
                return Err(Fault { at, message: format!("physical name `{name}` has dimension {dim}, not 0..3") });
            }
            if file.physical_names.insert((dim, tag), name.to_string()).is_some() {
                return Err(Fault { at, message: format!("physical group ({dim}, {tag}) is named twice") });
            }
        }
        self.end_marker("PhysicalNames")
    }

    fn entities(&mut self, file: &mut MshFile) -> Result<(), Fault> {
        let size = self.min_bytes(8);
        let counts = [
            self.count("the number of point entities", size)?,
            self.count("the number of curve entities", size)?,
            self.count("the number of surface entities", size)?,
            self.count("the number of volume entities", size)?,
        ];
        for (dim, &count) in counts.iter().enumerate() {
            for _ in 0..count {
                let at = self.here();
                let tag = self.int("an entity tag")?;
                let coordinates = if dim == 0 { 3 } else { 6 };
                for _ in 0..coordinates {
                    self.real("an entity's bounding box")?;
                }
                let groups = self.count("an entity's number of physical tags", self.min_bytes(4))?;
                let tags = (0..groups).map(|_| self.int("a physical tag")).collect::<Result<Vec<i32>, _>>()?;
                if dim > 0 {
                    let bounding = self.count("an entity's number of bounding entities", self.min_bytes(4))?;
                    for _ in 0..bounding {
                        self.int("a bounding entity tag")?;
                    }
                }
                if file.entity_groups.insert((dim as i32, tag), tags).is_some() {
                    return Err(Fault { at, message: format!("entity ({dim}, {tag}) is defined twice") });
                }
            }
        }
        self.end_marker("Entities")
    }

    fn nodes(&mut self, file: &mut MshFile, index: &mut NodeIndex) -> Result<(), Fault> {
        let size = self.min_bytes(8);
        let blocks = self.count("the number of node blocks", size)?;
        let total = self.count("the number of nodes", size)?;
        let _min_tag = self.size("the smallest node tag")?;
        let max_tag = self.size("the largest node tag")?;
        *index = NodeIndex::new(max_tag, total);
        file.nodes.reserve(total);
        file.node_tags.reserve(total);
        for _ in 0..blocks {
            let dim = self.int("a node block's entity dimension")?;
            let _entity = self.int("a node block's entity tag")?;
            let parametric_at = self.here();
            let parametric = self.int("a node block's parametric flag")?;
            let count = self.count("a node block's number of nodes", size)?;
            let parameters = match parametric {
                0 => 0,
                1 => dim.clamp(0, 3) as usize,
                other => {
                    return Err(Fault {
                        at: parametric_at,
                        message: format!("parametric flag {other} is neither 0 nor 1"),
                    })
                }
            };
            let first = file.nodes.len();
            for _ in 0..count {
                let at = self.here();
                let tag = self.size("a node tag")?;
                if file.nodes.len() >= total {
                    return Err(Fault { at, message: format!("more nodes than the {total} the header says") });
                }
                if tag == 0 {
                    return Err(Fault { at, message: "node tag 0 (tags start at 1)".into() });
                }
                if !index.insert(tag, file.nodes.len() as u32) {
                    return Err(Fault { at, message: format!("node {tag} is defined twice") });
                }
                file.node_tags.push(tag);
                file.nodes.push([0.0; 3]);
            }
            for node in &mut file.nodes[first..] {
                for c in node.iter_mut() {
                    *c = self.real("a node coordinate")?;
                }
                for _ in 0..parameters {
                    self.real("a node's parametric coordinate")?;
                }
            }
        }
        if file.nodes.len() != total {
            return Err(self.error(format!("the header says {total} nodes, the blocks hold {}", file.nodes.len())));
        }
        self.text_end("Nodes")
    }

    /// The end marker after data (in binary, the data ends with a newline before it).
    fn text_end(&mut self, section: &str) -> Result<(), Fault> {
        let binary = std::mem::replace(&mut self.binary, false);
        let result = self.end_marker(section);
        self.binary = binary;
        result
    }

    fn elements(&mut self, file: &mut MshFile, index: &NodeIndex) -> Result<(), Fault> {
        let size = self.min_bytes(8);
        let blocks = self.count("the number of element blocks", size)?;
        let total = self.count("the number of elements", size)?;
        let _min_tag = self.size("the smallest element tag")?;
        let _max_tag = self.size("the largest element tag")?;
        let mut read = 0usize;
        for _ in 0..blocks {
            let dim = self.int("an element block's entity dimension")?;
            let entity = self.int("an element block's entity tag")?;
            let type_at = self.here();
            let element_type = self.int("an element block's element type")?;
            let nodes = nodes_per_element(element_type).ok_or_else(|| Fault {
                at: type_at,
                message: format!("element type {element_type} is not a Gmsh element type ionflux knows"),
            })?;
            let count = self.count("an element block's number of elements", size * (nodes + 1))?;
            read += count;
            if read > total {
                return Err(Fault { at: type_at, message: format!("more elements than the {total} the header says") });
            }
            if element_dim(element_type) != dim {
                return Err(Fault {
                    at: type_at,
                    message: format!("{} in an entity of dimension {dim}", element_name(element_type)),
                });
            }
            match element_type {
                TETRAHEDRON => {
                    let block = self.element_block::<4>(entity, count, index)?;
                    file.tets.push(block);
                }
                TRIANGLE => {
                    let block = self.element_block::<3>(entity, count, index)?;
                    file.triangles.push(block);
                }
                _ => {
                    for _ in 0..count * (nodes + 1) {
                        self.size("an element's tag or node")?;
                    }
                    // Points and lines do not take part; surfaces and volumes of other types are refused later.
                    if dim >= 2 {
                        file.refused.push(RefusedElements { element_type, dim, count, at: type_at.resolve(self.data) });
                    }
                }
            }
        }
        if read != total {
            return Err(self.error(format!("the header says {total} elements, the blocks hold {read}")));
        }
        self.text_end("Elements")
    }

    fn element_block<const N: usize>(
        &mut self,
        entity: i32,
        count: usize,
        index: &NodeIndex,
    ) -> Result<ElementBlock<N>, Fault> {
        let mut block = ElementBlock { entity, tags: Vec::with_capacity(count), nodes: Vec::with_capacity(count) };
        for _ in 0..count {
            let tag = self.size("an element tag")?;
            let mut nodes = [0u32; N];
            for node in &mut nodes {
                let at = self.here();
                let node_tag = self.size("an element's node tag")?;
                *node = index.get(node_tag).ok_or_else(|| Fault {
                    at,
                    message: format!("element {tag} refers to node {node_tag}, which $Nodes does not define"),
                })?;
            }
            block.tags.push(tag);
            block.nodes.push(nodes);
        }
        Ok(block)
    }
}
