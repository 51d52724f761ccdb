//! The case text after `--set key=value` overrides, and where each of its lines came from.
//!
//! Overrides are applied in place with `toml_edit` (which keeps every untouched byte), then the edited
//! text is matched line by line against the original (longest common subsequence), so an error in an
//! untouched field names its line in the file and an error in an overridden value says "from --set".

use std::ops::Range;

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, TableLike, Value};

use super::{CaseError, Location};

/// One `--set key.path=value` as given on the command line.
#[derive(Debug, Clone)]
struct Override {
    text: String,
    /// The key path with `[[...]]` entries as indices ("hotspots.0.radius" for "hotspots.sb.radius").
    key: String,
}

/// The text serde reads, with the map from its lines back to the original file's lines.
#[derive(Debug)]
pub(super) struct SourceText {
    pub source: String,
    pub text: String,
    /// For each line of `text`: the 1-based line of the original, or None when an override wrote it.
    original_line: Vec<Option<usize>>,
    overrides: Vec<Override>,
}

/// The most segments a `--set` key path may have: the deepest case key (`hotspots.<name>.center.<k>`) has four,
/// and a longer path would only build nested tables no schema reads (each level a recursion).
const MAX_KEY_SEGMENTS: usize = 8;

impl SourceText {
    /// Checks the TOML syntax, applies the overrides and maps the lines.
    pub fn new(source: &str, original: &str, overrides: &[String]) -> Result<SourceText, CaseError> {
        let mut document: DocumentMut = original.parse().map_err(|error: toml_edit::TomlError| {
            let start = error.span().map_or(0, |span| span.start);
            let (line, column) = line_and_column(original, start);
            CaseError::Syntax {
                at: Box::new(Location { source: source.to_string(), line: Some(line), from_set: None }),
                column,
                message: error.message().trim().to_string(),
            }
        })?;
        let mut applied = Vec::new();
        for text in overrides {
            let at = Location { source: source.to_string(), line: None, from_set: Some(text.clone()) };
            let (key, value_text) = text
                .split_once('=')
                .ok_or_else(|| CaseError::Override { at: at.clone().into(), reason: "expected key=value".into() })?;
            let key = key.trim();
            let path: Vec<&str> = key.split('.').map(str::trim).collect();
            if path.len() > MAX_KEY_SEGMENTS {
                let reason = format!(
                    "the key has {} segments; no case key has more than {MAX_KEY_SEGMENTS} (e.g. hotspots.sb.center.2)",
                    path.len()
                );
                return Err(CaseError::Override { at: at.into(), reason });
            }
            if path.iter().any(|segment| segment.is_empty()) {
                return Err(CaseError::Override { at: at.into(), reason: format!("`{key}` is not a dotted key path") });
            }
            let value_text = value_text.trim();
            // A TOML value when it parses as one ("1e-8", "[\"4 um\"]", "\"1 nm\""), otherwise a plain string.
            let value = value_text.parse::<Value>().unwrap_or_else(|_| Value::from(value_text));
            let mut resolved = Vec::new();
            set_in_table(document.as_table_mut(), &path, value, key, &mut resolved)
                .map_err(|reason| CaseError::Override { at: at.into(), reason })?;
            applied.push(Override { text: text.clone(), key: resolved.join(".") });
        }
        if applied.is_empty() {
            let original_line = (1..=original.lines().count()).map(Some).collect();
            return Ok(SourceText { source: source.into(), text: original.into(), original_line, overrides: applied });
        }
        let text = document.to_string();
        let original_line = match_lines(original, &text);
        Ok(SourceText { source: source.into(), text, original_line, overrides: applied })
    }

    /// Where the text at `span` (bytes of `self.text`) came from; `field` picks the override that wrote it.
    pub fn locate(&self, span: Range<usize>, field: &str) -> Location {
        let (line, _) = line_and_column(&self.text, span.start);
        match self.original_line.get(line - 1).copied().flatten() {
            Some(original) => Location { source: self.source.clone(), line: Some(original), from_set: None },
            None => Location { source: self.source.clone(), line: None, from_set: self.override_for(field) },
        }
    }

    /// The source alone, for errors that belong to no single line.
    pub fn whole(&self) -> Location {
        Location { source: self.source.clone(), line: None, from_set: None }
    }

    /// The override whose key path is closest to `field` ("layers[0].thickness" ~ "layers.0.thickness"); None when
    /// no override touches it.
    fn override_for(&self, field: &str) -> Option<String> {
        let field = field.replace('[', ".").replace(']', "");
        let related =
            |key: &str| field == key || field.starts_with(&format!("{key}.")) || key.starts_with(&format!("{field}."));
        // An unrelated override (one the CLI added for a flag, say) would only mislead.
        self.overrides.iter().rev().find(|o| related(&o.key)).map(|found| found.text.clone())
    }
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let column = text.get(line_start..before.len()).map_or(before.len() - line_start, |s| s.chars().count()) + 1;
    (line, column)
}

/// Sets `path` (relative to `table`) to `value`, creating missing tables. In an array of tables the
/// segment after the array picks an entry by index ("layers.0") or by its `name` ("hotspots.sb").
/// `resolved` receives the path with entries as indices.
fn set_in_table(
    table: &mut dyn TableLike,
    path: &[&str],
    value: Value,
    full_key: &str,
    resolved: &mut Vec<String>,
) -> Result<(), String> {
    let (key, rest) = path.split_first().ok_or_else(|| format!("`{full_key}` is empty"))?;
    resolved.push(key.to_string());
    if rest.is_empty() {
        match table.get_mut(key) {
            Some(Item::Value(old)) => {
                let decor = old.decor().clone();
                *old = value;
                *old.decor_mut() = decor;
            }
            Some(_) => return Err(format!("`{full_key}` is a table; set one of its keys instead")),
            None => {
                table.insert(key, Item::Value(value));
            }
        }
        return Ok(());
    }
    if table.get(key).is_none() {
        // `hotspots.0.radius` with no [[hotspots]]: an entry cannot be made up from one key.
        if rest.first().is_some_and(|next| next.parse::<usize>().is_ok()) {
            return Err(format!(
                "`{full_key}`: the case has no [[{key}]] entries to select from; add the [[{key}]] group to the file"
            ));
        }
        table.insert(key, Item::Table(Table::new()));
    }
    match table.get_mut(key) {
        Some(Item::Table(child)) => set_in_table(child, rest, value, full_key, resolved),
        Some(Item::Value(Value::InlineTable(child))) => set_in_table(child, rest, value, full_key, resolved),
        Some(Item::ArrayOfTables(array)) => {
            let (selector, inner) = rest.split_first().ok_or_else(|| format!("`{full_key}` is empty"))?;
            if inner.is_empty() {
                return Err(format!("`{full_key}` is a whole [[{key}]] entry; set one of its keys instead"));
            }
            let (index, entry) = select_entry(array, selector).ok_or_else(|| {
                format!("`{full_key}`: [[{key}]] has no entry `{selector}` (give an index or a name)")
            })?;
            resolved.push(index.to_string());
            set_in_table(entry, inner, value, full_key, resolved)
        }
        Some(Item::Value(Value::Array(array))) => {
            let [index] = rest else {
                return Err(format!("`{full_key}` goes below an element of the array `{key}`"));
            };
            let slot = index
                .parse::<usize>()
                .ok()
                .and_then(|i| array.get_mut(i))
                .ok_or_else(|| format!("`{full_key}`: the array `{key}` has no element {index}"))?;
            let decor = slot.decor().clone();
            *slot = value;
            *slot.decor_mut() = decor;
            Ok(())
        }
        _ => Err(format!("`{full_key}`: `{key}` is a value, not a table")),
    }
}

fn select_entry<'a>(array: &'a mut ArrayOfTables, selector: &str) -> Option<(usize, &'a mut Table)> {
    let index = match selector.parse::<usize>() {
        Ok(index) => index,
        Err(_) => array.iter().position(|entry| entry.get("name").and_then(Item::as_str) == Some(selector))?,
    };
    array.get_mut(index).map(|entry| (index, entry))
}

/// For each line of `edited`, the 1-based line of `original` it is an unchanged copy of (longest common
/// subsequence of lines, after stripping the common head and tail), or None.
fn match_lines(original: &str, edited: &str) -> Vec<Option<usize>> {
    let a: Vec<&str> = original.lines().collect();
    let b: Vec<&str> = edited.lines().collect();
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail = a[head..].iter().rev().zip(b[head..].iter().rev()).take_while(|(x, y)| x == y).count();
    let middle = match_middle(&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let mut map: Vec<Option<usize>> = (1..=head).map(Some).collect();
    map.extend(middle.into_iter().map(|i| i.map(|i| head + i + 1)));
    map.extend((0..tail).map(|k| Some(a.len() - tail + k + 1)));
    map
}

/// For each line of `b`, the 0-based index of the line of `a` the LCS pairs it with.
fn match_middle(a: &[&str], b: &[&str]) -> Vec<Option<usize>> {
    // Beyond this (files of thousands of lines with edits far apart) the changed middle gets no lines.
    const MAX_TABLE_CELLS: usize = 1 << 24;
    let width = b.len() + 1;
    if (a.len() + 1) * width > MAX_TABLE_CELLS {
        return vec![None; b.len()];
    }
    // lcs[i][j] = length of the LCS of a[i..] and b[j..].
    let mut lcs = vec![0u32; (a.len() + 1) * width];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i * width + j] = if a[i] == b[j] {
                lcs[(i + 1) * width + j + 1] + 1
            } else {
                lcs[(i + 1) * width + j].max(lcs[i * width + j + 1])
            };
        }
    }
    let mut map = Vec::with_capacity(b.len());
    let (mut i, mut j) = (0, 0);
    while j < b.len() {
        if i < a.len() && a[i] == b[j] {
            map.push(Some(i));
            i += 1;
            j += 1;
        } else if i < a.len() && lcs[(i + 1) * width + j] >= lcs[i * width + j + 1] {
            i += 1;
        } else {
            map.push(None);
            j += 1;
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_map_through_insertions_and_replacements() {
        let original = "a = 1\nb = 2\n[t]\nc = 3\n[u]\nd = 4\n";
        let edited = "a = 1\nb = 9\n[t]\nc = 3\nnew = 1\n[u]\nd = 4\n";
        assert_eq!(match_lines(original, edited), vec![Some(1), None, Some(3), Some(4), None, Some(5), Some(6)]);
    }

    #[test]
    fn overrides_keep_untouched_lines_and_comments() {
        let original = "[mesh]\nh_max = \"1 um\" # coarse\n\n[[hotspots]]\nname = \"sb\"\nradius = \"10 nm\"\n";
        let set = ["mesh.grading=1.5".to_string(), "hotspots.sb.radius=20 nm".to_string(), "mesh.h_max='2 um'".into()];
        let source = SourceText::new("f.toml", original, &set).unwrap();
        assert_eq!(
            source.text,
            "[mesh]\nh_max = '2 um' # coarse\ngrading = 1.5\n\n[[hotspots]]\nname = \"sb\"\nradius = \"20 nm\"\n"
        );
        assert_eq!(source.original_line, vec![Some(1), None, None, Some(3), Some(4), Some(5), None]);
        let name_span = source.text.find("name").unwrap()..source.text.len();
        assert_eq!(source.locate(name_span, "hotspots[0].name").line, Some(5));
        let radius_span = source.text.find("\"20 nm\"").unwrap()..source.text.len();
        let radius = source.locate(radius_span, "hotspots[0].radius");
        assert_eq!((radius.line, radius.from_set.as_deref()), (None, Some("hotspots.sb.radius=20 nm")));
    }

    #[test]
    fn bad_override_paths_are_errors() {
        let missing = SourceText::new("c.toml", "name = \"x\"\n", &["hotspot_random.0.count=5".into()]).err().unwrap();
        assert!(missing.to_string().contains("no [[hotspot_random]] entries"), "{missing}");
        let original = "[domain]\nsize = [\"1 um\", \"1 um\", \"1 um\"]\n[[layers]]\nthickness = \"1 nm\"\n";
        for (set, expected) in [
            ("domain.size.0.x=1", "goes below an element"),
            ("domain.size.size=1", "has no element size"),
            ("domain.size.7=\"1 um\"", "has no element 7"),
            ("layers.3.thickness=1", "has no entry `3`"),
            ("layers.0=1", "whole [[layers]] entry"),
            ("domain=1", "is a table"),
            ("domain..size=1", "not a dotted key path"),
            ("domain.size", "expected key=value"),
        ] {
            let error = SourceText::new("f.toml", original, &[set.to_string()]).unwrap_err().to_string();
            assert!(error.contains(expected) && error.contains(set), "{set}: {error}");
        }
    }
}
