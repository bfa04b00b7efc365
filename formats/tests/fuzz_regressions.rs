//! Every input a fuzz target (`fuzz/`) found a crash, hang or memory
//! blow-up with, kept in `fixtures/fuzz/<target>/`, runs through what
//! that target runs and must come back, an error being a fine answer.
//! `fuzz/README.md` says how a finding becomes a file here.

use reprise_formats as formats;

use formats::ical::time::{extent, Zones};
use formats::ical::tree::{parse_tree, TreeScope};
use formats::ical::{split_calendar_export, validate_calendar_object, validate_calendar_tree};
use std::path::{Path, PathBuf};

/// The findings of one target, sorted by name.
fn findings(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/fuzz")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("a finding");
            (path, bytes)
        })
        .collect()
}

/// What `fuzz/fuzz_targets/ical.rs` runs.
fn ical(text: &str) {
    let _ = validate_calendar_object(text);
    if let Ok((_, occurrences)) = validate_calendar_tree(text, TreeScope::Occurrences) {
        let _ = extent(&occurrences, &Zones::new(&occurrences, None), 32);
    }
    if let Ok(tree) = parse_tree(text) {
        let _ = tree.to_text();
    }
    let _ = split_calendar_export(text);
}

#[test]
fn ical_findings_are_answered() {
    let found = findings("ical");
    assert!(!found.is_empty());
    for (path, bytes) in found {
        let text = std::str::from_utf8(&bytes).expect("UTF-8");
        ical(text);
        println!("{}: answered", path.display());
    }
}
