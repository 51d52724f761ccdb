//! Parameter sweeps (`ionflux sweep`): one solve per point of a grid of `--set` overrides, then
//! `sweep.csv` (one row per point with every number of its summary), `sweep.pvd` (a ParaView collection
//! of the points' VTU files) and `sweep.png` (chosen outputs against the first varied key).
//!
//! A `--vary` spec is `KEY=FROM..TO:N[:log]`: KEY is a case key path as for `--set`, FROM and TO are
//! values with the same unit ("0.80 V..0.95 V:4"); the number is interpolated (linearly, or
//! geometrically with `:log`) and the unit kept, so each point is an ordinary `--set` override.
//! Several `--vary` make the Cartesian product (the last one varies fastest).

use crate::app::pipeline::{self, RunOptions};
use crate::case::units::{parse_quantity, Dimension};
use crate::case::{Case, CaseError};
use crate::io::plot::{plot_sweep, ImageSize, PlotError, Series};
use crate::io::{self, OutputError};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The most points one sweep may have (a typo such as `:1000000` should not start a week of solves).
pub const MAX_POINTS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("--vary `{spec}`: {reason}")]
    BadVary { spec: String, reason: String },
    #[error("the sweep has {points} points, more than the {MAX_POINTS} allowed")]
    TooManyPoints { points: usize },
    #[error("--plot `{column}`: no such column in sweep.csv; numeric columns: {known}")]
    UnknownPlotColumn { column: String, known: String },
    #[error("every one of the {points} sweep points failed; the first: {first_error}")]
    AllFailed { points: usize, first_error: String },
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Plot(#[from] PlotError),
}

/// One swept key and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Vary {
    pub key: String,
    pub values: Vec<VaryValue>,
}

/// A value of a swept key: the text written into the case (`--set key=text`) and its SI value.
#[derive(Debug, Clone, PartialEq)]
pub struct VaryValue {
    pub text: String,
    pub si: f64,
}

impl Vary {
    /// Parses `KEY=FROM..TO:N[:log]`.
    pub fn parse(spec: &str) -> Result<Vary, SweepError> {
        let bad = |reason: String| SweepError::BadVary { spec: spec.to_string(), reason };
        let (key, range) =
            spec.split_once('=').ok_or_else(|| bad("expected KEY=FROM..TO:N, e.g. top.potential=0 V..1 V:5".into()))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(bad("the key before `=` is empty".into()));
        }
        let (from, rest) = range.split_once("..").ok_or_else(|| bad("expected FROM..TO:N after `=`".into()))?;
        let mut parts = rest.split(':');
        let to = parts.next().unwrap_or_default();
        let count_text = parts.next().ok_or_else(|| bad("the number of points is missing (`:N` after TO)".into()))?;
        let count: usize =
            count_text.trim().parse().map_err(|_| bad(format!("`{count_text}` is not a number of points")))?;
        let log = match parts.next().map(str::trim) {
            None => false,
            Some("log") => true,
            Some("lin") => false,
            Some(other) => return Err(bad(format!("unknown spacing `{other}` (use `log` or `lin`)"))),
        };
        if let Some(extra) = parts.next() {
            return Err(bad(format!("unexpected `:{extra}` after the spacing")));
        }
        if count == 0 {
            return Err(bad("the number of points must be at least 1".into()));
        }
        let (from_number, from_unit) = split_value(from).map_err(|e| bad(format!("FROM: {e}")))?;
        let (to_number, to_unit) = split_value(to).map_err(|e| bad(format!("TO: {e}")))?;
        if from_unit != to_unit {
            return Err(bad(format!("FROM and TO must have the same unit, got `{from_unit}` and `{to_unit}`")));
        }
        if log && !(from_number > 0.0 && to_number > 0.0) {
            return Err(bad("log spacing needs FROM and TO > 0".into()));
        }
        let si_factor = si_factor(&from_unit).map_err(bad)?;
        let numbers: Vec<f64> = (0..count)
            .map(|k| match (k, count) {
                (0, _) => from_number,
                (k, n) if k == n - 1 => to_number,
                (k, n) => {
                    let t = k as f64 / (n - 1) as f64;
                    if log {
                        (from_number.ln() + t * (to_number.ln() - from_number.ln())).exp()
                    } else {
                        from_number + t * (to_number - from_number)
                    }
                }
            })
            .collect();
        let values = numbers
            .into_iter()
            .map(|number| VaryValue {
                text: if from_unit.is_empty() { format!("{number}") } else { format!("{number} {from_unit}") },
                si: number * si_factor,
            })
            .collect();
        Ok(Vary { key: key.to_string(), values })
    }
}

/// "0.80 V" -> (0.8, "V"); "1e-8" -> (1e-8, "").
fn split_value(text: &str) -> Result<(f64, String), String> {
    let text = text.trim();
    let number_end = text
        .char_indices()
        .find(|&(i, c)| {
            !(c.is_ascii_digit()
                || matches!(c, '.' | '+' | '-')
                || ((c == 'e' || c == 'E')
                    && text[i + 1..].starts_with(|n: char| n.is_ascii_digit() || n == '-' || n == '+')))
        })
        .map_or(text.len(), |(i, _)| i);
    let number: f64 = text[..number_end].parse().map_err(|_| format!("`{text}` does not start with a number"))?;
    if !number.is_finite() {
        return Err(format!("`{text}` is not finite"));
    }
    Ok((number, text[number_end..].trim().to_string()))
}

/// SI value of one `unit` (1 for no unit).
fn si_factor(unit: &str) -> Result<f64, String> {
    if unit.is_empty() {
        return Ok(1.0);
    }
    // Any dimension will do: the unit only has to be expressed in SI for the CSV.
    Dimension::ALL
        .iter()
        .find_map(|&d| parse_quantity(&format!("1 {unit}"), d).ok())
        .ok_or_else(|| format!("unknown unit `{unit}`"))
}

/// Where the case of a sweep comes from.
#[derive(Debug, Clone)]
pub enum CaseInput {
    File(PathBuf),
    /// Case text and the source name its messages carry (e.g. the built-in default).
    Text {
        text: String,
        source: String,
    },
}

impl CaseInput {
    /// The case file given on the command line, or the built-in default case.
    pub fn from_arg(path: Option<&Path>) -> CaseInput {
        match path {
            Some(path) => CaseInput::File(path.to_path_buf()),
            None => CaseInput::Text {
                text: crate::case::DEFAULT_CASE_TOML.to_string(),
                source: crate::case::DEFAULT_SOURCE.to_string(),
            },
        }
    }

    pub fn load(&self, overrides: &[String]) -> Result<Case, CaseError> {
        match self {
            CaseInput::File(path) => Case::load(path, overrides),
            CaseInput::Text { text, source } => Case::from_toml_str(text, source, overrides),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub out_dir: PathBuf,
    /// CSV columns to plot; empty: every `hotspots.*.current_A`, else `boundaries.interface.current_A`.
    pub plot_columns: Vec<String>,
    /// Show the progress bar over points.
    pub progress: bool,
}

/// A point's summary numbers as (dotted column name, value), in summary order.
pub type SummaryNumbers = Vec<(String, f64)>;

/// One point of the sweep and how it went.
#[derive(Debug, Clone)]
pub struct PointRecord {
    pub index: usize,
    /// The `--set` overrides of this point (after the base ones).
    pub overrides: Vec<String>,
    /// SI value of each varied key.
    pub values: Vec<f64>,
    /// The point's summary numbers, or why it failed.
    pub outcome: Result<SummaryNumbers, String>,
    /// The point's solution.vtu, if written.
    pub vtu: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct SweepReport {
    pub points: Vec<PointRecord>,
    /// sweep.csv, sweep.pvd (if any VTU), sweep.png (if any point succeeded).
    pub written: Vec<PathBuf>,
}

/// Runs every point (`base_set` then the point's overrides), writes each point's outputs into
/// `out_dir/point_<k>/` and the sweep files into `out_dir`. A failed point is recorded and the sweep goes
/// on; the result is an error only for bad arguments, unwritable files, or when every point failed.
pub fn run_sweep(
    input: &CaseInput,
    base_set: &[String],
    varies: &[Vary],
    options: &SweepOptions,
) -> Result<SweepReport, SweepError> {
    let grid = grid_points(varies)?;
    let bar = ProgressBar::with_draw_target(Some(grid.len() as u64), ProgressDrawTarget::hidden());
    if options.progress {
        bar.set_draw_target(ProgressDrawTarget::stderr());
    }
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
            .expect("static template is valid"),
    );
    bar.set_prefix("sweep");
    let mut points = Vec::with_capacity(grid.len());
    for (index, choice) in grid.iter().enumerate() {
        let overrides: Vec<String> =
            varies.iter().zip(choice).map(|(v, &i)| format!("{}={}", v.key, v.values[i].text)).collect();
        bar.set_message(overrides.join(", "));
        let values = varies.iter().zip(choice).map(|(v, &i)| v.values[i].si).collect();
        let point_dir = options.out_dir.join(format!("point_{index}"));
        let (outcome, vtu) = match solve_point(input, base_set, &overrides, &point_dir) {
            Ok((numbers, vtu)) => (Ok(numbers), vtu),
            Err(message) => (Err(message), None),
        };
        points.push(PointRecord { index, overrides, values, outcome, vtu });
        bar.inc(1);
    }
    bar.finish_and_clear();

    let mut written = Vec::new();
    let columns = summary_columns(&points);
    let path = options.out_dir.join("sweep.csv");
    io::write_atomic(&path, csv_text(varies, &columns, &points).as_bytes())?;
    written.push(path);
    if points.iter().any(|p| p.vtu.is_some()) {
        let path = options.out_dir.join("sweep.pvd");
        io::write_atomic(&path, pvd_text(&options.out_dir, varies, &points).as_bytes())?;
        written.push(path);
    }
    if points.iter().all(|p| p.outcome.is_err()) {
        return Err(SweepError::AllFailed { points: points.len(), first_error: first_error(&points) });
    }
    let path = options.out_dir.join("sweep.png");
    plot_points(&path, varies, &columns, &points, &options.plot_columns)?;
    written.push(path);
    Ok(SweepReport { points, written })
}

fn first_error(points: &[PointRecord]) -> String {
    points.iter().find_map(|p| p.outcome.as_ref().err().cloned()).unwrap_or_default()
}

/// Indices into each vary's values for every point, the last vary fastest.
fn grid_points(varies: &[Vary]) -> Result<Vec<Vec<usize>>, SweepError> {
    let total = varies.iter().try_fold(1usize, |n, v| n.checked_mul(v.values.len()).filter(|&n| n <= MAX_POINTS));
    let Some(total) = total else {
        let points = varies.iter().map(|v| v.values.len() as f64).product::<f64>() as usize;
        return Err(SweepError::TooManyPoints { points });
    };
    Ok((0..total)
        .map(|mut flat| {
            let mut choice = vec![0; varies.len()];
            for (slot, v) in choice.iter_mut().zip(varies).rev() {
                *slot = flat % v.values.len();
                flat /= v.values.len();
            }
            choice
        })
        .collect())
}

/// Load, solve, summarize and write one point; any failure becomes its message.
fn solve_point(
    input: &CaseInput,
    base_set: &[String],
    overrides: &[String],
    point_dir: &Path,
) -> Result<(SummaryNumbers, Option<PathBuf>), String> {
    let set: Vec<String> = base_set.iter().chain(overrides).cloned().collect();
    let case = input.load(&set).map_err(|e| e.to_string())?;
    let solution = pipeline::solve_case(&case, &RunOptions { progress: false }).map_err(|e| e.to_string())?;
    let summary = pipeline::summarize(&case, &solution);
    let write_vtu = case.output.vtu;
    pipeline::write_outputs(point_dir, write_vtu, &solution, &summary).map_err(|e| e.to_string())?;
    let value = serde_json::to_value(&summary).expect("summaries serialize infallibly");
    let mut numbers = Vec::new();
    flatten_numbers("", &value, &mut numbers);
    Ok((numbers, write_vtu.then(|| point_dir.join("solution.vtu"))))
}

/// Every number of a JSON value under dotted names. Objects add their keys; list entries add the value
/// of their `name` (or `hotspot`, with `step` appended if present), else their index.
pub fn flatten_numbers(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, f64)>) {
    use serde_json::Value;
    let join = |key: &str| if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") };
    match value {
        Value::Number(n) => out.extend(n.as_f64().map(|x| (prefix.to_string(), x))),
        Value::Object(map) => map.iter().for_each(|(k, v)| flatten_numbers(&join(k), v, out)),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let text = |key: &str| item.get(key).and_then(|v| v.as_str().map(str::to_string));
                let label = text("name")
                    .or_else(|| {
                        text("hotspot").map(|h| match item.get("step") {
                            Some(step) => format!("{h}.{}", step.as_str().map_or(step.to_string(), str::to_string)),
                            None => h,
                        })
                    })
                    .unwrap_or_else(|| i.to_string());
                flatten_numbers(&join(&label), item, out);
            }
        }
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

/// Summary columns in order of first appearance over the points.
fn summary_columns(points: &[PointRecord]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut columns = Vec::new();
    for numbers in points.iter().filter_map(|p| p.outcome.as_ref().ok()) {
        for (name, _) in numbers {
            if seen.insert(name.as_str()) {
                columns.push(name.clone());
            }
        }
    }
    columns
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn csv_text(varies: &[Vary], columns: &[String], points: &[PointRecord]) -> String {
    let header: Vec<String> = ["index", "status", "error"]
        .into_iter()
        .map(str::to_string)
        .chain(varies.iter().map(|v| v.key.clone()))
        .chain(columns.iter().cloned())
        .map(|c| csv_field(&c))
        .collect();
    let mut text = header.join(",") + "\n";
    for p in points {
        let (status, error) = match &p.outcome {
            Ok(_) => ("ok", String::new()),
            Err(message) => ("failed", csv_field(message)),
        };
        let mut row = vec![p.index.to_string(), status.to_string(), error];
        row.extend(p.values.iter().map(|v| format!("{v:e}")));
        let numbers = p.outcome.as_deref().unwrap_or_default();
        row.extend(
            columns
                .iter()
                .map(|c| numbers.iter().find(|(n, _)| n == c).map_or(String::new(), |(_, v)| format!("{v:e}"))),
        );
        text += &(row.join(",") + "\n");
    }
    text
}

/// XML attribute text.
fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

/// ParaView collection of the points' VTU files; the timestep is the varied value when one key is
/// swept, else the point index.
fn pvd_text(out_dir: &Path, varies: &[Vary], points: &[PointRecord]) -> String {
    let mut text = String::from(
        "<?xml version=\"1.0\"?>\n<VTKFile type=\"Collection\" version=\"0.1\" byte_order=\"LittleEndian\">\n  \
         <Collection>\n",
    );
    for p in points {
        let Some(vtu) = &p.vtu else { continue };
        let relative = vtu.strip_prefix(out_dir).unwrap_or(vtu);
        let file: Vec<String> = relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        let timestep = if varies.len() == 1 { p.values[0] } else { p.index as f64 };
        text += &format!(
            "    <DataSet timestep=\"{timestep:e}\" group=\"\" part=\"0\" file=\"{}\"/>\n",
            xml_escape(&file.join("/"))
        );
    }
    text + "  </Collection>\n</VTKFile>\n"
}

/// The chosen columns of the successful points against the first varied key, one curve per column and
/// per combination of the other varied keys.
fn plot_points(
    path: &Path,
    varies: &[Vary],
    columns: &[String],
    points: &[PointRecord],
    chosen: &[String],
) -> Result<(), SweepError> {
    let wanted: Vec<String> = if chosen.is_empty() {
        let hotspots: Vec<String> =
            columns.iter().filter(|c| c.starts_with("hotspots.") && c.ends_with(".current_A")).cloned().collect();
        if hotspots.is_empty() {
            vec!["boundaries.interface.current_A".to_string()]
        } else {
            hotspots
        }
    } else {
        chosen.to_vec()
    };
    for column in &wanted {
        if !columns.contains(column) {
            return Err(SweepError::UnknownPlotColumn { column: column.clone(), known: columns.join(", ") });
        }
    }
    let mut series: Vec<Series> = Vec::new();
    for p in points {
        let Ok(numbers) = &p.outcome else { continue };
        let others: Vec<String> =
            varies.iter().zip(&p.values).skip(1).map(|(v, value)| format!("{}={value:.3e}", v.key)).collect();
        for column in &wanted {
            let Some(&(_, y)) = numbers.iter().find(|(n, _)| n == column) else { continue };
            let name = if others.is_empty() { column.clone() } else { format!("{column} @ {}", others.join(", ")) };
            match series.iter_mut().find(|s| s.name == name) {
                Some(s) => s.points.push((p.values[0], y)),
                None => series.push(Series { name, points: vec![(p.values[0], y)] }),
            }
        }
    }
    let x_label = format!("{} (SI)", varies[0].key);
    let title = format!("sweep over {}", varies.iter().map(|v| v.key.as_str()).collect::<Vec<_>>().join(" x "));
    plot_sweep(path, &title, &x_label, "value (SI)", &series, ImageSize { width: 900, height: 600 })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(v: &Vary) -> Vec<&str> {
        v.values.iter().map(|x| x.text.as_str()).collect()
    }

    #[test]
    fn linear_values_keep_the_unit_and_convert_to_si() {
        let v = Vary::parse("boundaries.hotspot.potential=0.80 V..0.95 V:4").unwrap();
        assert_eq!(v.key, "boundaries.hotspot.potential");
        let si: Vec<f64> = v.values.iter().map(|x| x.si).collect();
        for (got, want) in si.iter().zip([0.80, 0.85, 0.90, 0.95]) {
            assert!((got - want).abs() < 1e-15, "{si:?}");
        }
        assert!(texts(&v).iter().all(|t| t.ends_with(" V")), "{:?}", texts(&v));
        let mesh = Vary::parse("mesh.h_min=1 nm..3 nm:3").unwrap();
        assert_eq!(texts(&mesh), ["1 nm", "2 nm", "3 nm"]);
        assert!((mesh.values[2].si - 3e-9).abs() < 1e-24);
    }

    #[test]
    fn log_values_are_geometric_and_unitless_values_work() {
        let v = Vary::parse("hotspots.hotspot.radius=5 nm..20 nm:3:log").unwrap();
        assert_eq!(texts(&v)[0], "5 nm");
        assert_eq!(texts(&v)[2], "20 nm");
        assert!((v.values[1].si - 10e-9).abs() < 1e-22, "{:?}", v.values);
        let rtol = Vary::parse("solver.rtol=1e-6..1e-10:5:log").unwrap();
        let exponents: Vec<f64> = rtol.values.iter().map(|x| x.si.log10()).collect();
        for (got, want) in exponents.iter().zip([-6.0, -7.0, -8.0, -9.0, -10.0]) {
            assert!((got - want).abs() < 1e-12, "{exponents:?}");
        }
        let single = Vary::parse("boundaries.top.potential=0.1 V..0.5 V:1").unwrap();
        assert_eq!(texts(&single), ["0.1 V"]);
    }

    #[test]
    fn bad_specs_name_the_argument_and_the_problem() {
        for (spec, fragment) in [
            ("top.potential", "expected KEY=FROM..TO:N"),
            ("=0 V..1 V:3", "key before `=` is empty"),
            ("a.b=0 V:3", "expected FROM..TO:N"),
            ("a.b=0 V..1 V", "number of points is missing"),
            ("a.b=0 V..1 V:x", "`x` is not a number of points"),
            ("a.b=0 V..1 V:0", "at least 1"),
            ("a.b=0 V..1 mV:3", "same unit"),
            ("a.b=0 V..1 V:3:log", "log spacing needs FROM and TO > 0"),
            ("a.b=0 V..1 V:3:cubic", "unknown spacing `cubic`"),
            ("a.b=V..1 V:3", "FROM: `V` does not start with a number"),
            ("a.b=1 furlong..2 furlong:3", "unknown unit `furlong`"),
        ] {
            let message = Vary::parse(spec).unwrap_err().to_string();
            assert!(message.contains(&format!("--vary `{spec}`")), "{message}");
            assert!(message.contains(fragment), "`{fragment}` missing from: {message}");
        }
    }

    #[test]
    fn cartesian_product_runs_the_last_key_fastest() {
        let a = Vary::parse("a=1..2:2").unwrap();
        let b = Vary::parse("b=1..3:3").unwrap();
        let grid = grid_points(&[a, b]).unwrap();
        assert_eq!(grid, vec![vec![0, 0], vec![0, 1], vec![0, 2], vec![1, 0], vec![1, 1], vec![1, 2]]);
        let big = Vary::parse("c=1..2:200").unwrap();
        let err = grid_points(&[big.clone(), big]).unwrap_err();
        assert!(matches!(err, SweepError::TooManyPoints { points: 40000 }), "{err}");
    }

    #[test]
    fn flattening_names_list_entries_by_name_or_hotspot_and_step() {
        let value = serde_json::json!({
            "solver": { "iterations": 12, "backend": "cpu" },
            "hotspots": [ { "name": "hs", "condition": "dirichlet", "current_A": -2.5 } ],
            "lithiation": [ { "hotspot": "hs", "step": "Sb->Li2Sb", "time_s": 3.0 } ],
            "plain": [ 1.5 ],
        });
        let mut out = Vec::new();
        flatten_numbers("", &value, &mut out);
        let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"solver.iterations") && names.contains(&"hotspots.hs.current_A"), "{names:?}");
        assert!(names.contains(&"lithiation.hs.Sb->Li2Sb.time_s") && names.contains(&"plain.0"), "{names:?}");
        assert_eq!(out.len(), 4);
        assert_eq!(out.iter().find(|(n, _)| n == "hotspots.hs.current_A").unwrap().1, -2.5);
    }

    #[test]
    fn csv_fields_with_commas_or_quotes_are_quoted() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a, \"b\""), "\"a, \"\"b\"\"\"");
    }
}
