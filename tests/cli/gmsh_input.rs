//! Cases on Gmsh MSH files (`[mesh] file`): a two-tet file that solves, and every kind of bad input (the file's
//! format, its mesh, the case's binding to it), each an error naming the file and the line (ASCII), the byte
//! offset (binary) or the entity, exit code 1, and no output.

use crate::common::{assert_clean_failure, ionflux, read_summary};
use ionflux::io::msh::{write_msh, MshEncoding};
use ionflux::mesh::structured::{tensor_box, uniform_line};

/// Two tets sharing the face (2, 3, 4); groups: volume "bulk", surfaces "bottom" (1 2 3) and "top" (2 4 5).
const TWO_TETS: &str = "$MeshFormat
4.1 0 8
$EndMeshFormat
$PhysicalNames
3
2 1 \"bottom\"
2 3 \"top\"
3 2 \"bulk\"
$EndPhysicalNames
$Entities
0 0 2 1
1 0 0 0 1 1 0 1 1 0
2 0 0 0 1 1 1 1 3 0
1 0 0 0 1 1 1 1 2 0
$EndEntities
$Nodes
1 5 1 5
3 1 0 5
1
2
3
4
5
0 0 0
1 0 0
0 1 0
0 0 1
1 1 1
$EndNodes
$Elements
3 4 1 4
2 1 2 1
1 1 2 3
2 2 2 1
2 2 4 5
3 1 4 2
3 1 2 3 4
4 2 3 4 5
$EndElements
";

const CASE: &str = "[mesh]
file = \"cell.msh\"
unit = \"um\"

[regions.bulk]
material = \"llzo\"

[materials.llzo]
conductivity = \"1 S/m\"

[boundaries.bottom]
type = \"dirichlet\"
potential = \"0 V\"

[boundaries.top]
type = \"dirichlet\"
potential = \"1 V\"
";

fn run(case: &str, msh: &[u8]) -> (std::process::Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("case.toml"), case).unwrap();
    std::fs::write(dir.path().join("cell.msh"), msh).unwrap();
    let out = ionflux(&["solve", "case.toml", "--out", "out", "--quiet"], dir.path());
    (out, dir)
}

/// Runs the case on the file and checks a clean failure whose message holds every fragment.
fn fails(case: &str, msh: &[u8], expected: &[&str]) {
    let (out, dir) = run(case, msh);
    assert_clean_failure(&out, &dir.path().join("out"), expected);
}

/// The two-tet file with `from` replaced by `to` (which must occur).
fn edited(from: &str, to: &str) -> Vec<u8> {
    assert!(TWO_TETS.contains(from), "{from}");
    TWO_TETS.replacen(from, to, 1).into_bytes()
}

#[test]
fn a_two_tet_file_solves_with_its_groups_named() {
    let (out, dir) = run(CASE, TWO_TETS.as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = read_summary(&dir.path().join("out/summary.json"));
    let boundaries = summary["boundaries"].as_array().unwrap();
    let names: Vec<&str> = boundaries.iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["bottom", "top", "(ungrouped)"]);
    // Six exterior faces, two of them grouped; the rest insulating and counted.
    assert_eq!(summary["mesh"]["ungrouped_boundary_faces"].as_u64(), Some(4));
    assert_eq!(summary["mesh"]["tets"].as_u64(), Some(2));
    let bottom = boundaries[0]["current_A"].as_f64().unwrap();
    let top = boundaries[1]["current_A"].as_f64().unwrap();
    assert!(bottom > 0.0 && (bottom + top).abs() < 1e-9 * bottom.abs(), "{bottom} {top}");
    assert_eq!(boundaries[2]["current_A"].as_f64(), Some(0.0));
    assert_eq!(summary["mesh"]["dropped_nodes"].as_u64(), Some(0));

    // The same mesh with tet 4 written inverted and a sixth node no tet uses: re-oriented, dropped, same currents.
    let variant = TWO_TETS
        .replace("4 2 3 4 5", "4 3 2 4 5")
        .replace("1 5 1 5\n3 1 0 5\n", "1 6 1 6\n3 1 0 6\n")
        .replace("5\n0 0 0\n", "5\n6\n0 0 0\n")
        .replace("1 1 1\n$EndNodes", "1 1 1\n7 7 7\n$EndNodes");
    let (out, dir) = run(CASE, variant.as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again = read_summary(&dir.path().join("out/summary.json"));
    assert_eq!(again["mesh"]["dropped_nodes"].as_u64(), Some(1));
    assert_eq!(again["mesh"]["nodes"].as_u64(), Some(5));
    assert!(again["mesh"]["min_volume_m3"].as_f64().unwrap() > 0.0);
    let again_bottom = again["boundaries"][0]["current_A"].as_f64().unwrap();
    assert!((again_bottom - bottom).abs() < 1e-12 * bottom, "{again_bottom} vs {bottom}");

    // Without its name, the top group is "#3" (its tag).
    let unnamed = TWO_TETS.replace("3\n2 1 \"bottom\"\n2 3 \"top\"\n", "2\n2 1 \"bottom\"\n");
    let (out, dir) = run(&CASE.replace("[boundaries.top]", "[boundaries.\"#3\"]"), unnamed.as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let by_tag = read_summary(&dir.path().join("out/summary.json"));
    assert_eq!(by_tag["boundaries"][1]["name"].as_str(), Some("#3"));
    assert_eq!(by_tag["boundaries"][1]["current_A"].as_f64(), Some(top));
}

#[test]
fn format_errors_name_the_file_and_line() {
    let truncated = &TWO_TETS.as_bytes()[..TWO_TETS.find("0 1 0\n").unwrap()];
    fails(CASE, truncated, &["cell.msh", "line 26", "ends while reading a node coordinate"]);
    fails(CASE, &edited("4.1 0 8", "2.2 0 8"), &["cell.msh", "line 2", "MSH version 2.2 is not supported"]);
    let no_nodes = TWO_TETS.split("$Nodes").next().unwrap().to_string() + TWO_TETS.split("$EndNodes\n").nth(1).unwrap();
    fails(CASE, no_nodes.as_bytes(), &["cell.msh", "line 16", "$Elements comes before $Nodes"]);
    let no_elements = TWO_TETS.split("$Elements").next().unwrap();
    fails(CASE, no_elements.as_bytes(), &["cell.msh", "no $Elements section"]);
    fails(CASE, &edited("4 2 3 4 5", "4 2 3 4 9"), &["cell.msh", "line 38", "element 4 refers to node 9"]);
    fails(CASE, &edited("0 0 1\n", "0 0 x\n"), &["cell.msh", "line 27", "`x` is not a valid number"]);
    fails(CASE, &edited("$EndEntities", "$EndEntitie"), &["cell.msh", "line 15", "expected $EndEntities"]);
    fails(CASE, b"", &["cell.msh", "no $MeshFormat section"]);
    fails(CASE, b"solid cube\n", &["cell.msh", "line 1", "is this a Gmsh MSH file"]);
}

#[test]
fn binary_errors_name_the_byte_offset() {
    let line = uniform_line(0.0, 1.0, 2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("box.msh");
    write_msh(&path, &tensor_box(&line, &line, &line), MshEncoding::Binary).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let nodes = bytes.windows(7).position(|w| w == b"$Nodes\n").unwrap();
    let case = CASE.replace("[boundaries.bottom]", "[boundaries.interface]");
    fails(&case, &bytes[..nodes + 100], &["cell.msh", "byte offset", "truncated"]);
    // The whole file solves.
    let (out, _dir) = run(&case, &bytes);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn bad_meshes_name_the_entity() {
    // Node 5 on the plane of nodes 2, 3, 4: tet 4 is flat.
    fails(CASE, &edited("1 1 1\n", "0.5 0.5 0\n"), &["cell.msh", "tetrahedron 4 has zero volume"]);
    // Node 5 at node 1's point.
    fails(CASE, &edited("1 1 1\n", "0 0 0\n"), &["cell.msh", "nodes 1 and 5 lie at the same point", "Coherence"]);
    // Node 5 on node 1's side of the shared face: the tets overlap.
    fails(CASE, &edited("1 1 1\n", "0.1 0.1 0.1\n"), &["cell.msh", "tetrahedra 3 and 4 overlap"]);
    fails(CASE, &edited("2 2 4 5", "2 1 2 5"), &["cell.msh", "triangle 2 of surface group `top`", "not a face of any"]);
    // The top group reaching inside: triangle (2, 3, 4) is the shared face.
    fails(CASE, &edited("2 2 4 5", "2 2 3 4"), &["case.toml, line 15", "`top` is a surface inside the mesh"]);
    let quadratic = edited("3 4 1 4\n", "4 5 1 5\n").into_iter().collect::<Vec<u8>>();
    let quadratic =
        String::from_utf8(quadratic).unwrap().replace("$EndElements", "3 1 11 1\n5 1 2 3 4 1 2 3 4 1 2\n$EndElements");
    fails(
        CASE,
        quadratic.as_bytes(),
        &["cell.msh", "10-node second-order tetrahedron (type 11)", "Mesh.ElementOrder = 1"],
    );
    let ungrouped = edited("1 0 0 0 1 1 1 1 2 0", "1 0 0 0 1 1 1 0 0");
    fails(CASE, &ungrouped, &["cell.msh", "volume entity 1", "no physical volume group"]);
}

#[test]
fn the_case_must_match_the_file() {
    fails(
        &CASE.replace("[regions.bulk]", "[regions.electrolyte]"),
        TWO_TETS.as_bytes(),
        &["case.toml", "volume group `bulk`", "has no material"],
    );
    let extra = format!("{CASE}[regions.grain]\nmaterial = \"llzo\"\n");
    fails(&extra, TWO_TETS.as_bytes(), &["case.toml, line 18", "no volume group `grain`", "its volume groups: bulk"]);
    fails(
        &CASE.replace("[boundaries.top]", "[boundaries.lid]"),
        TWO_TETS.as_bytes(),
        &["case.toml, line 15", "no boundary is named `lid`", "bottom, top, (ungrouped)"],
    );
    fails(
        &CASE.replace("unit = \"um\"\n", ""),
        TWO_TETS.as_bytes(),
        &["case.toml, line 2", "mesh.unit", "does not guess"],
    );
    fails(
        &CASE.replace("unit = \"um\"", "unit = \"furlong\""),
        TWO_TETS.as_bytes(),
        &["case.toml, line 3", "`furlong` is not a length unit"],
    );
    fails(&CASE.replace("cell.msh", "missing.msh"), TWO_TETS.as_bytes(), &["case.toml, line 2", "no mesh file at"]);
    let generator = format!("{CASE}[domain]\nsize = [\"1 um\", \"1 um\", \"1 um\"]\nmaterial = \"llzo\"\n");
    fails(&generator, TWO_TETS.as_bytes(), &["case.toml, line 18", "`domain`", "belongs to the mesh generator"]);
    let paper = format!("{CASE}[analysis]\npaper_mode = true\n");
    fails(&paper, TWO_TETS.as_bytes(), &["case.toml, line 19", "analysis.paper_mode", "needs a generated geometry"]);
    let cylinder = format!("{CASE}[analysis]\ncylinder_radius = \"0.1 um\"\n");
    fails(&cylinder, TWO_TETS.as_bytes(), &["analysis.cylinder_axis", "on a mesh file the cylinder needs"]);
}
