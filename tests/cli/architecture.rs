//! The import rules of ARCHITECTURE.md hold: every `crate::<folder>` path (and `super::` path leaving a folder) in
//! `src/<folder>/` names a folder that the table lets it import. The table is read from ARCHITECTURE.md itself,
//! so the document and the check cannot drift apart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ARCHITECTURE: &str = include_str!("../../ARCHITECTURE.md");

/// folder -> the folders it may import, from the table between the `layers` markers.
fn rules() -> BTreeMap<String, BTreeSet<String>> {
    let start = ARCHITECTURE.find("<!-- layers:start -->").expect("ARCHITECTURE.md marks its layer table");
    let end = ARCHITECTURE.find("<!-- layers:end -->").expect("the table ends");
    let ticked = |cell: &str| -> Vec<String> { cell.split('`').skip(1).step_by(2).map(str::to_string).collect() };
    ARCHITECTURE[start..end]
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').collect();
            let folder = ticked(cells[1]).remove(0);
            (folder, ticked(cells[3]).into_iter().collect())
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a Rust file without `//` comments (doc text may name any module).
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, line)| (i + 1, line.split("//").next().unwrap_or_default()))
}

/// The top-level folders a line reaches through `crate::x` or through `super::` paths that climb out of the
/// file's own folder. `module` is the file's module path below `src/` (`["mesh", "implicit", "cut"]`).
fn folders_used(line: &str, module: &[String]) -> Vec<String> {
    let ident = |text: &str| -> String { text.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect() };
    let mut used = Vec::new();
    for (at, _) in line.match_indices("crate::") {
        let preceded_by_ident = line[..at].chars().last().is_some_and(|c| c.is_alphanumeric() || c == '_');
        if !preceded_by_ident {
            used.push(ident(&line[at + "crate::".len()..]));
        }
    }
    let mut rest = line;
    while let Some(at) = rest.find("super::") {
        let mut tail = &rest[at..];
        let mut climbs = 0;
        while let Some(after) = tail.strip_prefix("super::") {
            tail = after;
            climbs += 1;
        }
        // `super` from module m is m's parent: climbing the whole path reaches the crate root.
        if climbs >= module.len() {
            used.push(ident(tail));
        }
        rest = tail;
    }
    used
}

#[test]
fn no_folder_imports_a_folder_its_row_does_not_name() {
    let rules = rules();
    assert!(rules.len() >= 8, "the layer table lists every folder: {rules:?}");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let relative: Vec<String> =
            file.strip_prefix(&src).unwrap().iter().map(|c| c.to_string_lossy().into_owned()).collect();
        if relative.len() < 2 {
            continue; // lib.rs declares the folders; main.rs uses the library from outside, through `ionflux::`.
        }
        let folder = &relative[0];
        let allowed = rules.get(folder).unwrap_or_else(|| panic!("src/{folder} has no row in ARCHITECTURE.md"));
        let mut module: Vec<String> = relative.iter().map(|c| c.trim_end_matches(".rs").to_string()).collect();
        if module.last().is_some_and(|m| m == "mod") {
            module.pop();
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (line_number, code) in code_lines(&text) {
            // The test module closes each file: from there on, `super` is the file's own module.
            if code.trim() == "mod tests {" {
                module.push("tests".to_string());
            }
            for used in folders_used(code, &module) {
                if used != *folder && !allowed.contains(&used) {
                    violations.push(format!("src/{}:{line_number}: `{folder}` uses `{used}`", relative.join("/")));
                }
            }
        }
    }
    assert!(violations.is_empty(), "imports against ARCHITECTURE.md:\n{}", violations.join("\n"));
}

#[test]
fn the_checker_sees_crate_and_super_paths() {
    let module = |m: &[&str]| m.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(folders_used("use crate::app::pipeline::Solution;", &module(&["fem", "post"])), ["app"]);
    assert_eq!(folders_used("let x = crate::gpu::select::select(a);", &module(&["case"])), ["gpu"]);
    // `super::` inside a folder stays there; from a folder's mod.rs it reaches the crate root.
    assert!(folders_used("use super::Mesh;", &module(&["mesh", "quality"])).is_empty());
    assert_eq!(folders_used("use super::io::write;", &module(&["analysis"])), ["io"]);
    assert_eq!(folders_used("use super::super::app::x;", &module(&["mesh", "implicit", "cut"])), Vec::<String>::new());
    assert_eq!(folders_used("use super::super::super::app::x;", &module(&["mesh", "implicit", "cut"])), ["app"]);
    assert!(folders_used("my_crate::app::x", &module(&["mesh"])).is_empty());
}

#[test]
fn every_folder_in_src_has_a_row() {
    let rules = rules();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(rules.contains_key(&name), "src/{name} has no row in ARCHITECTURE.md's layer table");
        }
    }
}
