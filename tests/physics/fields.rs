//! Point location, lateral current through a cylinder, and plots, on tensor meshes with fields made
//! from exact formulas.

use crate::common::{decode_png, grey_variance};
use glam::DVec3;
use ionflux::analysis::cylinder::{
    lateral_current, CurrentField, Cylinder, CylinderError, CylinderSampling, LateralCurrent,
};
use ionflux::analysis::locate::PointLocator;
use ionflux::io::plot::{
    plot_field_map, plot_radial_profile, plot_sweep, ImageSize, LogAxes, PlotError, Series, VerticalPlane,
};
use ionflux::mesh::structured::{tensor_box, uniform_line};
use ionflux::mesh::Mesh;
use std::f64::consts::TAU;

/// Lines from `a` to `b` whose cells grow geometrically from `first` by `growth` (the last cell
/// takes what is left, so it may be smaller).
fn graded_line(a: f64, b: f64, first: f64, growth: f64) -> Vec<f64> {
    let mut line = vec![a];
    let mut h = first;
    while *line.last().unwrap() + 1.5 * h < b {
        line.push(line.last().unwrap() + h);
        h *= growth;
    }
    line.push(b);
    line
}

fn centroid(mesh: &Mesh, t: usize) -> DVec3 {
    mesh.tet_points(t).iter().sum::<DVec3>() / 4.0
}

/// A linear field's tet average is its value at the centroid: J_t = field(centroid).
fn per_tet(mesh: &Mesh, field: impl Fn(DVec3) -> DVec3) -> Vec<DVec3> {
    (0..mesh.tets.len()).map(|t| field(centroid(mesh, t))).collect()
}

/// Deterministic points spread over the box (a low-discrepancy additive sequence).
fn spread_points(lo: DVec3, hi: DVec3, count: usize) -> Vec<DVec3> {
    let steps = DVec3::new(0.754_877_666, 0.569_840_291, 0.438_289_775);
    (1..=count).map(|k| lo + (hi - lo) * (steps * k as f64).fract()).collect()
}

/// The box with the tets whose centroid lies inside `radius` of `center` removed (a hole).
fn box_with_hole(mesh: Mesh, center: DVec3, radius: f64) -> Mesh {
    let keep: Vec<usize> = (0..mesh.tets.len()).filter(|&t| centroid(&mesh, t).distance(center) > radius).collect();
    Mesh {
        tets: keep.iter().map(|&t| mesh.tets[t]).collect(),
        tet_region: keep.iter().map(|&t| mesh.tet_region[t]).collect(),
        ..mesh
    }
}

#[test]
fn points_in_a_graded_mesh_are_located_and_linear_fields_interpolated_exactly() {
    // Cells from 1 nm at z = 0 to ~1 um, as near an interface.
    let xy = uniform_line(0.0, 4e-6, 8);
    let z = graded_line(0.0, 4e-6, 1e-9, 1.3);
    let mesh = tensor_box(&xy, &xy, &z);
    let locator = PointLocator::new(&mesh);
    let linear = |p: DVec3| 0.3 + 2e5 * p.x - 1e5 * p.y + 7e5 * p.z;
    let phi: Vec<f64> = mesh.nodes.iter().map(|&p| linear(p)).collect();
    let tet_ids: Vec<usize> = (0..mesh.tets.len()).collect();

    let mut points = spread_points(DVec3::ZERO, DVec3::splat(4e-6), 2000);
    // Points in the nm-thin layers at the interface.
    points.extend(spread_points(DVec3::ZERO, DVec3::new(4e-6, 4e-6, 5e-9), 500));
    for p in points {
        let location = locator.locate(p).expect("a point inside the box is found");
        assert!(location.barycentric.iter().all(|&l| l >= -1e-10));
        let rebuilt: DVec3 = (0..4).map(|i| location.barycentric[i] * mesh.tet_points(location.tet)[i]).sum();
        assert!(rebuilt.distance(p) < 1e-12 * 4e-6, "barycentric coordinates rebuild the point");
        let value = locator.interpolate(&phi, p).unwrap();
        assert!((value - linear(p)).abs() < 1e-12, "P1 reproduces a linear field: {value} vs {}", linear(p));
        assert_eq!(locator.tet_value(&tet_ids, p), Some(location.tet));
    }
    for outside in [DVec3::new(-1e-9, 1e-6, 1e-6), DVec3::new(1e-6, 1e-6, 4.001e-6)] {
        assert!(locator.locate(outside).is_none());
    }
}

#[test]
fn points_in_a_removed_region_are_outside() {
    let line = uniform_line(0.0, 1.0, 10);
    let center = DVec3::new(0.5, 0.5, 0.5);
    let mesh = box_with_hole(tensor_box(&line, &line, &line), center, 0.25);
    let locator = PointLocator::new(&mesh);
    assert!(locator.locate(center).is_none());
    assert!(locator.locate(DVec3::new(0.5, 0.5, 0.6)).is_none());
    assert!(locator.locate(DVec3::new(0.05, 0.5, 0.5)).is_some());
}

fn cylinder(radius: f64, z_max: f64) -> Cylinder {
    Cylinder { center_x: 1.0, center_y: 1.0, radius, z_min: 0.0, z_max }
}

/// The lateral current of a per-tet field through `cylinder`, default sampling.
fn per_tet_lateral_current(mesh: &Mesh, j: &[DVec3], cylinder: &Cylinder) -> LateralCurrent {
    lateral_current(&PointLocator::new(mesh), CurrentField::PerTet(j), cylinder, &CylinderSampling::default()).unwrap()
}

#[test]
fn a_uniform_field_has_no_net_flux_through_the_cylinder() {
    let line = uniform_line(0.0, 2.0, 10);
    let mesh = tensor_box(&line, &line, &uniform_line(0.0, 1.0, 5));
    let j = vec![DVec3::new(3.0, -2.0, 5.0); mesh.tets.len()];
    let result = per_tet_lateral_current(&mesh, &j, &cylinder(0.6, 1.0));
    // Equally spaced angles: sum of cos and sin vanish, so only round-off remains.
    let scale = 5.0 * TAU * 0.6 * 1.0;
    assert!(result.lateral_current_A.abs() < 1e-12 * scale, "{}", result.lateral_current_A);
    assert!(result.profile.iter().all(|p| p.jr_A_per_m2.abs() < 1e-12 * 5.0));
    assert_eq!(result.samples_outside_mesh, 0);
}

/// Radial field J = k (x - cx, y - cy, 0), taken per tet at the centroid: the flux through the
/// cylinder is k R 2 pi R H. Per sample, J.n differs from k R by k (c_t - x).n with |c_t - x| up to
/// the cell size h, but that offset averages out over the surface (the cylinder cuts the tets at all
/// positions), leaving an error of order (h/R)^2. With h/R = 0.1 that is ~1%; we assert 1% on the
/// total and 3% on each ring's average, and that halving h cuts the total's error.
#[test]
fn radial_field_flux_matches_k_r_two_pi_r_h_and_improves_with_refinement() {
    let (k, radius, height) = (2.5, 0.5, 1.0);
    let error_for = |cells: usize| {
        let line = uniform_line(0.0, 2.0, cells);
        let mesh = tensor_box(&line, &line, &uniform_line(0.0, height, cells / 2));
        let j = per_tet(&mesh, |p| k * DVec3::new(p.x - 1.0, p.y - 1.0, 0.0));
        let result = per_tet_lateral_current(&mesh, &j, &cylinder(radius, height));
        let exact = k * radius * TAU * radius * height;
        for point in &result.profile {
            assert!((point.jr_A_per_m2 - k * radius).abs() < 0.03 * k * radius, "ring at z = {}", point.z_m);
        }
        ((result.lateral_current_A - exact) / exact).abs()
    };
    let (coarse, fine) = (error_for(40), error_for(80));
    assert!(coarse < 0.01, "relative error with h/R = 0.1: {coarse}");
    assert!(fine < coarse, "refinement: {fine} vs {coarse}");
}

/// A divergence-free field J = k (x - cx, -(y - cy), 0): zero net flux through the closed side
/// (J_r = k R cos 2 theta). Same per-sample error argument as the radial field.
#[test]
fn divergence_free_straining_field_has_no_net_flux() {
    let k = 2.5;
    let line = uniform_line(0.0, 2.0, 40);
    let mesh = tensor_box(&line, &line, &uniform_line(0.0, 1.0, 20));
    let j = per_tet(&mesh, |p| k * DVec3::new(p.x - 1.0, -(p.y - 1.0), 0.0));
    let result = per_tet_lateral_current(&mesh, &j, &cylinder(0.5, 1.0));
    let scale = k * 0.5 * TAU * 0.5 * 1.0;
    assert!(result.lateral_current_A.abs() < 0.01 * scale, "{}", result.lateral_current_A / scale);
}

/// A lateral flux confined near the interface, J_r = k R (z / L) exp(-z / L) with L = 20 nm in a
/// 2 um deep box meshed from 1 nm at z = 0: the sampling must follow the grading. Exact flux
/// k R 2 pi R L (1 - (1 + H/L) e^(-H/L)); the profile peaks at z = L (within one mesh layer there).
#[test]
fn graded_interface_flux_and_its_peak_depth() {
    let (k, radius, decay, height) = (1e6, 0.5e-6, 20e-9, 2e-6);
    let xy = uniform_line(0.0, 2e-6, 40);
    let z = graded_line(0.0, height, 1e-9, 1.15);
    let mesh = tensor_box(&xy, &xy, &z);
    let j = per_tet(&mesh, |p| k * (p.z / decay) * (-p.z / decay).exp() * DVec3::new(p.x - 1e-6, p.y - 1e-6, 0.0));
    let cylinder = Cylinder { center_x: 1e-6, center_y: 1e-6, radius, z_min: 0.0, z_max: height };
    let result = per_tet_lateral_current(&mesh, &j, &cylinder);

    let exact = k * radius * TAU * radius * decay * (1.0 - (1.0 + height / decay) * (-height / decay).exp());
    let error = (result.lateral_current_A - exact) / exact;
    assert!(error.abs() < 0.01, "relative error {error}");

    let layer_at_peak = z.windows(2).find(|w| w[1] >= decay).map(|w| w[1] - w[0]).unwrap();
    assert!((result.peak_depth_m - decay).abs() <= layer_at_peak, "peak at {:e} m", result.peak_depth_m);
    assert!(result.profile.len() >= 100);
    // The profile is graded toward the interface: its first depths are finer than the mesh's first layer.
    assert!(result.profile[0].z_m < 1e-9);
    assert!(result.profile.windows(2).all(|w| w[0].z_m < w[1].z_m));
}

#[test]
fn cylinders_that_leave_the_mesh_or_are_degenerate_are_errors() {
    let line = uniform_line(0.0, 2.0, 4);
    let mesh = tensor_box(&line, &line, &line);
    let locator = PointLocator::new(&mesh);
    let j = vec![DVec3::X; mesh.tets.len()];
    let sampling = CylinderSampling::default();
    for bad in [
        Cylinder { radius: 1.5, ..cylinder(1.0, 1.0) },
        Cylinder { radius: 0.0, ..cylinder(1.0, 1.0) },
        Cylinder { z_max: 2.5, ..cylinder(0.5, 1.0) },
        Cylinder { z_min: 1.0, ..cylinder(0.5, 1.0) },
        Cylinder { center_x: f64::NAN, ..cylinder(0.5, 1.0) },
    ] {
        assert!(
            matches!(
                lateral_current(&locator, CurrentField::PerTet(&j), &bad, &sampling),
                Err(CylinderError::Invalid { .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn profile_csv_and_json_carry_units_in_their_keys() {
    let line = uniform_line(0.0, 2.0, 8);
    let mesh = tensor_box(&line, &line, &uniform_line(0.0, 1.0, 4));
    let j = per_tet(&mesh, |p| DVec3::new(p.x - 1.0, p.y - 1.0, 0.0));
    let result = per_tet_lateral_current(&mesh, &j, &cylinder(0.5, 1.0));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.csv");
    ionflux::io::write_profile_csv(&path, &result.profile).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("z_m,jr_A_per_m2"));
    let rows: Vec<(f64, f64)> = lines
        .map(|l| {
            let (z, jr) = l.split_once(',').unwrap();
            (z.parse().unwrap(), jr.parse().unwrap())
        })
        .collect();
    let expected: Vec<(f64, f64)> = result.profile.iter().map(|p| (p.z_m, p.jr_A_per_m2)).collect();
    assert_eq!(rows, expected);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left behind");

    let json = serde_json::to_value(&result).unwrap();
    for key in ["radius_m", "lateral_current_A", "peak_depth_m", "profile"] {
        assert!(json.get(key).is_some(), "key {key}");
    }
    assert!(json["profile"][0].get("z_m").is_some() && json["profile"][0].get("jr_A_per_m2").is_some());
}

/// Decodes a PNG: (width, height, RGB bytes).
#[test]
fn plots_are_pngs_of_the_asked_size_with_content() {
    let dir = tempfile::tempdir().unwrap();
    let xy = uniform_line(0.0, 2e-6, 24);
    let mesh = tensor_box(&xy, &xy, &graded_line(0.0, 2e-6, 5e-9, 1.2));
    let center = DVec3::new(1e-6, 1e-6, 0.3e-6);
    let mesh = box_with_hole(mesh, center, 0.2e-6);
    let locator = PointLocator::new(&mesh);
    // Potential of a point source at the hole centre, and J = -sigma grad phi per tet.
    let phi: Vec<f64> = mesh.nodes.iter().map(|p| 1e-7 / p.distance(center).max(1e-9)).collect();
    let j: Vec<DVec3> = per_tet(&mesh, |p| 0.216 * 1e-7 * (p - center) / p.distance(center).powi(3));

    let map = dir.path().join("map.png");
    let plane = VerticalPlane { y: 1e-6, x_range: (0.0, 2e-6), z_range: (0.0, 2e-6) };
    plot_field_map(&map, &locator, &phi, &j, &plane, "|J| and phi", ImageSize { width: 640, height: 480 }).unwrap();
    let (w, h, rgb) = decode_png(&map);
    assert_eq!((w, h), (640, 480));
    assert!(grey_variance(&rgb) > 100.0, "variance {}", grey_variance(&rgb));
    let grey_pixels = rgb.chunks(3).filter(|p| p == &[160, 160, 160]).count();
    assert!(grey_pixels > 1000, "the hole shows grey: {grey_pixels} pixels");

    let cylinder = Cylinder { center_x: 1e-6, center_y: 1e-6, radius: 0.5e-6, z_min: 0.0, z_max: 2e-6 };
    let lateral = lateral_current(&locator, CurrentField::PerTet(&j), &cylinder, &CylinderSampling::default()).unwrap();
    let profile = dir.path().join("profile.png");
    plot_radial_profile(&profile, &lateral, "J_r(z) at R = 0.5 um", ImageSize { width: 800, height: 500 }).unwrap();
    let (w, h, rgb) = decode_png(&profile);
    assert_eq!((w, h), (800, 500));
    assert!(grey_variance(&rgb) > 100.0);

    let sweep = dir.path().join("sweep.png");
    let series = [
        Series { name: "I(R)".into(), points: vec![(0.5e-6, 1.0), (1.0e-6, 1.5), (1.5e-6, 1.8)] },
        Series { name: "t(R)".into(), points: vec![(0.5e-6, 2.0), (1.0e-6, 1.2), (1.5e-6, 0.9)] },
    ];
    plot_sweep(&sweep, "sweep", "R (m)", "value", &series, ImageSize { width: 600, height: 400 }, LogAxes::default())
        .unwrap();
    let (w, h, rgb) = decode_png(&sweep);
    assert_eq!((w, h), (600, 400));
    assert!(grey_variance(&rgb) > 100.0);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3, "no temporary files left behind");

    let empty = [Series { name: "none".into(), points: vec![] }];
    let no_data = plot_sweep(
        &dir.path().join("x.png"),
        "t",
        "x",
        "y",
        &empty,
        ImageSize { width: 600, height: 400 },
        LogAxes { x: true, y: false },
    );
    assert!(matches!(no_data, Err(PlotError::Invalid { .. })));
    let tiny = plot_field_map(&map, &locator, &phi, &j, &plane, "t", ImageSize { width: 50, height: 50 });
    assert!(matches!(tiny, Err(PlotError::Invalid { .. })));
}

/// The |J| map keeps equal scales on both axes (a sphere stays round): a 2 um x 1 um (x by z) slab in a square
/// 2 um window on a 640 x 480 image covers a region exactly twice as wide as high (it came out 2.24 times, the
/// plotting area's aspect, before). A uniform field is drawn in one colour, not as its round-off spread over the
/// colour scale.
#[test]
fn field_maps_keep_equal_scales_and_uniform_fields_flat() {
    let dir = tempfile::tempdir().unwrap();
    let x = uniform_line(0.0, 2e-6, 16);
    let slab = tensor_box(&x, &x, &uniform_line(0.0, 1e-6, 8));
    let locator = PointLocator::new(&slab);
    let phi: Vec<f64> = slab.nodes.iter().map(|p| 0.1 * p.z / 1e-6).collect();
    // |J| grows with x (a colour gradient), with a round-off-sized wobble in the uniform case below.
    let j: Vec<DVec3> = per_tet(&slab, |p| DVec3::new(0.0, 0.0, -(1.0 + p.x / 1e-6)));
    let map = dir.path().join("map.png");
    let plane = VerticalPlane { y: 1e-6, x_range: (0.0, 2e-6), z_range: (0.0, 2e-6) };
    plot_field_map(&map, &locator, &phi, &j, &plane, "|J|", ImageSize { width: 640, height: 480 }).unwrap();
    let (w, h, rgb) = decode_png(&map);
    // Pixels of the map's colour scale (never grey: not the background, the outside grey or the text), left of
    // the colour bar.
    let coloured = |c: u32, r: u32| {
        let i = 3 * (r * w + c) as usize;
        let p = &rgb[i..i + 3];
        !(p[0] == p[1] && p[1] == p[2])
    };
    let pixels: Vec<(u32, u32)> =
        (0..h).flat_map(|r| (0..w - 120).map(move |c| (c, r))).filter(|&(c, r)| coloured(c, r)).collect();
    let extent = |values: Vec<u32>| values.iter().max().unwrap() - values.iter().min().unwrap() + 1;
    let (width, height) = (extent(pixels.iter().map(|p| p.0).collect()), extent(pixels.iter().map(|p| p.1).collect()));
    let aspect = width as f64 / height as f64;
    assert!((aspect - 2.0).abs() < 0.03, "slab drawn {width} x {height} px: aspect {aspect}, want 2");

    let uniform: Vec<DVec3> = per_tet(&slab, |p| DVec3::new(0.0, 0.0, -1080.0 * (1.0 + 1e-12 * p.x / 1e-6)));
    plot_field_map(&map, &locator, &phi, &uniform, &plane, "|J|", ImageSize { width: 640, height: 480 }).unwrap();
    let (w, h, rgb) = decode_png(&map);
    let colours: std::collections::BTreeSet<[u8; 3]> = (0..h)
        .flat_map(|r| (0..w - 120).map(move |c| (c, r)))
        .map(|(c, r)| {
            let i = 3 * (r * w + c) as usize;
            [rgb[i], rgb[i + 1], rgb[i + 2]]
        })
        .filter(|p| !(p[0] == p[1] && p[1] == p[2]))
        .collect();
    // One colour, up to the rounding of the colour map (1e-12 relative wobble spanned the whole scale before).
    let spread =
        (0..3).map(|k| colours.iter().map(|c| c[k]).max().unwrap() - colours.iter().map(|c| c[k]).min().unwrap());
    assert!(spread.max().unwrap() <= 2, "a uniform field shows colours {colours:?}");
}
