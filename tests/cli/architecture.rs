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

/// The module paths a line names, resolved from `module` (the file's module path): `crate::a::b` and
/// `super::...::a::b`, with `{x, y}` groups expanded to their first segments.
fn module_paths(line: &str, module: &[String]) -> Vec<Vec<String>> {
    let ident = |text: &str| -> String { text.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect() };
    // The segments after a path's start, through `::`, and the first segment of each entry of a `{...}` group.
    let segments = |mut tail: &str| -> Vec<Vec<String>> {
        let mut path = Vec::new();
        loop {
            if let Some(group) = tail.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or_default();
                return inner
                    .split(',')
                    .map(|entry| ident(entry.trim()))
                    .filter(|s| !s.is_empty() && s != "self")
                    .map(|s| path.iter().cloned().chain([s]).collect())
                    .collect();
            }
            let name = ident(tail);
            if name.is_empty() {
                return vec![path];
            }
            tail = &tail[name.len()..];
            path.push(name);
            match tail.strip_prefix("::") {
                Some(after) => tail = after,
                None => return vec![path],
            }
        }
    };
    let mut paths = Vec::new();
    for (at, _) in line.match_indices("crate::") {
        if !line[..at].chars().last().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            paths.extend(segments(&line[at + "crate::".len()..]));
        }
    }
    for (at, _) in line.match_indices("super::") {
        if line[..at].ends_with("super::") {
            continue; // counted from the first `super::` of the chain
        }
        let mut tail = &line[at..];
        let mut climbs = 0;
        while let Some(after) = tail.strip_prefix("super::") {
            tail = after;
            climbs += 1;
        }
        if climbs <= module.len() {
            let base = &module[..module.len() - climbs];
            paths.extend(segments(tail).into_iter().map(|p| base.iter().cloned().chain(p).collect()));
        }
    }
    paths
}

#[test]
fn no_file_level_import_cycle_inside_a_folder() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let module_of = |file: &Path| -> Vec<String> {
        let mut module: Vec<String> = file
            .strip_prefix(&src)
            .unwrap()
            .iter()
            .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
            .collect();
        if module.last().is_some_and(|m| m == "mod" || m == "lib" || m == "main") {
            module.pop();
        }
        module
    };
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(f)).collect();
    // parent module -> (child -> children of the same parent it imports).
    let mut edges: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in &files {
        let module = module_of(file);
        let text = std::fs::read_to_string(file).unwrap();
        for (_, code) in code_lines(&text).take_while(|(_, code)| code.trim() != "mod tests {") {
            for path in module_paths(code, &module) {
                let common = module.iter().zip(&path).take_while(|(a, b)| a == b).count();
                let (Some(from), Some(to)) = (module.get(common), path.get(common)) else { continue };
                let parent = module[..common].to_vec();
                let target: Vec<String> = parent.iter().cloned().chain([to.clone()]).collect();
                if modules.contains(&target) {
                    edges.entry(parent).or_default().entry(from.clone()).or_default().insert(to.clone());
                }
            }
        }
    }
    let mut cycles = Vec::new();
    for (parent, graph) in &edges {
        // Depth-first search from every child; a child met again on the current path closes a cycle.
        fn visit(
            node: &str,
            graph: &BTreeMap<String, BTreeSet<String>>,
            path: &mut Vec<String>,
            done: &mut BTreeSet<String>,
            cycles: &mut Vec<String>,
        ) {
            if let Some(at) = path.iter().position(|p| p == node) {
                cycles.push(path[at..].iter().chain([&node.to_string()]).cloned().collect::<Vec<_>>().join(" -> "));
                return;
            }
            if !done.insert(node.to_string()) {
                return;
            }
            path.push(node.to_string());
            for next in graph.get(node).into_iter().flatten() {
                visit(next, graph, path, done, cycles);
            }
            path.pop();
        }
        let mut done = BTreeSet::new();
        let mut found = Vec::new();
        for child in graph.keys() {
            visit(child, graph, &mut Vec::new(), &mut done, &mut found);
        }
        cycles.extend(found.into_iter().map(|c| format!("in src/{}: {c}", parent.join("/"))));
    }
    assert!(cycles.is_empty(), "file-level import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_cycle_checker_resolves_paths() {
    let module = |m: &[&str]| m.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let paths =
        module_paths("use super::galerkin::{coarse_diagonal, Rows};", &module(&["solver", "amg", "aggregation"]));
    assert_eq!(
        paths,
        [module(&["solver", "amg", "galerkin", "coarse_diagonal"]), module(&["solver", "amg", "galerkin", "Rows"])]
    );
    let paths = module_paths("use super::{cpu::dot, sparse};", &module(&["solver", "amg"]));
    assert_eq!(paths, [module(&["solver", "cpu"]), module(&["solver", "sparse"])]);
    assert_eq!(module_paths("x = crate::fem::post::f(y);", &module(&["app"])), [module(&["fem", "post", "f"])]);
}
