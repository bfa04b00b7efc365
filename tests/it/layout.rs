//! The binary crate's layout, checked: which top-level module of `src/`
//! may name which (ARCHITECTURE.md draws the same table), that no cycle
//! exists between them, and that admin API paths are spelled only by the
//! router and the client. Read from the source text, so a new `use` that
//! breaks a direction fails here rather than in a reviewer's head.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module and the modules it may name. `cli` is the
/// command line and may name anything; nothing names `cli`, and only
/// `cli` names `http`.
const ALLOWED: &[(&str, &[&str])] = &[
    ("config", &[]),
    ("telemetry", &[]),
    ("net", &["telemetry"]),
    ("engine", &["config", "telemetry"]),
    ("directory", &["engine", "telemetry"]),
    ("ops", &["engine", "directory", "config"]),
    (
        "http",
        &["engine", "directory", "ops", "config", "telemetry", "net"],
    ),
    ("remote", &["config", "directory", "ops", "engine"]),
    (
        "cluster",
        &["engine", "config", "remote", "telemetry", "net"],
    ),
    ("bench", &["ops", "engine", "config"]),
    (
        "cli",
        &[
            "config",
            "engine",
            "directory",
            "ops",
            "http",
            "remote",
            "cluster",
            "bench",
            "telemetry",
            "net",
        ],
    ),
];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("reading src/") {
        let path = entry.expect("reading src/").path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/http/dav/read.rs` →
/// `http`); `None` for the crate root files.
fn module_of(file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src_dir()).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    match first {
        "lib.rs" | "main.rs" => None,
        name => Some(name.trim_end_matches(".rs").to_string()),
    }
}

/// The source without comments and without its `#[cfg(test)]` module:
/// unit tests may reach wherever they need to.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules named by `crate::a::…` and `crate::{a::…, b}`.
fn named_modules(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Only the first segment of each top-level item of the group.
            let mut depth = 0;
            let mut item_start = true;
            let mut word = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        if !word.is_empty() {
                            names.insert(std::mem::take(&mut word));
                        }
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if c.is_alphanumeric() || c == '_' => {
                        if item_start {
                            word.push(c);
                        }
                        continue;
                    }
                    _ => {}
                }
                if !word.is_empty() {
                    names.insert(std::mem::take(&mut word));
                    item_start = false;
                }
            }
        } else {
            let word: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.insert(word);
        }
    }
    names
}

fn edges() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("reading a source file");
        let named = named_modules(&code_of(&text));
        let entry = edges.entry(module.clone()).or_default();
        entry.extend(named.into_iter().filter(|n| *n != module && n != "self"));
    }
    edges
}

#[test]
fn every_module_names_only_the_modules_below_it() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for (module, named) in edges() {
        let Some(may) = allowed.get(module.as_str()) else {
            wrong.push(format!(
                "{module}: a top-level module the table in tests/it/layout.rs does not know"
            ));
            continue;
        };
        for name in named {
            if allowed.contains_key(name.as_str()) && !may.contains(&name.as_str()) {
                wrong.push(format!("{module} names {name}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependency directions broken:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_cycle_between_top_level_modules() {
    let edges = edges();
    // Kahn's algorithm: what remains after removing every module with no
    // remaining dependency is on a cycle.
    let mut remaining: BTreeMap<String, BTreeSet<String>> = edges
        .iter()
        .map(|(m, named)| {
            let deps = named
                .iter()
                .filter(|n| edges.contains_key(*n))
                .cloned()
                .collect();
            (m.clone(), deps)
        })
        .collect();
    loop {
        let free: Vec<String> = remaining
            .iter()
            .filter(|(_, deps)| deps.is_empty())
            .map(|(m, _)| m.clone())
            .collect();
        if free.is_empty() {
            break;
        }
        for m in &free {
            remaining.remove(m);
        }
        for deps in remaining.values_mut() {
            for m in &free {
                deps.remove(m);
            }
        }
    }
    assert!(remaining.is_empty(), "modules on a cycle: {remaining:?}");
}

#[test]
fn admin_paths_are_spelled_by_the_router_and_the_client_only() {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let mut elsewhere = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src_dir()).expect("a file under src/");
        let spellers = ["http", "remote"];
        if relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .is_some_and(|first| spellers.contains(&first))
        {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("reading a source file");
        for line in code_of(&text).lines() {
            if line.contains("/admin/v1") {
                elsewhere.push(format!("{}: {}", relative.display(), line.trim()));
            }
        }
    }
    assert!(
        elsewhere.is_empty(),
        "/admin/v1 spelled outside http/ and remote/:\n{}",
        elsewhere.join("\n")
    );
}

#[test]
fn the_reader_of_use_lines_reads_groups() {
    let named = named_modules(
        "use crate::{engine::{Engine, X}, config};\nlet x = crate::ops::log::wire::T;",
    );
    assert_eq!(
        named.into_iter().collect::<Vec<_>>(),
        ["config", "engine", "ops"]
    );
}
