//! The README stays true to the code: its case-file reference is the one in `src/case/mod.rs`, and CI runs
//! the test command the README gives.

const README: &str = include_str!("../README.md");
const CASE_MODULE: &str = include_str!("../src/case/mod.rs");
const CI_SCRIPT: &str = include_str!("../.ci/run");

/// The ```toml block of the case module's doc comment.
fn case_reference_in_code() -> String {
    let doc: Vec<&str> =
        CASE_MODULE.lines().filter_map(|l| l.strip_prefix("//!")).map(|l| l.strip_prefix(' ').unwrap_or(l)).collect();
    let doc = doc.join("\n");
    let start = doc.find("```toml\n").expect("the case module documents its keys in a toml block") + 8;
    let end = start + doc[start..].find("```").unwrap();
    doc[start..end].to_string()
}

#[test]
fn readme_case_reference_is_the_code_reference() {
    let reference = case_reference_in_code();
    assert!(reference.lines().count() > 50, "the reference lists every section");
    assert!(
        README.contains(&reference),
        "README.md's case reference differs from src/case/mod.rs; run `python3 .ci/sync_readme.py .`"
    );
}

#[test]
fn ci_runs_the_readme_test_command() {
    let ci_command = CI_SCRIPT.lines().rev().find(|l| !l.trim().is_empty() && !l.starts_with('#')).unwrap().trim();
    assert_eq!(ci_command, "cargo test --release");
    assert!(README.contains(&format!("\n{ci_command}")), "the README shows `{ci_command}`");
    assert!(CI_SCRIPT.contains("IONFLUX_REQUIRE_GPU=1") && CI_SCRIPT.contains("mesa-vulkan-drivers"));
}
