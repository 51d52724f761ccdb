//! Case files: the shipped ones load, values arrive in SI, bad input is an error that names the field and
//! the line, `--set` overrides work, hot-spot arrays and random placements expand as specified.

use std::path::{Path, PathBuf};

use glam::DVec3;
use ionflux::case::{Case, CaseError};
use ionflux::fem::BoundaryCondition;
use ionflux::mesh::geometry::{HotSpot, HotSpotShape};
use ionflux::mesh::structured::{tensor_box, uniform_line};
use ionflux::solver::settings::{Backend, Precision, DEFAULT_CHECK_EVERY};

/// A valid case; tests below edit one line or append tables. Line numbers: conductivity is line 6,
/// the interface type line 8, the top current density line 12.
const BASE: &str = r#"name = "test"
[domain]
size = ["2 um", "2 um", "2 um"]
material = "llzo"
[materials.llzo]
conductivity = "0.00216 S/cm"
[boundaries.interface]
type = "dirichlet"
potential = "0 V"
[boundaries.top]
type = "neumann"
current_density = "50 mA/cm^2"
"#;

fn load(text: &str, overrides: &[&str]) -> Result<Case, CaseError> {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    Case::from_toml_str(text, "test.toml", &overrides)
}

fn error(text: &str, overrides: &[&str]) -> String {
    match load(text, overrides) {
        Ok(_) => panic!("expected an error for:\n{text}\nwith {overrides:?}"),
        Err(error) => error.to_string(),
    }
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "`{part}` missing from: {message}");
    }
}

fn base_with(old: &str, new: &str) -> String {
    assert!(BASE.contains(old), "{old}");
    BASE.replacen(old, new, 1)
}

fn meshes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("meshes")
}

fn sphere(spot: &HotSpot) -> (DVec3, f64) {
    match spot.shape {
        HotSpotShape::Sphere { center, radius } => (center, radius),
        HotSpotShape::Disk { .. } => panic!("{} is a disk", spot.name),
    }
}

fn disk(spot: &HotSpot) -> (f64, f64, f64) {
    match spot.shape {
        HotSpotShape::Disk { center_x, center_y, radius } => (center_x, center_y, radius),
        HotSpotShape::Sphere { .. } => panic!("{} is a sphere", spot.name),
    }
}

#[test]
fn every_shipped_case_file_loads() {
    let mut loaded = Vec::new();
    for entry in std::fs::read_dir(meshes_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let case = Case::load(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
            loaded.push((path.file_stem().unwrap().to_string_lossy().into_owned(), case));
        }
    }
    loaded.sort_by(|a, b| a.0.cmp(&b.0));
    let names: Vec<&str> = loaded.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "array_5x5",
            "default",
            "disk_patch",
            "hotspot_085",
            "hotspot_kinetics",
            "interface_kinetics",
            "interlayer_hotspot",
            "interlayer_robin",
            "random",
            "random_200",
            "random_500",
            "slab",
            "slab_neumann",
            "sphere_in_box",
            "void"
        ]
    );
    let sphere_in_box = &loaded.iter().find(|(n, _)| n == "sphere_in_box").unwrap().1;
    let file = sphere_in_box.mesh_file().expect("a mesh file");
    assert!(file.path.ends_with("meshes/sphere_in_box.msh") && file.unit_m == 1e-9, "{file:?}");
    assert_eq!(sphere_in_box.regions["electrolyte"].material, "llzo");
    let hot_spot_count =
        |name: &str| loaded.iter().find(|(n, _)| n == name).unwrap().1.geometry().unwrap().hotspots.len();
    assert_eq!(hot_spot_count("array_5x5"), 25);
    assert_eq!(hot_spot_count("random"), 10);
    assert_eq!(hot_spot_count("random_200"), 200);
    assert_eq!(hot_spot_count("random_500"), 500);
    assert_eq!(hot_spot_count("slab"), 0);
    assert_eq!(hot_spot_count("interlayer_hotspot"), 1);
    let interlayer = &loaded.iter().find(|(n, _)| n == "interlayer_hotspot").unwrap().1;
    let resistance = interlayer.geometry().unwrap().layers[0].top_resistance.expect("a resistive top plane");
    assert!((resistance - 0.13e-4).abs() < 1e-12 * 0.13e-4, "0.13 Ohm cm^2 is {resistance} Ohm m^2");
}

#[test]
fn default_case_is_the_papers_hot_spot_in_si() {
    let case = Case::default_case();
    assert_eq!(case.source, "built-in default");
    assert_eq!(case.geometry().unwrap().size, DVec3::new(8e-6, 8e-6, 8e-6));
    assert!(case.geometry().unwrap().layers.is_empty());
    assert_eq!(case.geometry().unwrap().bulk_region, "llzo");
    let llzo = case.materials["llzo"];
    assert_eq!((llzo.conductivity, llzo.relative_permittivity), (0.216, 72.87));
    assert_eq!(case.geometry().unwrap().hotspots.len(), 1);
    let spot = &case.geometry().unwrap().hotspots[0];
    assert_eq!((spot.name.as_str(), spot.group.as_str()), ("hotspot", "hotspot"));
    assert_eq!(sphere(spot), (DVec3::new(4e-6, 4e-6, 25e-9), 1e-8));
    assert_eq!(case.condition_for("interface"), BoundaryCondition::Dirichlet { potential: 0.0 });
    assert_eq!(case.condition_for("top"), BoundaryCondition::Neumann { inward_current_density: 500.0 });
    assert_eq!(case.condition_for("hotspot"), BoundaryCondition::Dirichlet { potential: 0.9 });
    for side in ["x_min", "x_max", "y_min", "y_max"] {
        assert_eq!(case.condition_for(side), BoundaryCondition::Insulating);
    }
    // h_max = 0.5 um from the file; defaults: h_interface = h_max / 8, h_min = 10 nm / 5, grading 1.3.
    assert_eq!(
        (case.mesh.h_max, case.mesh.h_interface, case.mesh.h_min, case.mesh.grading),
        (5e-7, 6.25e-8, 2e-9, 1.3)
    );
    assert_eq!((case.solver.backend, case.solver.precision), (Backend::Auto, Precision::Mixed));
    assert_eq!((case.solver.rtol, case.solver.atol, case.solver.max_iter), (1e-10, 0.0, 20_000));
    assert!(case.output.vtu && case.output.summary_json);
    // The default and meshes/default.toml are one text.
    let file = Case::load(&meshes_dir().join("default.toml"), &[]).unwrap();
    assert_eq!((file.meshing, file.materials, file.mesh), (case.meshing, case.materials, case.mesh));
}

#[test]
fn shipped_cases_carry_their_stated_values() {
    let load_file = |name: &str| Case::load(&meshes_dir().join(name), &[]).unwrap();
    let robin = load_file("interlayer_robin.toml");
    assert_eq!(robin.geometry().unwrap().layers.len(), 1);
    assert_eq!(
        (robin.geometry().unwrap().layers[0].region.as_str(), robin.geometry().unwrap().layers[0].thickness),
        ("li3sb", 20e-9)
    );
    assert_eq!(robin.materials["li3sb"].conductivity, 0.02);
    assert_eq!(
        robin.condition_for("interface"),
        BoundaryCondition::Robin { resistance: 1.3e-5, electrode_potential: 0.0 }
    );
    assert_eq!(robin.condition_for("top"), BoundaryCondition::Dirichlet { potential: 0.01 });
    let slab = load_file("slab.toml");
    assert_eq!(slab.geometry().unwrap().size, DVec3::new(1e-6, 1e-6, 1e-5));
    assert_eq!(slab.condition_for("top"), BoundaryCondition::Dirichlet { potential: 0.1 });
    assert_eq!(
        load_file("hotspot_085.toml").condition_for("hotspot"),
        BoundaryCondition::Dirichlet { potential: 0.85 }
    );
    let patch = load_file("disk_patch.toml");
    assert_eq!(disk(&patch.geometry().unwrap().hotspots[0]), (4e-6, 4e-6, 1e-8));
    assert_eq!(patch.condition_for("patch"), BoundaryCondition::Dirichlet { potential: 0.9 });
    let void = load_file("void.toml");
    assert_eq!(disk(&void.geometry().unwrap().hotspots[0]), (4e-6, 4e-6, 1e-6));
    assert_eq!(void.condition_for("void"), BoundaryCondition::Insulating);
}

#[test]
fn malformed_toml_names_the_line() {
    let message = error(&base_with(r#"conductivity = "0.00216 S/cm""#, r#"conductivity = "0.00216 S/cm"#), &[]);
    assert_mentions(&message, &["test.toml, line 6", "malformed TOML"]);
}

#[test]
fn unit_errors_name_field_and_line() {
    for (value, expected) in [
        (r#""0.00216 S/furlong""#, "unknown unit `S/furlong`"),
        (r#""5 nm""#, "is a length, but a conductivity was expected"),
        ("0.00216", "has no unit"),
        (r#""fast""#, "does not start with a number"),
    ] {
        let message = error(&base_with(r#""0.00216 S/cm""#, value), &[]);
        assert_mentions(&message, &["test.toml, line 6", "`materials.llzo.conductivity`", expected]);
    }
    let message = error(&base_with(r#""50 mA/cm^2""#, r#""50 mA""#), &[]);
    assert_mentions(&message, &["line 12", "`boundaries.top.current_density`", "is a current, but a current density"]);
}

#[test]
fn zero_or_negative_conductivity_is_an_error() {
    for value in ["0 S/m", "-1 mS/cm"] {
        let message = error(&base_with("0.00216 S/cm", value), &[]);
        assert_mentions(&message, &["line 6", "materials.llzo.conductivity", "of `llzo` must be positive"]);
    }
}

#[test]
fn no_dirichlet_or_robin_condition_is_a_singular_problem() {
    let text = base_with("type = \"dirichlet\"\npotential = \"0 V\"", "type = \"insulating\"");
    let message = error(&text, &[]);
    assert_mentions(&message, &["test.toml", "singular problem", "defined only up to a constant"]);
    // A Robin condition anchors the potential.
    let robin =
        base_with("type = \"dirichlet\"\npotential = \"0 V\"", "type = \"robin\"\nresistance = \"0.13 Ohm cm^2\"");
    assert_eq!(
        load(&robin, &[]).unwrap().condition_for("interface"),
        BoundaryCondition::Robin { resistance: 1.3e-5, electrode_potential: 0.0 }
    );
}

#[test]
fn layers_thicker_than_the_box_are_an_error() {
    let text = format!("{BASE}[[layers]]\nmaterial = \"llzo\"\nthickness = \"1.5 um\"\n[[layers]]\nmaterial = \"llzo\"\nthickness = \"0.5 um\"\n");
    let message = error(&text, &[]);
    assert_mentions(
        &message,
        &["line 18", "`layers[1].thickness`", "2 um thick in all, not less than the box height 2 um"],
    );
    let fits = text.replace("0.5 um", "0.4 um");
    let layers = load(&fits, &[]).unwrap().geometry().unwrap().layers.clone();
    assert_eq!(layers.iter().map(|l| l.thickness).collect::<Vec<_>>(), [1.5e-6, 0.4e-6]);
}

#[test]
fn schema_errors_name_the_key() {
    let message = error(&base_with("conductivity =", "conductivty ="), &[]);
    assert_mentions(&message, &["line 6", "unknown field `conductivty`", "`materials.llzo.conductivty`"]);
    let message = error(&base_with("material = \"llzo\"", "material = \"lzo\""), &[]);
    assert_mentions(&message, &["line 4", "`domain.material`", "no material `lzo`"]);
    let message = error(&base_with("size = [\"2 um\", \"2 um\", \"2 um\"]", "size = [\"2 um\", \"2 um\"]"), &[]);
    assert_mentions(&message, &["line 3", "`domain.size`", "needs 3 values, got 2"]);
    let message =
        error(&base_with("size = [\"2 um\", \"2 um\", \"2 um\"]", "size = [\"2 um\", \"0 um\", \"2 um\"]"), &[]);
    assert_mentions(&message, &["line 3", "Ly must be positive"]);
    let message = error(&format!("{BASE}[solver]\nbackend = \"quantum\"\n"), &[]);
    assert_mentions(&message, &["line 14", "solver.backend", "unknown variant `quantum`"]);
}

#[test]
fn boundary_entries_are_checked() {
    let message = error(&format!("{BASE}[boundaries.bottom]\ntype = \"insulating\"\n"), &[]);
    assert_mentions(&message, &["line 13", "no boundary is named `bottom`", "interface, top, x_min"]);
    let message = error(&base_with("type = \"neumann\"", "type = \"neumann\"\npotential = \"1 V\""), &[]);
    assert_mentions(&message, &["line 12", "`boundaries.top.potential`", "does not apply to a neumann boundary"]);
    let message = error(&base_with("potential = \"0 V\"", ""), &[]);
    assert_mentions(
        &message,
        &["line 8", "`boundaries.interface.potential`", "a dirichlet boundary needs `potential`"],
    );
    let message = error(&base_with("type = \"neumann\"", "type = \"neuman\""), &[]);
    assert_mentions(&message, &["line 11", "unknown boundary type `neuman`"]);
    let message = error(
        &base_with("type = \"dirichlet\"\npotential = \"0 V\"", "type = \"robin\"\nresistance = \"0 Ohm cm^2\""),
        &[],
    );
    assert_mentions(&message, &["line 9", "boundaries.interface.resistance", "must be positive"]);
}

#[test]
fn butler_volmer_boundaries_are_read_and_checked() {
    let kinetic = |keys: &str| {
        base_with("type = \"dirichlet\"\npotential = \"0 V\"", &format!("type = \"butler_volmer\"\n{keys}"))
    };
    let with_temperature = |text: String| format!("temperature = \"75 degC\"\n{text}");
    // Read in SI, alphas defaulting to 0.5, the temperature in degC made kelvin.
    let case = load(
        &with_temperature(kinetic(
            "exchange_current_density = \"1 mA/cm^2\"\nalpha_cathodic = 0.7\nelectrode_potential = \"10 mV\"\n\
             equilibrium_potential = \"-5 mV\"\nfilm_resistance = \"2 Ohm cm^2\"",
        )),
        &[],
    )
    .unwrap();
    let BoundaryCondition::ButlerVolmer(k) = case.condition_for("interface") else { panic!("not kinetic") };
    assert_eq!((k.exchange_current_density, k.alpha_anodic, k.alpha_cathodic), (10.0, 0.5, 0.7));
    assert_eq!((k.electrode_potential, k.equilibrium_potential), (0.01, -0.005));
    assert!((k.film_resistance - 2e-4).abs() < 1e-18);
    // R T / F at 348.15 K.
    assert!((k.thermal_voltage - 8.314_462_618 * 348.15 / 96_485.332_12).abs() < 1e-12, "{}", k.thermal_voltage);

    let message = error(&kinetic("exchange_current_density = \"1 mA/cm^2\""), &[]);
    assert_mentions(&message, &["`temperature`", "a butler_volmer boundary needs the case's top-level `temperature`"]);
    let message = error(&with_temperature(kinetic("exchange_current_density = \"0 mA/cm^2\"")), &[]);
    assert_mentions(&message, &["line 10", "boundaries.interface.exchange_current_density", "must be positive"]);
    let message = error(&with_temperature(kinetic("exchange_current_density = \"-1 A/m^2\"")), &[]);
    assert_mentions(&message, &["boundaries.interface.exchange_current_density", "must be positive"]);
    for alpha in ["0", "1.5", "-0.2"] {
        let keys = format!("exchange_current_density = \"1 A/m^2\"\nalpha_anodic = {alpha}");
        let message = error(&with_temperature(kinetic(&keys)), &[]);
        assert_mentions(&message, &["line 11", "boundaries.interface.alpha_anodic", "must lie in (0, 1]"]);
    }
    let message = error(&with_temperature(kinetic("alpha_anodic = 0.5")), &[]);
    assert_mentions(&message, &["boundaries.interface.exchange_current_density", "needs `exchange_current_density`"]);
    let message =
        error(&with_temperature(kinetic("exchange_current_density = \"1 A/m^2\"\nresistance = \"1 Ohm m^2\"")), &[]);
    assert_mentions(&message, &["boundaries.interface.resistance", "does not apply to a butler_volmer boundary"]);
    for (temperature, reason) in
        [("\"300\"", "unknown temperature unit"), ("300", "has no unit"), ("\"-300 K\"", "outside")]
    {
        let text = format!("temperature = {temperature}\n{}", kinetic("exchange_current_density = \"1 A/m^2\""));
        let message = error(&text, &[]);
        assert_mentions(&message, &["line 1", "`temperature`", reason]);
    }
    let spot = "[[hotspots]]\nname = \"s\"\nshape = \"sphere\"\ncenter = [\"1 um\", \"1 um\", \"0.5 um\"]\n\
                radius = \"50 nm\"\n[boundaries.s]\ntype = \"dirichlet\"\npotential = \"0.9 V\"\n";
    let text = format!("{}{spot}", with_temperature(kinetic("exchange_current_density = \"1 A/m^2\"")));
    let message = error(&text, &["analysis.paper_mode=true"]);
    assert_mentions(&message, &["analysis.paper_mode", "Butler-Volmer kinetics"]);
}

#[test]
fn mesh_controls_are_checked() {
    let message = error(&format!("{BASE}[mesh]\ngrading = 1.0\n"), &[]);
    assert_mentions(&message, &["line 14", "`mesh.grading`", "greater than 1"]);
    let message = error(&format!("{BASE}[mesh]\ngrading = 1e300\n"), &[]);
    assert_mentions(&message, &["line 14", "`mesh.grading`", "at most 4", "(got 1e300)"]);
    assert!(message.len() < 200, "a short message, not a 301-digit number: {message}");
    for bad in ["0", "-5", "1e300", "nan", "5e9"] {
        let message = error(&format!("{BASE}[mesh]\nmax_nodes = {bad}\n"), &[]);
        assert_mentions(&message, &["line 14", "`mesh.max_nodes`", "from 1 to 4294967294"]);
    }
    assert_eq!(load(&format!("{BASE}[mesh]\nmax_nodes = 5000000\n"), &[]).unwrap().mesh.max_nodes, 5_000_000);
    let message = error(&format!("{BASE}[mesh]\nh_min = \"0.1 um\"\nh_interface = \"50 nm\"\n"), &[]);
    assert_mentions(&message, &["line 14", "`mesh.h_min`", "need h_min <= h_interface"]);
    // A default that ends up out of order blames the value written: h_interface > default h_max = 0.25 um.
    let message = error(&format!("{BASE}[mesh]\nh_interface = \"0.5 um\"\n"), &[]);
    assert_mentions(&message, &["line 14", "`mesh.h_interface`", "need h_interface <= h_max"]);
    let case = load(&format!("{BASE}[mesh]\nh_max = \"0.5 um\"\n"), &[]).unwrap();
    assert_eq!((case.mesh.h_max, case.mesh.h_interface, case.mesh.h_min), (5e-7, 6.25e-8, 6.25e-8));
}

#[test]
fn gpu_check_interval_is_read_and_checked() {
    assert_eq!(load(BASE, &[]).unwrap().solver.check_every, DEFAULT_CHECK_EVERY);
    assert_eq!(load(&format!("{BASE}[solver]\ncheck_every = 4\n"), &[]).unwrap().solver.check_every, 4);
    let message = error(&format!("{BASE}[solver]\ncheck_every = 0\n"), &[]);
    assert_mentions(&message, &["line 14", "`solver.check_every`", "1..=256"]);
}

const SPHERE: &str =
    "[[hotspots]]\nname = \"a\"\nshape = \"sphere\"\ncenter = [\"1 um\", \"1 um\", \"50 nm\"]\nradius = \"10 nm\"\n";

#[test]
fn hot_spot_outside_the_box_is_an_error() {
    let text = format!("{BASE}{}", SPHERE.replace("[\"1 um\", \"1 um\"", "[\"1.995 um\", \"1 um\""));
    let message = error(&text, &[]);
    assert_mentions(
        &message,
        &["line 14", "`hotspots[0]`", "hot spot `a` does not lie inside the box", "x [1.985 um, 2.005 um]"],
    );
    let disk = "[[hotspots]]\nname = \"d\"\nshape = \"disk\"\ncenter = [\"1 um\", \"-1 um\"]\nradius = \"10 nm\"\n";
    assert_mentions(&error(&format!("{BASE}{disk}"), &[]), &["line 14", "hot spot `d` does not lie inside"]);
}

#[test]
fn sphere_cutting_the_interface_is_an_error() {
    let message = error(&format!("{BASE}{}", SPHERE.replace("50 nm", "8 nm")), &[]);
    assert_mentions(
        &message,
        &[
            "line 14",
            "sphere hot spot `a` cuts the interface plane z = 0",
            "centre z = 8 nm must exceed its radius 10 nm",
        ],
    );
}

#[test]
fn overlapping_hot_spots_name_both() {
    let second = SPHERE.replace("\"a\"", "\"b\"").replace("\"1 um\", \"1 um\"", "\"1.015 um\", \"1 um\"");
    let message = error(&format!("{BASE}{SPHERE}{second}"), &[]);
    assert_mentions(
        &message,
        &["line 19", "hot spots `a` and `b` overlap", "15 nm apart", "`a` is at test.toml, line 14"],
    );
    // Touching counts as overlap, and so does a gap below h_min (2 nm here: radius / 5); 3 nm clear does not.
    assert!(load(&format!("{BASE}{SPHERE}{}", second.replace("1.015 um", "1.02 um")), &[]).is_err());
    let close = error(&format!("{BASE}{SPHERE}{}", second.replace("1.015 um", "1.021 um")), &[]);
    assert_mentions(&close, &["line 19", "h_min = 2 nm apart"]);
    assert!(load(&format!("{BASE}{SPHERE}{}", second.replace("1.015 um", "1.023 um")), &[]).is_ok());
    // A sphere above a disk at the same x, y does not overlap it.
    let disk = "[[hotspots]]\nname = \"d\"\nshape = \"disk\"\ncenter = [\"1 um\", \"1 um\"]\nradius = \"10 nm\"\n";
    assert_eq!(load(&format!("{BASE}{SPHERE}{disk}"), &[]).unwrap().geometry().unwrap().hotspots.len(), 2);
    // Names are unique and not box boundaries.
    let message =
        error(&format!("{BASE}{SPHERE}{}", SPHERE.replace("\"1 um\", \"1 um\"", "\"0.5 um\", \"0.5 um\"")), &[]);
    assert_mentions(&message, &["line 19", "`a` is already used at test.toml, line 14"]);
    assert_mentions(
        &error(&format!("{BASE}{}", SPHERE.replace("\"a\"", "\"top\"")), &[]),
        &["`top` is a boundary of the box"],
    );
}

#[test]
fn overrides_change_values_and_keep_line_numbers() {
    for set in ["mesh.h_min=1 nm", "mesh.h_min=\"1 nm\"", "mesh.h_min='1 nm'"] {
        assert_eq!(load(BASE, &[set]).unwrap().mesh.h_min, 1e-9, "{set}");
    }
    assert_eq!(load(BASE, &["solver.rtol=1e-8"]).unwrap().solver.rtol, 1e-8);
    assert_eq!(load(BASE, &["solver.backend=cpu"]).unwrap().solver.backend, Backend::Cpu);
    let case = load(BASE, &[r#"domain.size=["4 um","4 um","3 um"]"#, "domain.size.2=5 um"]).unwrap();
    assert_eq!(case.geometry().unwrap().size, DVec3::new(4e-6, 4e-6, 5e-6));
    assert_eq!(load(BASE, &["materials.llzo.conductivity=1 mS/cm"]).unwrap().materials["llzo"].conductivity, 0.1);
    // A key inserted before line 12 must not move the line an error there reports.
    let text = base_with("\"50 mA/cm^2\"", "\"50 mA\"");
    let message = error(&text, &["materials.llzo.relative_permittivity=10", "domain.size.0=3 um"]);
    assert_mentions(&message, &["test.toml, line 12", "boundaries.top.current_density"]);
    // Hot spots are picked by name or index.
    let radius = |set: &str| {
        sphere(
            &Case::from_toml_str(ionflux::case::DEFAULT_CASE_TOML, "d", &[set.into()])
                .unwrap()
                .geometry()
                .unwrap()
                .hotspots[0],
        )
        .1
    };
    assert_eq!(radius("hotspots.hotspot.radius=20 nm"), 2e-8);
    assert_eq!(radius("hotspots.0.radius=15 nm"), 1.5e-8);
}

#[test]
fn override_errors_say_from_set() {
    let message = error(BASE, &["materials.llzo.conductivity=5 nm"]);
    assert_mentions(&message, &["(from --set materials.llzo.conductivity=5 nm)", "is a length, but a conductivity"]);
    assert!(!message.contains("line"), "{message}");
    let message = error(BASE, &["mesh.hmin=1 nm"]);
    assert_mentions(&message, &["(from --set mesh.hmin=1 nm)", "unknown field `hmin`"]);
    let message = error(BASE, &["colour=blue"]);
    assert_mentions(&message, &["(from --set colour=blue)", "unknown field `colour`"]);
    let message = error(BASE, &["hotspots.x.radius=1 nm"]);
    assert_mentions(&message, &["(from --set hotspots.x.radius=1 nm)"]);
    let message = error(BASE, &["solver.rtol"]);
    assert_mentions(&message, &["(from --set solver.rtol)", "expected key=value"]);
}

const ARRAY: &str = r#"[[hotspot_arrays]]
name = "arr"
shape = "sphere"
nx = 3
ny = 2
pitch = ["0.5 um", "0.25 um"]
center = ["1 um", "1 um"]
radius = "50 nm"
depth = "100 nm"
[boundaries.arr]
type = "dirichlet"
potential = "0.9 V"
[boundaries.arr_0_0]
type = "insulating"
"#;

#[test]
fn arrays_expand_into_named_members_of_one_group() {
    let case = load(&format!("{BASE}{ARRAY}"), &[]).unwrap();
    let spots = &case.geometry().unwrap().hotspots;
    assert_eq!(spots.len(), 6);
    let mut expected = Vec::new();
    for (i, x) in [0.5e-6, 1e-6, 1.5e-6].into_iter().enumerate() {
        for (j, y) in [0.875e-6, 1.125e-6].into_iter().enumerate() {
            expected.push((format!("arr_{i}_{j}"), DVec3::new(x, y, 1e-7)));
        }
    }
    for (spot, (name, center)) in spots.iter().zip(&expected) {
        assert_eq!((&spot.name, spot.group.as_str()), (name, "arr"));
        let (c, r) = sphere(spot);
        assert!((c - *center).abs().max_element() < 1e-20 && r == 5e-8, "{name}: {c}");
    }
    assert_eq!(case.condition_for("arr_2_1"), BoundaryCondition::Dirichlet { potential: 0.9 });
    assert_eq!(case.condition_for("arr_0_0"), BoundaryCondition::Insulating);
    // Members too close together overlap, named by member.
    let message = error(&format!("{BASE}{}", ARRAY.replace("\"0.25 um\"", "\"90 nm\"")), &[]);
    assert_mentions(&message, &["hot spots `arr_0_0` and `arr_0_1` overlap"]);
    let message = error(&format!("{BASE}{}", ARRAY.replace("depth = \"100 nm\"\n", "")), &[]);
    assert_mentions(&message, &["`hotspot_arrays[0].depth`", "a sphere needs `depth`"]);
    let message = error(
        &format!("{BASE}{}", ARRAY.replace("nx = 3", "nx = 4000000000").replace("ny = 2", "ny = 4000000000")),
        &[],
    );
    assert_mentions(&message, &["line 14", "nx x ny = 16000000000000000000 hot spots"]);
    let message = error(&format!("{BASE}{}", ARRAY.replace("nx = 3", "nx = 5")), &[]);
    assert_mentions(&message, &["hot spot `arr_0_0` does not lie inside the box"]);
}

fn random_case(density_or_count: &str, seed: u64) -> String {
    format!(
        "{BASE}[[hotspot_random]]\nname = \"rnd\"\nshape = \"sphere\"\n{density_or_count}\nradius = [\"10 nm\", \"30 nm\"]\n\
         depth = [\"40 nm\", \"60 nm\"]\nseed = {seed}\nmin_gap = \"20 nm\"\n[boundaries.rnd]\ntype = \"dirichlet\"\npotential = \"0.9 V\"\n"
    )
}

#[test]
fn random_placement_is_seeded_inside_the_box_and_free_of_overlaps() {
    let spots = |seed| load(&random_case("count = 40", seed), &[]).unwrap().geometry().unwrap().hotspots.clone();
    let first = spots(7);
    assert_eq!(first, spots(7));
    assert_ne!(first, spots(8));
    assert_eq!(first.len(), 40);
    for (k, spot) in first.iter().enumerate() {
        assert_eq!((spot.name.clone(), spot.group.as_str()), (format!("rnd_{k}"), "rnd"));
        let (c, r) = sphere(spot);
        assert!((1e-8..=3e-8).contains(&r) && (4e-8..=6e-8).contains(&c.z), "{spot:?}");
        // min_gap (20 nm) also keeps them off the box sides.
        assert!(c.x - r > 2e-8 && c.x + r < 2e-6 - 2e-8 && c.y - r > 2e-8 && c.y + r < 2e-6 - 2e-8, "{spot:?}");
        for other in &first[..k] {
            let (co, ro) = sphere(other);
            assert!(c.distance(co) > r + ro + 2e-8, "{} and {} closer than min_gap", spot.name, other.name);
        }
    }
    // 2.5 um^-2 on 2 um x 2 um is 10 hot spots.
    assert_eq!(
        load(&random_case("areal_density = \"2.5 um^-2\"", 1), &[]).unwrap().geometry().unwrap().hotspots.len(),
        10
    );
}

#[test]
fn random_placement_errors() {
    let message = error(&random_case("count = 3\nareal_density = \"1 um^-2\"", 1), &[]);
    assert_mentions(&message, &["line 14", "`hotspot_random[0]`", "exactly one of `count` and `areal_density`"]);
    let message = error(&random_case("count = 5000", 1), &[]);
    assert_mentions(
        &message,
        &["line 14", "cannot place the random hot spots `rnd`", "candidates in a row overlapped"],
    );
    let message = error(&random_case("count = 100000", 1), &[]);
    assert_mentions(&message, &["line 14", "asks for 100000 hot spots, more than the 10000 allowed"]);
    let message = error(&random_case("areal_density = \"1 nm^-2\"", 1), &[]);
    assert_mentions(&message, &["asks for 4000000 hot spots"]);
    let message = error(&random_case("count = 3", 1).replace("[\"40 nm\", \"60 nm\"]", "\"25 nm\""), &[]);
    assert_mentions(&message, &["line 18", "`hotspot_random[0].depth`", "must exceed the largest radius 30 nm"]);
}

fn problem_error(case: &Case, mesh: &ionflux::mesh::Mesh) -> String {
    match case.problem(mesh) {
        Ok(_) => panic!("expected an error"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn problem_maps_regions_and_boundaries_of_a_mesh() {
    let case = Case::default_case();
    let line = uniform_line(0.0, 8e-6, 2);
    let mut mesh = tensor_box(&line, &line, &line);
    mesh.region_names = vec!["llzo".into()];
    mesh.boundary_names.push("hotspot".into());
    let problem = case.problem(&mesh).unwrap();
    assert_eq!(problem.region_coefficient, [0.216]);
    assert_eq!(
        problem.boundary_conditions,
        [
            BoundaryCondition::Dirichlet { potential: 0.0 },
            BoundaryCondition::Neumann { inward_current_density: 500.0 },
            BoundaryCondition::Insulating,
            BoundaryCondition::Insulating,
            BoundaryCondition::Insulating,
            BoundaryCondition::Insulating,
            BoundaryCondition::Dirichlet { potential: 0.9 },
        ]
    );
    // A region without a material, a case boundary the mesh lacks.
    let mut unnamed = mesh.clone();
    unnamed.region_names = vec!["bulk".into()];
    assert_mentions(&problem_error(&case, &unnamed), &["region `bulk` has no material", "llzo"]);
    let mut no_spot = mesh.clone();
    no_spot.boundary_names.pop();
    assert_mentions(&problem_error(&case, &no_spot), &["built-in default, line 30", "no boundary is named `hotspot`"]);
    // Only the hot spot holds the potential, and the mesh has no face on it: singular.
    let text =
        ionflux::case::DEFAULT_CASE_TOML.replace("type = \"dirichlet\"\npotential = \"0 V\"", "type = \"insulating\"");
    let floating = Case::from_toml_str(&text, "d", &[]).unwrap();
    assert_mentions(&problem_error(&floating, &mesh), &["singular problem"]);
}

#[test]
fn adapt_settings_are_read_and_checked() {
    let case = load(&format!("{BASE}[adapt]\ntarget = \"0.1 %\"\nmax_cycles = 3\n"), &[]).unwrap();
    let adapt = case.adapt.expect("[adapt] read");
    assert_eq!((adapt.target, adapt.max_cycles, adapt.max_nodes), (0.001, 3, case.mesh.max_nodes));
    // --accuracy is the same key.
    assert_eq!(load(BASE, &["adapt.target=\"0.5%\""]).unwrap().adapt.unwrap().target, 0.005);
    assert!(load(BASE, &[]).unwrap().adapt.is_none());
    for bad in ["0.1", "0 %", "-1 %", "80 %", "one %"] {
        let message = error(&format!("{BASE}[adapt]\ntarget = \"{bad}\"\n"), &[]);
        assert_mentions(&message, &["line 14", "`adapt.target`", "percentage"]);
    }
    let message = error(&format!("{BASE}[adapt]\nmax_cycles = 2\n"), &[]);
    assert_mentions(&message, &["`adapt`", "needs a target"]);
    let message = error(&format!("{BASE}[adapt]\ntarget = \"1 %\"\nmax_cycles = 0\n"), &[]);
    assert_mentions(&message, &["line 15", "`adapt.max_cycles`", "1..=50"]);
    // A mesh file is not re-meshed.
    let text = std::fs::read_to_string(meshes_dir().join("sphere_in_box.toml")).unwrap();
    let text = format!("{text}\n[adapt]\ntarget = \"1 %\"\n");
    let message = match Case::from_toml_str(&text, &meshes_dir().join("sphere_in_box.toml").display().to_string(), &[])
    {
        Ok(_) => panic!("a mesh file with [adapt] loaded"),
        Err(e) => e.to_string(),
    };
    assert_mentions(&message, &["`adapt`", "not re-meshed"]);
}
