//! Replays the committed fuzz corpus (tests/fuzz/corpus/<target>/, grown by `cargo fuzz`) through the same
//! harness the fuzz targets run: the case parser with overrides, the unit parser, the `--vary` parser and the Gmsh MSH
//! reader must return for every input, never panic.

#[path = "../fuzz/harness.rs"]
mod harness;

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/corpus").join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        run(&std::fs::read(&path).unwrap());
        count += 1;
    }
    count
}

#[test]
fn the_fuzz_corpus_replays_without_a_panic() {
    for (target, run) in [
        ("case", harness::case as fn(&[u8])),
        ("units", harness::units),
        ("vary", harness::vary),
        ("msh", harness::msh),
    ] {
        let count = replay(target, run);
        println!("{target}: {count} inputs");
        assert!(count > 0, "no corpus for {target}");
    }
}
