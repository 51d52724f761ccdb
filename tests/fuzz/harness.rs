// What each fuzz target does with its input; shared by the targets (tests/fuzz/fuzz_targets) and the corpus
// replay in `cargo test` (tests/cli/fuzz_corpus.rs), so both run the same code. Every parser must return Ok or
// Err for any input, never panic.

/// A case file: lines starting with `--set ` are overrides, the rest is the TOML text.
pub fn case(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut toml = String::new();
    let mut overrides = Vec::new();
    for line in text.lines() {
        match line.strip_prefix("--set ") {
            Some(set) => overrides.push(set.to_string()),
            None => {
                toml.push_str(line);
                toml.push('\n');
            }
        }
    }
    let _ = ionflux::case::Case::from_toml_str(&toml, "fuzz.toml", &overrides);
}

/// A quantity with a unit, read as every dimension.
pub fn units(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for dimension in ionflux::case::units::Dimension::ALL {
        let _ = ionflux::case::units::parse_quantity(text, dimension);
    }
    let _ = ionflux::case::units::split_value(text);
}

/// A sweep's `--vary KEY=FROM..TO:N[:log]`.
pub fn vary(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = ionflux::app::sweep::Vary::parse(text);
}

/// A Gmsh MSH file, read into a mesh (format and mesh checks), in metres.
pub fn msh(data: &[u8]) {
    let _ = ionflux::mesh::gmsh::import_bytes(data, 1.0);
}
