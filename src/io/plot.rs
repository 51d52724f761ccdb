//! PNG plots with `plotters` (bitmap backend only). Text is drawn by ab_glyph with the DejaVu Sans
//! font embedded in the binary (crate `dejavu`), so plotting needs no system fonts or font libraries
//! on a headless machine. Images are drawn into memory, encoded with `png`, and written atomically.

use crate::analysis::cylinder::LateralCurrent;
use crate::analysis::locate::PointLocator;
use glam::DVec3;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

const FONT: &str = "sans-serif";
const OUTSIDE_GREY: RGBColor = RGBColor(160, 160, 160);
/// Number of potential contour levels drawn on a field map.
const CONTOUR_LEVELS: usize = 12;
const COLOUR_BAR_WIDTH: u32 = 120;

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("plot `{path}`: {reason}")]
    Invalid { path: String, reason: String },
    #[error("plot `{path}`: drawing failed: {reason}")]
    Draw { path: String, reason: String },
    #[error(transparent)]
    Output(#[from] crate::io::OutputError),
}

/// Image size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageSize {
    pub width: u32,
    pub height: u32,
}

/// The vertical x-z plane y = `y` over x_range x z_range (metres), e.g. through a hot spot's centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VerticalPlane {
    pub y: f64,
    pub x_range: (f64, f64),
    pub z_range: (f64, f64),
}

/// A |J| map whose log10 range is narrower than this (5 %) counts as uniform.
const UNIFORM_DECADES: f64 = 0.02;

/// One named curve of a sweep plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// J_r(z) on a cylinder: depth on the horizontal axis, theta-averaged radial current density up.
pub fn plot_radial_profile(
    path: &Path,
    lateral: &LateralCurrent,
    title: &str,
    size: ImageSize,
) -> Result<(), PlotError> {
    let points: Vec<(f64, f64)> = lateral.profile.iter().map(|p| (p.z_m, p.jr_A_per_m2)).collect();
    let (x_range, y_range) = data_ranges(path, &points)?;
    let (scale, unit) = length_unit(x_range.1 - x_range.0);
    render(path, size, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(85)
            .build_cartesian_2d(x_range.0 * scale..x_range.1 * scale, y_range.0..y_range.1)
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc(format!("depth z ({unit})"))
            .y_desc("J_r, theta-averaged (A/m^2)")
            .y_label_formatter(&|v| format!("{v:.2e}"))
            .draw()
            .map_err(draw_error)?;
        chart.draw_series(LineSeries::new(points.iter().map(|&(z, j)| (z * scale, j)), &BLUE)).map_err(draw_error)?;
        let peak = lateral.peak_depth_m * scale;
        chart
            .draw_series(LineSeries::new([(peak, y_range.0), (peak, y_range.1)], RED.mix(0.6)))
            .map_err(draw_error)?
            .label(format!("peak at {:.3} {unit}", peak))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(draw_error)?;
        Ok(())
    })
}

/// Map of |J| (log colour scale) with potential contours on a vertical x-z plane. Each pixel of the
/// map is sampled by point location; pixels outside the mesh (voids, removed hot spots) are grey.
/// Panics if `potential` / `current_density` do not have one value per node / per tet.
pub fn plot_field_map(
    path: &Path,
    locator: &PointLocator,
    potential: &[f64],
    current_density: &[DVec3],
    plane: &VerticalPlane,
    title: &str,
    size: ImageSize,
) -> Result<(), PlotError> {
    let mesh = locator.mesh();
    assert_eq!(potential.len(), mesh.nodes.len(), "one potential per node");
    assert_eq!(current_density.len(), mesh.tets.len(), "one current density per tet");
    let (x0, x1) = plane.x_range;
    let (z0, z1) = plane.z_range;
    if !(x0 < x1 && z0 < z1) {
        return Err(invalid(path, format!("empty plane range x {x0:e}..{x1:e}, z {z0:e}..{z1:e} m")));
    }
    if size.width <= COLOUR_BAR_WIDTH + 100 || size.height < 100 {
        return Err(invalid(path, format!("image {}x{} px is too small for a map", size.width, size.height)));
    }
    let (scale, unit) = length_unit((x1 - x0).max(z1 - z0));
    render(path, size, |root| {
        let (map_area, bar_area) = root.split_horizontally(size.width - COLOUR_BAR_WIDTH);
        let chart_on = |x: (f64, f64), z: (f64, f64)| {
            ChartBuilder::on(&map_area)
                .caption(title, (FONT, 20))
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(60)
                .build_cartesian_2d(x.0 * scale..x.1 * scale, z.0 * scale..z.1 * scale)
                .map_err(draw_error)
        };
        // Equal scales on both axes (a sphere stays round): the axis with fewer metres per pixel is widened,
        // x about its centre, z upward from the interface; what lies beyond the mesh shows grey.
        let (pw, ph) = chart_on(plane.x_range, plane.z_range)?.plotting_area().dim_in_pixel();
        let per_pixel = ((x1 - x0) / pw.max(1) as f64).max((z1 - z0) / ph.max(1) as f64);
        let half_width = 0.5 * per_pixel * pw as f64;
        let middle = 0.5 * (x0 + x1);
        let plane = &VerticalPlane {
            y: plane.y,
            x_range: (middle - half_width, middle + half_width),
            z_range: (z0, z0 + per_pixel * ph as f64),
        };
        map_area.fill(&WHITE).map_err(draw_error)?;
        let mut chart = chart_on(plane.x_range, plane.z_range)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(format!("x ({unit})"))
            .y_desc(format!("z ({unit})"))
            .draw()
            .map_err(draw_error)?;

        let pixels = chart.plotting_area().strip_coord_spec();
        let (width, height) = pixels.dim_in_pixel();
        let grid = sample_plane(locator, potential, current_density, plane, width as usize, height as usize);
        let log_magnitudes: Vec<f64> =
            grid.iter().flatten().filter(|s| s.current_magnitude > 0.0).map(|s| s.current_magnitude.log10()).collect();
        let (log_min, log_max) = value_range(&log_magnitudes).unwrap_or((0.0, 1.0));
        // A field uniform to within 5 % is drawn as one colour in a one-decade scale, not as its round-off.
        let (log_min, log_max) = if log_max - log_min < UNIFORM_DECADES {
            let mid = 0.5 * (log_min + log_max);
            (mid - 0.5, mid + 0.5)
        } else {
            (log_min, log_max)
        };
        for (index, sample) in grid.iter().enumerate() {
            let colour = match sample {
                None => OUTSIDE_GREY,
                Some(s) if s.current_magnitude > 0.0 => {
                    ViridisRGB::get_color_normalized(s.current_magnitude.log10(), log_min, log_max)
                }
                Some(_) => ViridisRGB::get_color_normalized(log_min, log_min, log_max),
            };
            let (i, j) = (index % width as usize, index / width as usize);
            pixels.draw_pixel((i as i32, j as i32), &colour).map_err(draw_error)?;
        }

        let potentials: Vec<Option<f64>> = grid.iter().map(|s| s.map(|s| s.potential)).collect();
        let phis: Vec<f64> = potentials.iter().flatten().copied().collect();
        if let Some((phi_min, phi_max)) = value_range(&phis) {
            for level in 1..=CONTOUR_LEVELS {
                let value = phi_min + (phi_max - phi_min) * level as f64 / (CONTOUR_LEVELS + 1) as f64;
                for [a, b] in contour_segments(&potentials, width as usize, height as usize, value) {
                    // Grid point (i, j) is pixel (i, j). A segment shorter than a pixel draws no line,
                    // so its ends are set as pixels too.
                    let (a, b) = ((a.0.round() as i32, a.1.round() as i32), (b.0.round() as i32, b.1.round() as i32));
                    pixels.draw_pixel(a, &WHITE).map_err(draw_error)?;
                    pixels.draw_pixel(b, &WHITE).map_err(draw_error)?;
                    pixels.draw(&PathElement::new([a, b], WHITE)).map_err(draw_error)?;
                }
            }
        }
        draw_colour_bar(&bar_area, log_min, log_max)
    })
}

/// A tick label with four significant digits: plain between 1e-3 and 1e4, else in exponent form.
fn tick(v: f64) -> String {
    if v == 0.0 || (1e-3..1e4).contains(&v.abs()) {
        super::four_digits(v)
    } else {
        format!("{v:.3e}")
    }
}

/// Which axes of a line plot are logarithmic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogAxes {
    pub x: bool,
    pub y: bool,
}

/// Output quantities against a swept parameter (or an adaptive loop's errors against its node counts), one line
/// (with markers) per series.
pub fn plot_sweep(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    size: ImageSize,
    log: LogAxes,
) -> Result<(), PlotError> {
    // A log axis: values drawn at their log10, ticks labelled with the values themselves.
    let axis = |v: f64, log: bool| if log { v.log10() } else { v };
    let series: Vec<Series> = series
        .iter()
        .map(|s| Series {
            name: s.name.clone(),
            points: s.points.iter().map(|&(x, y)| (axis(x, log.x), axis(y, log.y))).collect(),
        })
        .collect();
    let series = &series[..];
    let all: Vec<(f64, f64)> = series.iter().flat_map(|s| s.points.iter().copied()).collect();
    let (x_range, y_range) = data_ranges(path, &all)?;
    render(path, size, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(85)
            .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .x_labels(6)
            .x_label_formatter(&|v| tick(if log.x { 10f64.powf(*v) } else { *v }))
            .y_label_formatter(&|v| format!("{:.2e}", if log.y { 10f64.powf(*v) } else { *v }))
            .draw()
            .map_err(draw_error)?;
        for (index, s) in series.iter().enumerate() {
            let colour = Palette99::pick(index).to_rgba();
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), colour.stroke_width(2)))
                .map_err(draw_error)?
                .label(s.name.clone())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
            chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, colour.filled()))).map_err(draw_error)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(draw_error)?;
        Ok(())
    })
}

/// What a map pixel shows.
#[derive(Debug, Clone, Copy)]
struct PlaneSample {
    potential: f64,
    current_magnitude: f64,
}

/// Samples row by row (row 0 at the top, z_max) at pixel centres.
fn sample_plane(
    locator: &PointLocator,
    potential: &[f64],
    current_density: &[DVec3],
    plane: &VerticalPlane,
    width: usize,
    height: usize,
) -> Vec<Option<PlaneSample>> {
    use rayon::prelude::*;
    let (x0, x1) = plane.x_range;
    let (z0, z1) = plane.z_range;
    (0..width * height)
        .into_par_iter()
        .map(|index| {
            let (i, j) = (index % width, index / width);
            let x = x0 + (x1 - x0) * (i as f64 + 0.5) / width as f64;
            let z = z1 - (z1 - z0) * (j as f64 + 0.5) / height as f64;
            locator.locate(DVec3::new(x, plane.y, z)).map(|location| PlaneSample {
                potential: location.interpolate(locator.mesh(), potential),
                current_magnitude: current_density[location.tet].length(),
            })
        })
        .collect()
}

/// Marching squares on a row-major grid (None = no data): segments of the `level` contour in grid
/// coordinates (column, row). Cells with a missing corner are skipped.
fn contour_segments(values: &[Option<f64>], width: usize, height: usize, level: f64) -> Vec<[(f64, f64); 2]> {
    let mut segments = Vec::new();
    for j in 0..height.saturating_sub(1) {
        for i in 0..width.saturating_sub(1) {
            // Corners counter-clockwise in the grid.
            let corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
            let Some(v) = corners.iter().map(|&(a, b)| values[a + width * b]).collect::<Option<Vec<f64>>>() else {
                continue;
            };
            let mut crossings = Vec::with_capacity(4);
            for edge in 0..4 {
                let (p, q) = (edge, (edge + 1) % 4);
                if (v[p] >= level) != (v[q] >= level) {
                    let t = (level - v[p]) / (v[q] - v[p]);
                    let (a, b) = (corners[p], corners[q]);
                    crossings
                        .push((a.0 as f64 + t * (b.0 as f64 - a.0 as f64), a.1 as f64 + t * (b.1 as f64 - a.1 as f64)));
                }
            }
            match crossings.len() {
                2 => segments.push([crossings[0], crossings[1]]),
                4 => {
                    // Saddle: the cell-centre average decides which corners connect.
                    let centre_above = v.iter().sum::<f64>() / 4.0 >= level;
                    if centre_above == (v[0] >= level) {
                        segments.push([crossings[0], crossings[3]]);
                        segments.push([crossings[1], crossings[2]]);
                    } else {
                        segments.push([crossings[0], crossings[1]]);
                        segments.push([crossings[2], crossings[3]]);
                    }
                }
                _ => {}
            }
        }
    }
    segments
}

fn draw_colour_bar(area: &DrawingArea<BitMapBackend, Shift>, log_min: f64, log_max: f64) -> Result<(), String> {
    let top = if log_max > log_min { log_max } else { log_min + 1.0 };
    let mut bar = ChartBuilder::on(area)
        .margin_top(44)
        .margin_bottom(57)
        .margin_right(4)
        .y_label_area_size(75)
        .build_cartesian_2d(0.0..1.0, log_min..top)
        .map_err(draw_error)?;
    bar.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_desc("log10 |J| (A/m^2)")
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .draw()
        .map_err(draw_error)?;
    let steps = 128;
    bar.draw_series((0..steps).map(|k| {
        let (a, b) = (
            log_min + (top - log_min) * k as f64 / steps as f64,
            log_min + (top - log_min) * (k + 1) as f64 / steps as f64,
        );
        Rectangle::new([(0.0, a), (1.0, b)], ViridisRGB::get_color_normalized(a, log_min, top).filled())
    }))
    .map_err(draw_error)?;
    Ok(())
}

/// Draws with `draw` into an RGB buffer, then encodes and writes the PNG.
fn render(
    path: &Path,
    size: ImageSize,
    draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<(), String>,
) -> Result<(), PlotError> {
    register_font().map_err(|reason| PlotError::Draw { path: path.display().to_string(), reason })?;
    let mut buffer = vec![0u8; size.width as usize * size.height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (size.width, size.height)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(draw_error)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(draw_error))
            .map_err(|reason| PlotError::Draw { path: path.display().to_string(), reason })?;
    }
    let mut png_bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png_bytes, size.width, size.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder
            .write_header()
            .and_then(|mut writer| writer.write_image_data(&buffer))
            .map_err(|e| PlotError::Draw { path: path.display().to_string(), reason: format!("PNG encoding: {e}") })?;
    }
    Ok(crate::io::write_atomic(path, &png_bytes)?)
}

fn register_font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
                .map_err(|_| "the embedded DejaVu Sans font could not be parsed".to_string())
        })
        .clone()
}

fn draw_error<E: std::fmt::Debug>(error: E) -> String {
    format!("{error:?}")
}

fn invalid(path: &Path, reason: String) -> PlotError {
    PlotError::Invalid { path: path.display().to_string(), reason }
}

/// Smallest and largest finite value, or None when there is none.
fn value_range(values: &[f64]) -> Option<(f64, f64)> {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    finite.fold(None, |range, v| Some(range.map_or((v, v), |(lo, hi): (f64, f64)| (lo.min(v), hi.max(v)))))
}

/// (low, high) of an axis.
type AxisRange = (f64, f64);

/// Axis ranges for line data, padded by 5% (and widened when flat).
fn data_ranges(path: &Path, points: &[(f64, f64)]) -> Result<(AxisRange, AxisRange), PlotError> {
    let xs: Vec<f64> = points.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = points.iter().map(|p| p.1).collect();
    let (Some(x), Some(y)) = (value_range(&xs), value_range(&ys)) else {
        return Err(invalid(path, "no finite data points to plot".into()));
    };
    let pad = |(lo, hi): (f64, f64)| {
        let span = if hi > lo { hi - lo } else { lo.abs().max(1e-30) };
        (lo - 0.05 * span, hi + 0.05 * span)
    };
    Ok((pad(x), pad(y)))
}

/// A length unit that makes `span` metres read well: (factor to multiply metres by, unit name).
fn length_unit(span: f64) -> (f64, &'static str) {
    if span < 1e-6 {
        (1e9, "nm")
    } else if span < 1e-3 {
        (1e6, "um")
    } else {
        (1.0, "m")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contour_of_a_linear_ramp_is_a_straight_line_at_the_level() {
        // v = column index: the level 1.5 contour is the vertical line column = 1.5.
        let (width, height) = (4, 3);
        let values: Vec<Option<f64>> = (0..width * height).map(|k| Some((k % width) as f64)).collect();
        let segments = contour_segments(&values, width, height, 1.5);
        assert_eq!(segments.len(), height - 1);
        for [a, b] in segments {
            assert!((a.0 - 1.5).abs() < 1e-12 && (b.0 - 1.5).abs() < 1e-12);
        }
    }

    #[test]
    fn contours_skip_cells_without_data() {
        let values = vec![Some(0.0), None, Some(0.0), Some(1.0)];
        assert!(contour_segments(&values, 2, 2, 0.5).is_empty());
    }

    #[test]
    fn length_units_follow_the_span() {
        assert_eq!(length_unit(8e-6), (1e6, "um"));
        assert_eq!(length_unit(50e-9), (1e9, "nm"));
    }
}
