//! The layer map of `src/lib.rs` holds: no module of `src/` names (`crate::x`) a module of a
//! later layer. The order is read from lib.rs's own doc comment (the lines after "Layers"),
//! so the map and this check cannot drift apart; every top-level module must appear in it.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The layer index of every module named in lib.rs's map: `a -> {b, c} -> d` gives a = 0,
/// b = c = 1, d = 2; the commands line (`run -> limit -> ...`, "and `bench`") continues the
/// count above the last layer.
fn layer_map() -> BTreeMap<String, usize> {
    let lib = fs::read_to_string("src/lib.rs").expect("src/lib.rs");
    let start = lib
        .find("Layers, each using only those to its left:")
        .expect("lib.rs states its layers");
    let mut map = BTreeMap::new();
    let mut next = 0;
    // The two code spans after the heading: the layers, then the commands above them.
    for span in lib[start..].split('`').skip(1).step_by(2).take(3) {
        if !span.contains("->") && map.is_empty() {
            continue;
        }
        for layer in span.split("->") {
            let names: Vec<&str> = layer
                .trim()
                .trim_matches(|c| c == '{' || c == '}')
                .split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .collect();
            if names.is_empty() {
                continue;
            }
            for name in names {
                map.insert(name.to_string(), next);
            }
            next += 1;
        }
    }
    map
}

/// The `.rs` files of module `name`: src/name.rs and everything under src/name/.
fn module_files(name: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let single = PathBuf::from(format!("src/{name}.rs"));
    if single.exists() {
        files.push(single);
    }
    let mut stack = vec![PathBuf::from(format!("src/{name}"))];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The top-level modules `crate::x` named in the code of `path` (comments left out), with
/// the line of each mention.
fn mentions(path: &Path) -> Vec<(String, usize)> {
    let text = fs::read_to_string(path).expect("readable source");
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let code = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // `crate::{a, b}` groups are not used in this code base; a name is required.
            assert!(
                !name.is_empty(),
                "{}:{}: write `use crate::module::...`, one module per path, so that the layer check sees it",
                path.display(),
                number + 1
            );
            found.push((name, number + 1));
            rest = &after[1..];
        }
    }
    found
}

#[test]
fn no_module_imports_a_later_layer() {
    let map = layer_map();
    assert!(
        map.len() > 10,
        "the layer map of lib.rs was not read: {map:?}"
    );
    let lib = fs::read_to_string("src/lib.rs").unwrap();
    let mut violations = Vec::new();
    for line in lib.lines() {
        let Some(name) = line
            .trim()
            .strip_prefix("pub mod ")
            .and_then(|rest| rest.strip_suffix(';'))
        else {
            continue;
        };
        let Some(&layer) = map.get(name) else {
            violations.push(format!("module `{name}` is not in lib.rs's layer map"));
            continue;
        };
        for file in module_files(name) {
            for (used, line) in mentions(&file) {
                if used == name || used == "Error" || used == "Result" {
                    continue;
                }
                match map.get(&used) {
                    Some(&other) if other > layer => violations.push(format!(
                        "{}:{line}: `{name}` (layer {layer}) uses `{used}` (layer {other})",
                        file.display()
                    )),
                    Some(_) => {}
                    None => violations.push(format!(
                        "{}:{line}: `{used}` is not in lib.rs's layer map",
                        file.display()
                    )),
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports that run upward (order of src/lib.rs):\n{}",
        violations.join("\n")
    );
}

/// The check sees an upward import: a negative control on a made-up file.
#[test]
fn an_upward_import_is_seen() {
    let dir = std::env::temp_dir().join(format!("meanfield-layers-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("probe.rs");
    fs::write(
        &file,
        "// crate::gallery in a comment is ignored\nuse crate::gallery::Entry;\nlet x = crate::math::Network::new(); // crate::sweep\n",
    )
    .unwrap();
    let found = mentions(&file);
    fs::remove_dir_all(&dir).ok();
    assert_eq!(
        found,
        vec![("gallery".to_string(), 2), ("math".to_string(), 3)]
    );
    let map = layer_map();
    assert!(map["math"] < map["task"] && map["task"] < map["gallery"]);
}
