//! Quantities with units, as case files write them ("8 um", "0.00216 S/cm", "50 mA/cm^2"), turned into
//! SI values.
//!
//! A unit is a product of factors, each a symbol with an optional SI prefix and an optional integer
//! exponent: `Ohm cm^2`, `ohm*cm^2`, `Ω·cm²`, `mA/cm^2`, `um^-2`, `1/um^2`. A `/` divides by the one factor
//! that follows it. Symbols: m, Å, S, A, V, Ohm (ohm, Ω), C, F, s, min, h. Prefixes: p, n, u (µ, μ), m, c,
//! k, M. A unit is checked against the dimension the field expects (SI base exponents of m, kg, s, A).
//!
//! Powers of ten are applied to the decimal text before it is converted, so "25 nm" is exactly the f64
//! nearest to 25e-9 and "0.00216 S/cm" exactly 0.216.

use std::fmt;

/// Exponents of the SI base units metre, kilogram, second, ampere.
type Exponents = [i32; 4];

/// The physical dimension a case-file field expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// m
    Length,
    /// S/m
    Conductivity,
    /// A/m^2
    CurrentDensity,
    /// Ohm m^2 (an interfacial, area-specific resistance)
    AreaResistance,
    /// V
    Potential,
    /// m^-2 (hot spots per area)
    ArealDensity,
    /// A
    Current,
    /// C
    Charge,
    /// s
    Time,
    /// F/m
    Permittivity,
}

impl Dimension {
    /// Every dimension a case value may have.
    pub const ALL: [Dimension; 10] = [
        Dimension::Length,
        Dimension::Conductivity,
        Dimension::CurrentDensity,
        Dimension::AreaResistance,
        Dimension::Potential,
        Dimension::ArealDensity,
        Dimension::Current,
        Dimension::Charge,
        Dimension::Time,
        Dimension::Permittivity,
    ];

    fn exponents(self) -> Exponents {
        match self {
            Dimension::Length => [1, 0, 0, 0],
            Dimension::Conductivity => [-3, -1, 3, 2],
            Dimension::CurrentDensity => [-2, 0, 0, 1],
            Dimension::AreaResistance => [4, 1, -3, -2],
            Dimension::Potential => [2, 1, -3, -1],
            Dimension::ArealDensity => [-2, 0, 0, 0],
            Dimension::Current => [0, 0, 0, 1],
            Dimension::Charge => [0, 0, 1, 1],
            Dimension::Time => [0, 0, 1, 0],
            Dimension::Permittivity => [-3, -1, 4, 2],
        }
    }

    fn from_exponents(exponents: Exponents) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.exponents() == exponents)
    }

    /// Units accepted for this dimension (a representative list for messages; any prefix works).
    pub fn example_units(self) -> &'static str {
        match self {
            Dimension::Length => "m, cm, mm, um (µm), nm, Å",
            Dimension::Conductivity => "S/m, S/cm, mS/cm, uS/cm",
            Dimension::CurrentDensity => "A/m^2, A/cm^2, mA/cm^2, uA/cm^2",
            Dimension::AreaResistance => "Ohm m^2, Ohm cm^2, Ω cm^2, ohm*cm^2",
            Dimension::Potential => "V, mV",
            Dimension::ArealDensity => "m^-2, cm^-2, um^-2, 1/um^2",
            Dimension::Current => "A, mA, uA, nA",
            Dimension::Charge => "C, mC, uC",
            Dimension::Time => "s, ms, min, h",
            Dimension::Permittivity => "F/m, pF/m",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Dimension::Length => "length",
            Dimension::Conductivity => "conductivity",
            Dimension::CurrentDensity => "current density",
            Dimension::AreaResistance => "area-specific resistance",
            Dimension::Potential => "potential",
            Dimension::ArealDensity => "areal density",
            Dimension::Current => "current",
            Dimension::Charge => "charge",
            Dimension::Time => "time",
            Dimension::Permittivity => "permittivity",
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a quantity could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnitError {
    #[error("`{text}` does not start with a number (expected a {expected} such as \"1 {}\")", first_unit(*expected))]
    NotANumber { text: String, expected: Dimension },
    #[error("`{text}` has no unit; a {expected} needs one of: {}", expected.example_units())]
    MissingUnit { text: String, expected: Dimension },
    #[error("unknown unit `{unit}` in `{text}`; a {expected} takes one of: {}", expected.example_units())]
    UnknownUnit { text: String, unit: String, expected: Dimension },
    #[error("`{text}` is {found}, but a {expected} was expected (units: {})", expected.example_units())]
    WrongDimension { text: String, found: String, expected: Dimension },
    #[error("`{text}` is beyond the range of a number in SI units (about 1e308); no physical {expected} is")]
    NotFinite { text: String, expected: Dimension },
}

fn first_unit(dimension: Dimension) -> &'static str {
    dimension.example_units().split(',').next().unwrap_or_default()
}

/// Parses "<number> <unit>" and returns the value in SI units of `expected`.
pub fn parse_quantity(text: &str, expected: Dimension) -> Result<f64, UnitError> {
    let trimmed = text.trim();
    let Some((mantissa, exponent10, rest)) = split_number(trimmed) else {
        return Err(UnitError::NotANumber { text: text.to_string(), expected });
    };
    let unit_text = rest.trim();
    if unit_text.is_empty() {
        return Err(UnitError::MissingUnit { text: text.to_string(), expected });
    }
    let unit = parse_unit(unit_text).ok_or_else(|| UnitError::UnknownUnit {
        text: text.to_string(),
        unit: unit_text.to_string(),
        expected,
    })?;
    if unit.exponents != expected.exponents() {
        let found = match Dimension::from_exponents(unit.exponents) {
            Some(dimension) => format!("a {dimension}"),
            None => format!("a quantity in {}", describe_exponents(unit.exponents)),
        };
        return Err(UnitError::WrongDimension { text: text.to_string(), found, expected });
    }
    let decimal = format!("{mantissa}e{}", exponent10.saturating_add(unit.power_of_ten));
    let value: f64 = decimal.parse().map_err(|_| UnitError::NotANumber { text: text.to_string(), expected })?;
    let si = value * unit.factor;
    if !si.is_finite() {
        return Err(UnitError::NotFinite { text: text.to_string(), expected });
    }
    Ok(si)
}

/// A number and the unit text after it: "0.80 V" -> (0.8, "V"), "1e-8" -> (1e-8, ""). None when the text does
/// not start with a finite number. Sweeps interpolate the number and keep the unit.
pub fn split_value(text: &str) -> Option<(f64, &str)> {
    let (mantissa, exponent10, rest) = split_number(text.trim())?;
    let value: f64 = format!("{mantissa}e{exponent10}").parse().ok()?;
    value.is_finite().then_some((value, rest.trim()))
}

/// The SI value of one `unit` of any dimension ("nm" -> 1e-9, "mA/cm^2" -> 10); 1 for no unit; None for a
/// unit this module does not know.
pub fn si_factor(unit: &str) -> Option<f64> {
    if unit.trim().is_empty() {
        return Some(1.0);
    }
    parse_unit(unit.trim()).map(|u| u.factor * 10f64.powi(u.power_of_ten))
}

/// Splits "-2.16e-3 S/cm" into ("-2.16", -3, " S/cm"). None when the text does not start with a number.
fn split_number(text: &str) -> Option<(&str, i32, &str)> {
    let bytes = text.as_bytes();
    let mut end = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        end += 1;
    }
    let digits_start = end;
    while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b'.') {
        end += 1;
    }
    let mantissa = &text[..end];
    if !mantissa[digits_start..].bytes().any(|b| b.is_ascii_digit()) || mantissa.matches('.').count() > 1 {
        return None;
    }
    // An exponent only when 'e' is followed by an (optionally signed) digit: "5 em" stays a unit.
    if end < bytes.len() && (bytes[end] == b'e' || bytes[end] == b'E') {
        let mut exponent_end = end + 1;
        if matches!(bytes.get(exponent_end), Some(b'+' | b'-')) {
            exponent_end += 1;
        }
        let exponent_digits_start = exponent_end;
        while exponent_end < bytes.len() && bytes[exponent_end].is_ascii_digit() {
            exponent_end += 1;
        }
        if exponent_end > exponent_digits_start {
            let exponent = text[end + 1..exponent_end].parse().ok()?;
            return Some((mantissa, exponent, &text[exponent_end..]));
        }
    }
    Some((mantissa, 0, &text[end..]))
}

/// A unit as 10^power_of_ten * factor * (SI base units)^exponents.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Unit {
    power_of_ten: i32,
    factor: f64,
    exponents: Exponents,
}

impl Unit {
    const ONE: Unit = Unit { power_of_ten: 0, factor: 1.0, exponents: [0; 4] };

    fn powi(self, n: i32) -> Unit {
        Unit {
            power_of_ten: self.power_of_ten.saturating_mul(n),
            factor: self.factor.powi(n),
            exponents: self.exponents.map(|e| e.saturating_mul(n)),
        }
    }

    fn times(self, other: Unit) -> Unit {
        let mut exponents = self.exponents;
        for (e, o) in exponents.iter_mut().zip(other.exponents) {
            *e = e.saturating_add(o);
        }
        Unit {
            power_of_ten: self.power_of_ten.saturating_add(other.power_of_ten),
            factor: self.factor * other.factor,
            exponents,
        }
    }
}

/// Symbols without a prefix, with whether they take SI prefixes.
const SYMBOLS: [(&str, Unit, bool); 14] = [
    ("m", Unit { power_of_ten: 0, factor: 1.0, exponents: [1, 0, 0, 0] }, true),
    ("Å", Unit { power_of_ten: -10, factor: 1.0, exponents: [1, 0, 0, 0] }, false),
    ("Å", Unit { power_of_ten: -10, factor: 1.0, exponents: [1, 0, 0, 0] }, false),
    ("S", Unit { power_of_ten: 0, factor: 1.0, exponents: [-2, -1, 3, 2] }, true),
    ("A", Unit { power_of_ten: 0, factor: 1.0, exponents: [0, 0, 0, 1] }, true),
    ("V", Unit { power_of_ten: 0, factor: 1.0, exponents: [2, 1, -3, -1] }, true),
    ("Ohm", Unit { power_of_ten: 0, factor: 1.0, exponents: [2, 1, -3, -2] }, true),
    ("ohm", Unit { power_of_ten: 0, factor: 1.0, exponents: [2, 1, -3, -2] }, true),
    ("Ω", Unit { power_of_ten: 0, factor: 1.0, exponents: [2, 1, -3, -2] }, true),
    ("C", Unit { power_of_ten: 0, factor: 1.0, exponents: [0, 0, 1, 1] }, true),
    ("F", Unit { power_of_ten: 0, factor: 1.0, exponents: [-2, -1, 4, 2] }, true),
    ("s", Unit { power_of_ten: 0, factor: 1.0, exponents: [0, 0, 1, 0] }, true),
    ("min", Unit { power_of_ten: 0, factor: 60.0, exponents: [0, 0, 1, 0] }, false),
    ("h", Unit { power_of_ten: 0, factor: 3600.0, exponents: [0, 0, 1, 0] }, false),
];

const PREFIXES: [(&str, i32); 9] =
    [("p", -12), ("n", -9), ("u", -6), ("µ", -6), ("μ", -6), ("m", -3), ("c", -2), ("k", 3), ("M", 6)];

/// A symbol with an optional prefix; "Ω" may also be written with the ohm sign U+2126.
fn symbol(text: &str) -> Option<Unit> {
    let text = text.replace('\u{2126}', "Ω");
    if let Some((_, unit, _)) = SYMBOLS.iter().find(|(name, _, _)| *name == text) {
        return Some(*unit);
    }
    PREFIXES.iter().find_map(|(prefix, power)| {
        let rest = text.strip_prefix(prefix)?;
        let (_, unit, prefixable) = SYMBOLS.iter().find(|(name, _, _)| *name == rest)?;
        prefixable.then_some(Unit { power_of_ten: unit.power_of_ten + power, ..*unit })
    })
}

const SUPERSCRIPTS: [(char, char); 12] = [
    ('⁰', '0'),
    ('¹', '1'),
    ('²', '2'),
    ('³', '3'),
    ('⁴', '4'),
    ('⁵', '5'),
    ('⁶', '6'),
    ('⁷', '7'),
    ('⁸', '8'),
    ('⁹', '9'),
    ('⁻', '-'),
    ('⁺', '+'),
];

/// One factor such as "cm^2", "cm²", "um^-2", "1"; None when unknown.
fn factor(token: &str) -> Option<Unit> {
    if token == "1" {
        return Some(Unit::ONE);
    }
    let split = token
        .char_indices()
        .find(|(_, c)| matches!(c, '^' | '-' | '+') || c.is_ascii_digit() || SUPERSCRIPTS.iter().any(|(s, _)| s == c))
        .map_or(token.len(), |(i, _)| i);
    let (symbol_text, exponent_text) = token.split_at(split);
    let unit = symbol(symbol_text)?;
    if exponent_text.is_empty() {
        return Some(unit);
    }
    let exponent_text: String = exponent_text
        .strip_prefix('^')
        .unwrap_or(exponent_text)
        .chars()
        .map(|c| SUPERSCRIPTS.iter().find(|(s, _)| *s == c).map_or(c, |(_, plain)| *plain))
        .collect();
    Some(unit.powi(exponent_text.parse().ok()?))
}

/// Multiplies `unit` by the factor in `token` (or divides by it) and empties the token.
fn flush(token: &mut String, divide: bool, unit: &mut Unit) -> Option<()> {
    if token.is_empty() {
        return Some(());
    }
    let f = factor(token)?;
    *unit = unit.times(if divide { f.powi(-1) } else { f });
    token.clear();
    Some(())
}

fn parse_unit(text: &str) -> Option<Unit> {
    let mut unit = Unit::ONE;
    let mut divide_next = false;
    let mut token = String::new();
    for c in text.chars() {
        match c {
            '/' => {
                flush(&mut token, divide_next, &mut unit)?;
                if divide_next {
                    return None; // "a//b"
                }
                divide_next = true;
            }
            '*' | '·' | '⋅' | ' ' | '\t' => {
                if !token.is_empty() {
                    flush(&mut token, divide_next, &mut unit)?;
                    divide_next = false;
                }
            }
            _ => token.push(c),
        }
    }
    if token.is_empty() && divide_next {
        return None; // trailing "/"
    }
    flush(&mut token, divide_next, &mut unit)?;
    Some(unit)
}

fn describe_exponents(exponents: Exponents) -> String {
    let parts: Vec<String> = ["m", "kg", "s", "A"]
        .iter()
        .zip(exponents)
        .filter(|(_, e)| *e != 0)
        .map(|(name, e)| if e == 1 { name.to_string() } else { format!("{name}^{e}") })
        .collect();
    if parts.is_empty() {
        "no unit (dimensionless)".to_string()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn si(text: &str, dimension: Dimension) -> f64 {
        parse_quantity(text, dimension).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn values_split_into_number_and_unit_and_units_have_si_factors() {
        assert_eq!(split_value(" 0.80 V"), Some((0.8, "V")));
        assert_eq!(split_value("1e-8"), Some((1e-8, "")));
        assert_eq!(split_value("2.5e3 mA/cm^2"), Some((2500.0, "mA/cm^2")));
        assert_eq!(split_value("V"), None);
        assert_eq!(split_value("1e400 V"), None);
        assert_eq!(si_factor(""), Some(1.0));
        assert!((si_factor("nm").unwrap() - 1e-9).abs() < 1e-24);
        assert!((si_factor("mA/cm^2").unwrap() - 10.0).abs() < 1e-12);
        assert_eq!(si_factor("furlong"), None);
    }

    #[test]
    fn lengths_with_prefixes_are_exact() {
        assert_eq!(si("8 um", Dimension::Length), 8e-6);
        assert_eq!(si("8 µm", Dimension::Length), 8e-6);
        assert_eq!(si("8 μm", Dimension::Length), 8e-6);
        assert_eq!(si("25 nm", Dimension::Length), 25e-9);
        assert_eq!(si("25nm", Dimension::Length), 25e-9);
        assert_eq!(si("1.5 mm", Dimension::Length), 1.5e-3);
        assert_eq!(si("3 cm", Dimension::Length), 0.03);
        assert_eq!(si("2 m", Dimension::Length), 2.0);
        assert_eq!(si("5 Å", Dimension::Length), 5e-10);
        assert_eq!(si("5 \u{212B}", Dimension::Length), 5e-10);
        assert_eq!(si("-0.5 um", Dimension::Length), -5e-7);
        assert_eq!(si("  .5 um ", Dimension::Length), 5e-7);
    }

    #[test]
    fn scientific_notation_combines_with_prefixes() {
        assert_eq!(si("1e-3 S/cm", Dimension::Conductivity), 0.1);
        assert_eq!(si("2.16e-3 S/cm", Dimension::Conductivity), 0.216);
        assert_eq!(si("2.16E-3 S/cm", Dimension::Conductivity), 0.216);
        assert_eq!(si("1e+2 nm", Dimension::Length), 1e-7);
        assert_eq!(si("4e1 um", Dimension::Length), 4e-5);
    }

    #[test]
    fn conductivities() {
        assert_eq!(si("0.00216 S/cm", Dimension::Conductivity), 0.216);
        assert_eq!(si("0.216 S/m", Dimension::Conductivity), 0.216);
        assert_eq!(si("0.45 mS/cm", Dimension::Conductivity), 0.045);
        assert_eq!(si("3 uS/cm", Dimension::Conductivity), 3e-4);
    }

    #[test]
    fn current_densities() {
        assert_eq!(si("50 mA/cm^2", Dimension::CurrentDensity), 500.0);
        assert_eq!(si("50 mA/cm²", Dimension::CurrentDensity), 500.0);
        assert_eq!(si("1 A/cm^2", Dimension::CurrentDensity), 1e4);
        assert_eq!(si("7 A/m^2", Dimension::CurrentDensity), 7.0);
        assert_eq!(si("20 uA/cm^2", Dimension::CurrentDensity), 0.2);
        assert_eq!(si("50 mA cm^-2", Dimension::CurrentDensity), 500.0);
        assert_eq!(si("50 mA cm⁻²", Dimension::CurrentDensity), 500.0);
    }

    #[test]
    fn area_resistances_in_every_spelling() {
        for text in ["0.13 Ohm cm^2", "0.13 ohm*cm^2", "0.13 Ω cm^2", "0.13 Ω·cm²", "0.13 \u{2126} cm^2"] {
            assert_eq!(si(text, Dimension::AreaResistance), 1.3e-5, "{text}");
        }
        assert_eq!(si("2 Ohm m^2", Dimension::AreaResistance), 2.0);
    }

    #[test]
    fn potentials_densities_charges_times_permittivities() {
        assert_eq!(si("0.9 V", Dimension::Potential), 0.9);
        assert_eq!(si("850 mV", Dimension::Potential), 0.85);
        assert_eq!(si("0.2 um^-2", Dimension::ArealDensity), 2e11);
        assert_eq!(si("0.2 1/um^2", Dimension::ArealDensity), 2e11);
        assert_eq!(si("0.2 /um^2", Dimension::ArealDensity), 2e11);
        assert_eq!(si("3 cm^-2", Dimension::ArealDensity), 3e4);
        assert_eq!(si("5 m^-2", Dimension::ArealDensity), 5.0);
        assert_eq!(si("2 C", Dimension::Charge), 2.0);
        assert_eq!(si("2 mC", Dimension::Charge), 2e-3);
        assert_eq!(si("2 uC", Dimension::Charge), 2e-6);
        assert_eq!(si("1 A s", Dimension::Charge), 1.0);
        assert_eq!(si("3 s", Dimension::Time), 3.0);
        assert_eq!(si("3 ms", Dimension::Time), 3e-3);
        assert_eq!(si("2 min", Dimension::Time), 120.0);
        assert_eq!(si("1.5 h", Dimension::Time), 5400.0);
        assert_eq!(si("5 mA", Dimension::Current), 5e-3);
        assert_eq!(si("6.451e-10 F/m", Dimension::Permittivity), 6.451e-10);
    }

    #[test]
    fn unknown_unit_lists_the_known_ones() {
        let error = parse_quantity("8 furlong", Dimension::Length).unwrap_err();
        assert_eq!(
            error,
            UnitError::UnknownUnit { text: "8 furlong".into(), unit: "furlong".into(), expected: Dimension::Length }
        );
        let message = error.to_string();
        assert!(message.contains("unknown unit `furlong`") && message.contains("um (µm), nm"), "{message}");
        assert!(matches!(parse_quantity("1 S//cm", Dimension::Conductivity), Err(UnitError::UnknownUnit { .. })));
        assert!(matches!(parse_quantity("1 S/", Dimension::Conductivity), Err(UnitError::UnknownUnit { .. })));
        assert!(matches!(parse_quantity("1 cm^x", Dimension::Length), Err(UnitError::UnknownUnit { .. })));
        // "min" and "h" take no prefix.
        assert!(matches!(parse_quantity("1 kh", Dimension::Time), Err(UnitError::UnknownUnit { .. })));
    }

    #[test]
    fn missing_unit_and_not_a_number() {
        assert_eq!(
            parse_quantity("8", Dimension::Length),
            Err(UnitError::MissingUnit { text: "8".into(), expected: Dimension::Length })
        );
        let message = parse_quantity("  8e-6 ", Dimension::Length).unwrap_err().to_string();
        assert!(message.contains("has no unit") && message.contains("length"), "{message}");
        for text in ["um", "", "-", ". um", "1.2.3 um", "nan m"] {
            assert_eq!(
                parse_quantity(text, Dimension::Length),
                Err(UnitError::NotANumber { text: text.into(), expected: Dimension::Length }),
                "{text}"
            );
        }
    }

    #[test]
    fn absurd_exponents_do_not_overflow() {
        assert_eq!(si("1e-2147483648 nm", Dimension::Length), 0.0);
        assert!(matches!(parse_quantity("1e2147483647 nm", Dimension::Length), Err(UnitError::NotFinite { .. })));
        let beyond = parse_quantity("1e400 um", Dimension::Length).unwrap_err().to_string();
        assert!(beyond.contains("1e400 um") && beyond.contains("beyond the range"), "{beyond}");
        assert!(matches!(parse_quantity("1 m^2147483647", Dimension::Length), Err(UnitError::WrongDimension { .. })));
        assert!(matches!(parse_quantity("1 m^99999999999", Dimension::Length), Err(UnitError::UnknownUnit { .. })));
        assert!(matches!(parse_quantity("1e99999999999 m", Dimension::Length), Err(UnitError::NotANumber { .. })));
    }

    #[test]
    fn wrong_dimension_names_both_dimensions() {
        let error = parse_quantity("5 nm", Dimension::Conductivity).unwrap_err();
        assert_eq!(
            error,
            UnitError::WrongDimension {
                text: "5 nm".into(),
                found: "a length".into(),
                expected: Dimension::Conductivity
            }
        );
        assert!(error.to_string().contains("is a length, but a conductivity was expected"), "{error}");
        let odd = parse_quantity("5 V/m", Dimension::Potential).unwrap_err().to_string();
        assert!(odd.contains("a quantity in m kg s^-3 A^-1"), "{odd}");
        let current = parse_quantity("50 mA", Dimension::CurrentDensity).unwrap_err().to_string();
        assert!(current.contains("is a current, but a current density"), "{current}");
    }
}
