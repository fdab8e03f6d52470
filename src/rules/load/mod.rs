//! Reading a rules file or directory into a [`RuleSet`], reporting every problem.
//!
//! Loading is a list of named passes, because later sections refer to earlier
//! ones: each file's YAML (`documents`), then `${...}` (`interpolate`), then the
//! top-level keys (`top`), `fields` (`declared`, giving the order type) and
//! `currency_rates` (`rates`), then `channels` (names, roles, `deliver`, routes),
//! then `rules` and `tests` (which name channels and compile expressions against
//! the order type). Each pass reports every problem it finds into the one
//! [`Ctx`](ctx::Ctx), and keeps going; the rules load only if none was found.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{RuleError, RuleSet, SourceFile};
use crate::order::order_type_with;
use ctx::{Ctx, process_env};

mod attributes;
mod channels;
mod connector;
mod ctx;
mod declared;
mod deliver;
mod documents;
mod interpolate;
mod label;
mod rates;
mod read;
mod routes;
mod rules;
mod schema;
mod tests;
mod top;

pub use channels::parse_schedule;
pub use ctx::LoadOptions;
pub use read::parse_duration;

/// Loads a rules file, or every `*.yaml` file in a directory, with the process environment.
pub fn load(path: &Path) -> Result<RuleSet, Vec<RuleError>> {
    load_with(path, &LoadOptions { env: &process_env })
}

/// Loads a rules file or directory.
pub fn load_with(path: &Path, opts: &LoadOptions) -> Result<RuleSet, Vec<RuleError>> {
    let shown = path.display().to_string();
    let fail = |message: String| {
        vec![RuleError {
            file: shown.clone(),
            line: 0,
            column: 0,
            width: 0,
            message,
            hint: None,
            source_line: String::new(),
        }]
    };
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    if path.is_dir() {
        let entries =
            std::fs::read_dir(path).map_err(|e| fail(format!("cannot read directory: {e}")))?;
        let mut names: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && p.extension().is_some_and(|x| x == "yaml" || x == "yml")
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        names.sort();
        if names.is_empty() {
            return Err(fail(
                "no `*.yaml` rules files in this directory".to_string(),
            ));
        }
        for p in names {
            files.push((p.display().to_string(), p));
        }
    } else {
        files.push((shown.clone(), path.to_path_buf()));
        if let Some(stem) = path.file_stem().and_then(|s| s.to_str())
            && !stem.ends_with(".test")
        {
            let beside = path.with_file_name(format!("{stem}.test.yaml"));
            if beside.is_file() {
                files.push((beside.display().to_string(), beside));
            }
        }
    }
    let mut sources = Vec::new();
    for (name, p) in &files {
        match std::fs::read_to_string(p) {
            Ok(text) => sources.push(SourceFile {
                name: name.clone(),
                text,
            }),
            Err(e) => {
                let mut err = fail(format!("cannot read rules: {e}"));
                err[0].file = name.clone();
                return Err(err);
            }
        }
    }
    let base = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    build(sources, &base, opts)
}

/// Loads rules from files already read (a version kept in the store), with
/// `${ENV}` from the process and `${file:}` paths relative to `base`.
pub fn load_sources(sources: Vec<SourceFile>, base: &Path) -> Result<RuleSet, Vec<RuleError>> {
    build(sources, base, &LoadOptions { env: &process_env })
}

/// Loads rules from text, as if read from a file called `name`.
pub fn load_str(name: &str, text: &str, opts: &LoadOptions) -> Result<RuleSet, Vec<RuleError>> {
    build(
        vec![SourceFile {
            name: name.to_string(),
            text: text.to_string(),
        }],
        Path::new("."),
        opts,
    )
}

/// Runs the passes in order over `sources`.
fn build(
    sources: Vec<SourceFile>,
    base: &Path,
    opts: &LoadOptions,
) -> Result<RuleSet, Vec<RuleError>> {
    let mut cx = Ctx {
        errors: Vec::new(),
        raw: Vec::new(),
        warnings: Vec::new(),
        opts,
        base,
    };
    let mut docs = documents::parse(&mut cx, &sources);
    if !cx.errors.is_empty() {
        return Err(finish(cx.errors));
    }
    documents::check_repeats(&mut cx, &docs);
    interpolate::all(&mut cx, &mut docs);
    let tops = top::check(&mut cx, &docs);
    let declared = declared::declared(&mut cx, &docs, &tops);
    let order_type = order_type_with(&declared);
    let rates = rates::rates(&mut cx, &docs, &tops);
    let decls = channels::declare(&mut cx, &docs, &tops);
    let names: Vec<String> = decls.iter().map(|d| d.key.name.clone()).collect();
    let (mut channels, route_nodes) = channels::read(&mut cx, &docs, &decls, &order_type);
    routes::resolve(&mut cx, &docs, &decls, &route_nodes, &mut channels, &names);
    rules::read(
        &mut cx,
        &docs,
        &tops,
        &mut channels,
        &names,
        &order_type,
        &rates,
    );
    let tests = tests::read(&mut cx, &docs, &tops, &channels, &names);
    if !cx.errors.is_empty() {
        return Err(finish(cx.errors));
    }
    Ok(RuleSet {
        version: Arc::from(version(&sources).as_str()),
        files: sources,
        channels,
        fields: declared,
        order_type,
        rates,
        tests,
        warnings: cx.warnings,
    })
}

/// The rules' version: a hash of every file's name and text, in name order.
fn version(sources: &[SourceFile]) -> String {
    let mut hasher = Sha256::new();
    let mut ordered: Vec<&SourceFile> = sources.iter().collect();
    ordered.sort_by(|a, b| a.name.cmp(&b.name));
    for s in ordered {
        let file = Path::new(&s.name)
            .file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default();
        hasher.update(file.as_bytes());
        hasher.update([0]);
        hasher.update(s.text.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Sorts errors by place and drops repeats.
fn finish(mut errors: Vec<RuleError>) -> Vec<RuleError> {
    errors.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    errors.dedup();
    errors
}
