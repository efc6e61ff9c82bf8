//! The layers point one way (README, "Where things are"):
//! `api` → `service` → `domain` / `audit` / `export` → `db`.
//! Each rule names a folder of `src/` and the paths no file in it may name.

use std::path::{Path, PathBuf};

/// (folder, what its files may not name, why).
const RULES: &[(&str, &[&str], &str)] = &[
    (
        "api",
        &["crate::db", "crate::app"],
        "handlers reach the database through a use case in service/",
    ),
    (
        "webhooks",
        &["crate::db", "crate::app", "crate::api", "crate::ui"],
        "the delivery worker reaches the database through use cases in service/",
    ),
    (
        "ui",
        &["crate::db", "crate::app"],
        "pages reach the database through a use case in service/",
    ),
    (
        "service",
        &["crate::api", "crate::app", "crate::ui"],
        "use cases know no face",
    ),
    (
        "auth",
        &["crate::api", "crate::app", "crate::ui"],
        "who the caller is knows no face",
    ),
    (
        "domain",
        &[
            "crate::api",
            "crate::app",
            "crate::service",
            "crate::db",
            "crate::audit",
            "crate::export",
            "crate::auth",
            "actix_web",
            "diesel",
            "serde_json",
            "utoipa",
        ],
        "rules are plain functions: no HTTP, no SQL, no wire format",
    ),
    (
        "audit",
        &["crate::api", "crate::app", "crate::service"],
        "the log knows no use case or face",
    ),
    (
        "export",
        &["crate::api", "crate::app", "crate::service"],
        "exports know no use case or face",
    ),
    (
        "witness",
        &["crate::api", "crate::app", "crate::service"],
        "the witness server is its own program beside the service",
    ),
    (
        "db",
        &[
            "crate::api",
            "crate::app",
            "crate::service",
            "crate::export",
        ],
        "the database layer is the bottom",
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The lines of `source` that name `forbidden` as a path (in a `use`, or
/// written out in code), comments left aside.
fn offending_lines(source: &str, forbidden: &str) -> Vec<usize> {
    source
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            let code = line.split("//").next().unwrap_or("");
            code.match_indices(forbidden).any(|(i, _)| {
                let before = code[..i].chars().next_back();
                let after = code[i + forbidden.len()..].chars().next();
                let starts = !before.is_some_and(|c| c.is_alphanumeric() || c == '_');
                let ends = !after.is_some_and(|c| c.is_alphanumeric() || c == '_');
                starts && ends
            })
        })
        .map(|(n, _)| n + 1)
        .collect()
}

#[test]
fn layers_point_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut broken = Vec::new();
    for (folder, forbidden, why) in RULES {
        let mut files = Vec::new();
        rust_files(&src.join(folder), &mut files);
        assert!(!files.is_empty(), "src/{folder} holds no Rust file");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for name in *forbidden {
                for line in offending_lines(&text, name) {
                    broken.push(format!(
                        "{}:{line} names {name} ({why})",
                        file.strip_prefix(&src).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

#[test]
fn the_check_sees_a_path_in_use_and_in_code_but_not_in_comments() {
    assert_eq!(offending_lines("use crate::db::users;", "crate::db"), [1]);
    assert_eq!(
        offending_lines("let x = crate::db::now();", "crate::db"),
        [1]
    );
    assert_eq!(offending_lines("use crate::db;", "crate::db"), [1]);
    assert!(offending_lines("// see crate::db", "crate::db").is_empty());
    assert!(offending_lines("use crate::dbx::y;", "crate::db").is_empty());
    assert_eq!(offending_lines("use actix_web::web;", "actix_web"), [1]);
    assert!(offending_lines("use actix_web_lab::x;", "actix_web").is_empty());
}
