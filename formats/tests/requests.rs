//! WebDAV request bodies as fixture files: each
//! `fixtures/requests/<case>.xml` is parsed by the parser its name starts
//! with, and the result, `Ok` or `Err`, in its `{:#?}` form, must equal
//! `<case>.parsed` beside it.
//!
//! On a mismatch the test writes what it got to `<case>.actual` (for the
//! developer to look at, and to rename to `.parsed` when the change is
//! meant) and fails with a line diff. It never writes the expected file.

use reprise_formats as formats;

use formats::calfilter::{parse_calendar_query, parse_free_busy_query};
use formats::cardfilter::parse_addressbook_query;
use formats::xml::{self, Element};
use std::fmt::Debug;
use std::path::{Path, PathBuf};

/// A parser, from the body to its result shown.
type Parser = fn(&[u8]) -> String;

/// The parser a case's name picks by its prefix.
const PARSERS: &[(&str, Parser)] = &[
    ("addressbook-query-", |b| {
        on_tree(b, parse_addressbook_query)
    }),
    ("calendar-query-", |b| on_tree(b, parse_calendar_query)),
    ("free-busy-query-", |b| on_tree(b, parse_free_busy_query)),
    ("mkcalendar-", |b| shown(xml::parse_mkcalendar(b))),
    ("mkcol-", |b| shown(xml::parse_mkcol(b))),
    ("principal-search-", |b| {
        on_tree(b, xml::parse_principal_property_search)
    }),
    ("propfind-", |b| shown(xml::parse_propfind(b))),
    ("proppatch-", |b| shown(xml::parse_proppatch(b))),
    ("report-", |b| shown(xml::parse_report(b))),
    ("share-", |b| shown(xml::parse_share(b))),
    ("tree-", |b| shown(xml::parse(b))),
];

fn shown<T: Debug, E: Debug>(result: Result<T, E>) -> String {
    format!("{result:#?}\n")
}

/// The REPORT parsers that take the tree: a body that is not even XML
/// shows the tree's error.
fn on_tree<T: Debug, E: Debug>(body: &[u8], parse: impl Fn(&Element) -> Result<T, E>) -> String {
    match xml::parse(body) {
        Ok(root) => shown(parse(&root)),
        Err(e) => shown::<T, _>(Err(e)),
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/requests")
}

/// The cases, sorted, as (name, path of the body).
fn cases() -> Vec<(String, PathBuf)> {
    let dir = fixtures();
    let mut cases: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("reading the fixtures directory").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "xml"))
        .map(|path| {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("fixture names are UTF-8")
                .to_string();
            (name, path)
        })
        .collect();
    cases.sort();
    cases
}

/// A line diff, small and dependency-free: `-` expected, `+` actual, from
/// the first differing line to the last, with the common head and tail
/// left out.
fn diff(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let head = e.iter().zip(&a).take_while(|(x, y)| x == y).count();
    let tail = e[head..]
        .iter()
        .rev()
        .zip(a[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let mut out = format!("@@ line {} @@\n", head + 1);
    for line in &e[head..e.len() - tail] {
        out.push_str(&format!("-{line}\n"));
    }
    for line in &a[head..a.len() - tail] {
        out.push_str(&format!("+{line}\n"));
    }
    out
}

#[test]
fn every_request_fixture_parses_as_expected() {
    let cases = cases();
    assert!(!cases.is_empty(), "no fixtures in {}", fixtures().display());
    let mut failures = Vec::new();
    for (name, path) in &cases {
        let Some((_, parse)) = PARSERS.iter().find(|(prefix, _)| name.starts_with(prefix)) else {
            failures.push(format!("{name}: no parser for this name's prefix"));
            continue;
        };
        let body = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let actual = parse(&body);
        let expected_path = path.with_extension("parsed");
        let actual_path = path.with_extension("actual");
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) if expected == actual => {
                let _ = std::fs::remove_file(&actual_path);
            }
            expected => {
                let _ = std::fs::write(&actual_path, &actual);
                failures.push(match expected {
                    Ok(expected) => format!(
                        "{name}: parsed differently (got {}):\n{}",
                        actual_path.display(),
                        diff(&expected, &actual)
                    ),
                    Err(e) => format!(
                        "{name}: no {} ({e}); got {}",
                        expected_path.display(),
                        actual_path.display()
                    ),
                });
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
