//! The sweep's own files: `sweep.csv` (one row per point with every number of its summary), `sweep.pvd` (a
//! ParaView collection of the points' VTU files) and `sweep.png` (chosen columns against the first varied key).

use super::{PointRecord, SweepError, Vary};
use crate::io::plot::{plot_sweep, ImageSize, LogAxes, Series};
use std::collections::HashSet;
use std::path::Path;

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
pub(super) fn summary_columns(points: &[PointRecord]) -> Vec<String> {
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

pub(super) fn csv_text(varies: &[Vary], columns: &[String], points: &[PointRecord]) -> String {
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
        row.extend(p.values.iter().map(|&v| csv_number(v)));
        let numbers = p.outcome.as_deref().unwrap_or_default();
        row.extend(
            columns.iter().map(|c| numbers.iter().find(|(n, _)| n == c).map_or(String::new(), |&(_, v)| csv_number(v))),
        );
        text += &(row.join(",") + "\n");
    }
    text
}

/// A number as sweep.csv writes it: a whole number as an integer (node counts, iterations: "150844", not
/// "1.50844e5"), anything else in the shortest exponent form that reads back to the same f64.
fn csv_number(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:e}")
    }
}

/// XML attribute text.
fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

/// ParaView collection of the points' VTU files; the timestep is the varied value when one key is
/// swept, else the point index.
pub(super) fn pvd_text(out_dir: &Path, varies: &[Vary], points: &[PointRecord]) -> String {
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

/// The columns to plot: `chosen`, each of which must be among `columns`; by default the hot-spot currents, else
/// the interface current.
pub(super) fn plotted_columns(columns: &[String], chosen: &[String]) -> Result<Vec<String>, SweepError> {
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
    match wanted.iter().find(|column| !columns.contains(column)) {
        Some(column) => Err(SweepError::UnknownPlotColumn { column: column.clone(), known: columns.join(", ") }),
        None => Ok(wanted),
    }
}

/// The chosen columns of the successful points against the first varied key, one curve per column and
/// per combination of the other varied keys.
pub(super) fn plot_points(
    path: &Path,
    varies: &[Vary],
    columns: &[String],
    points: &[PointRecord],
    chosen: &[String],
) -> Result<(), SweepError> {
    let (series, x_label, y_label) = sweep_series(varies, columns, points, chosen)?;
    let title = format!("sweep over {}", varies.iter().map(|v| v.key.as_str()).collect::<Vec<_>>().join(" x "));
    let size = ImageSize { width: 900, height: 600 };
    plot_sweep(path, &title, &x_label, &y_label, &series, size, LogAxes { x: varies[0].log, y: false })?;
    Ok(())
}

/// The unit a summary column carries in its name (`current_A` -> A), if it names one.
fn column_unit(column: &str) -> Option<&'static str> {
    const SUFFIXES: [(&str, &str); 9] = [
        ("_A_per_m2", "A/m^2"),
        ("_Ohm_m2", "Ohm m^2"),
        ("_Ohm", "Ohm"),
        ("_A", "A"),
        ("_V", "V"),
        ("_C", "C"),
        ("_s", "s"),
        ("_m3", "m^3"),
        ("_m", "m"),
    ];
    SUFFIXES.iter().find(|(suffix, _)| column.ends_with(suffix)).map(|(_, unit)| *unit)
}

/// The curves of the sweep plot, and the axis labels with units: x is the first varied key in the unit it was
/// given in; y the columns' common unit. The default columns, hot-spot currents, are drawn as the current INTO
/// each hot spot (positive, rising with its potential), since "leaving the electrolyte" is negative there.
pub(super) fn sweep_series(
    varies: &[Vary],
    columns: &[String],
    points: &[PointRecord],
    chosen: &[String],
) -> Result<(Vec<Series>, String, String), SweepError> {
    let wanted = plotted_columns(columns, chosen)?;
    let into_hot_spots = chosen.is_empty() && wanted.iter().all(|c| c.starts_with("hotspots."));
    let mut series: Vec<Series> = Vec::new();
    let first = &varies[0];
    for p in points {
        let Ok(numbers) = &p.outcome else { continue };
        let others: Vec<String> =
            varies.iter().zip(&p.values).skip(1).map(|(v, value)| format!("{}={value:.3e}", v.key)).collect();
        for column in &wanted {
            let Some(&(_, y)) = numbers.iter().find(|(n, _)| n == column) else { continue };
            let (label, y) = match column.strip_prefix("hotspots.").and_then(|c| c.strip_suffix(".current_A")) {
                Some(spot) if into_hot_spots => (format!("current into {spot}"), -y),
                _ => (column.clone(), y),
            };
            let name = if others.is_empty() { label } else { format!("{label} @ {}", others.join(", ")) };
            let x = p.values[0] / first.unit_si;
            match series.iter_mut().find(|s| s.name == name) {
                Some(s) => s.points.push((x, y)),
                None => series.push(Series { name, points: vec![(x, y)] }),
            }
        }
    }
    let x_label = if first.unit.is_empty() { first.key.clone() } else { format!("{} ({})", first.key, first.unit) };
    let units: std::collections::BTreeSet<Option<&str>> = wanted.iter().map(|c| column_unit(c)).collect();
    let quantity = if into_hot_spots { "current into the hot spot" } else { "value" };
    let y_label = match units.into_iter().collect::<Vec<_>>().as_slice() {
        [Some(unit)] => format!("{quantity} ({unit})"),
        _ => quantity.to_string(),
    };
    Ok((series, x_label, y_label))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn sweep_plots_carry_units_and_show_hot_spot_currents_as_taken_in() {
        let vary = Vary::parse("boundaries.hs.potential=800 mV..900 mV:2").unwrap();
        let point = |index: usize, current: f64| PointRecord {
            index,
            overrides: Vec::new(),
            values: vec![vary.values[index].si],
            outcome: Ok(vec![
                ("hotspots.hs.current_A".to_string(), current),
                ("boundaries.interface.current_A".to_string(), -current),
            ]),
            vtu: None,
            mesh_reused: false,
        };
        let points = [point(0, -2.0e-8), point(1, -3.0e-8)];
        let columns = summary_columns(&points);
        let (series, x_label, y_label) = sweep_series(std::slice::from_ref(&vary), &columns, &points, &[]).unwrap();
        assert_eq!(x_label, "boundaries.hs.potential (mV)");
        assert_eq!(y_label, "current into the hot spot (A)");
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].name, "current into hs");
        let xs: Vec<f64> = series[0].points.iter().map(|p| p.0).collect();
        assert!((xs[0] - 800.0).abs() < 1e-9 && (xs[1] - 900.0).abs() < 1e-9, "{xs:?}");
        assert_eq!(series[0].points.iter().map(|p| p.1).collect::<Vec<_>>(), [2.0e-8, 3.0e-8]);
        // A column the user chose is drawn as it is in sweep.csv.
        let chosen = ["boundaries.interface.current_A".to_string()];
        let (series, _, y_label) = sweep_series(&[vary], &columns, &points, &chosen).unwrap();
        assert_eq!(y_label, "value (A)");
        assert_eq!(series[0].points.iter().map(|p| p.1).collect::<Vec<_>>(), [2.0e-8, 3.0e-8]);
    }

    #[test]
    fn whole_numbers_are_integers_and_the_others_read_back_exactly() {
        assert_eq!(
            [csv_number(150844.0), csv_number(0.0), csv_number(-0.0), csv_number(-24.0)],
            ["150844", "0", "0", "-24"]
        );
        for v in [0.1, -3.10399e-8, 1e20, 2.5, f64::MIN_POSITIVE] {
            assert_eq!(csv_number(v).parse::<f64>().unwrap(), v, "{v}");
        }
    }

    #[test]
    fn csv_fields_with_commas_or_quotes_are_quoted() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a, \"b\""), "\"a, \"\"b\"\"\"");
    }
}
