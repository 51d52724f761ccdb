//! The README stays true to the code: its case-file reference is `src/case/reference.toml`, and CI runs
//! the test command the README gives.

const README: &str = include_str!("../../README.md");
const CASE_REFERENCE: &str = include_str!("../../src/case/reference.toml");
const CI_SCRIPT: &str = include_str!("../../.ci/run");

#[test]
fn readme_case_reference_is_the_code_reference() {
    let reference = CASE_REFERENCE;
    assert!(reference.lines().count() > 50, "the reference lists every section");
    assert!(
        README.contains(reference),
        "README.md's case reference differs from src/case/reference.toml; run `python3 .ci/sync_readme.py .`"
    );
}

#[test]
fn ci_runs_the_readme_test_command() {
    let ci_command = CI_SCRIPT.lines().rev().find(|l| !l.trim().is_empty() && !l.starts_with('#')).unwrap().trim();
    assert_eq!(ci_command, "cargo test --release");
    assert!(README.contains(&format!("\n{ci_command}")), "the README shows `{ci_command}`");
    assert!(CI_SCRIPT.contains("IONFLUX_REQUIRE_GPU=1") && CI_SCRIPT.contains("mesa-vulkan-drivers"));
}
