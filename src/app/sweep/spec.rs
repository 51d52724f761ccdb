//! `--vary KEY=FROM..TO:N[:log]`: a swept key and its values. FROM and TO are values with the same unit
//! ("0.80 V..0.95 V:4"); the number is interpolated (linearly, or geometrically with `:log`) and the unit kept,
//! so each point is an ordinary `--set` override.

use super::SweepError;
use crate::case::units::{si_factor, split_value};

/// One swept key and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Vary {
    /// The text it was parsed from (a sharded sweep records it for the merge).
    pub spec: String,
    pub key: String,
    pub values: Vec<VaryValue>,
    /// The unit the values were given in ("V", "mV", "nm"; empty for plain numbers) and its SI factor: plots
    /// show the values in it.
    pub unit: String,
    pub unit_si: f64,
    /// Geometric spacing (`:log`): plots use a log axis.
    pub log: bool,
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
        if !(1..=super::MAX_POINTS).contains(&count) {
            return Err(bad(format!("the number of points must lie in 1..={}", super::MAX_POINTS)));
        }
        let not_a_number = |which: &str, text: &str| {
            bad(format!("{which}: `{}` does not start with a number (or it is not finite)", text.trim()))
        };
        let (from_number, from_unit) = split_value(from).ok_or_else(|| not_a_number("FROM", from))?;
        let (to_number, to_unit) = split_value(to).ok_or_else(|| not_a_number("TO", to))?;
        if from_unit != to_unit {
            return Err(bad(format!("FROM and TO must have the same unit, got `{from_unit}` and `{to_unit}`")));
        }
        if log && !(from_number > 0.0 && to_number > 0.0) {
            return Err(bad("log spacing needs FROM and TO > 0".into()));
        }
        let si_factor = si_factor(from_unit).ok_or_else(|| bad(format!("unknown unit `{from_unit}`")))?;
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
        Ok(Vary {
            spec: spec.to_string(),
            key: key.to_string(),
            values,
            unit: from_unit.to_string(),
            unit_si: si_factor,
            log,
        })
    }
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
            ("a.b=0 V..1 V:0", "must lie in 1..=10000"),
            ("a.b=0 V..1 V:1000000000", "must lie in 1..=10000"),
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
}
