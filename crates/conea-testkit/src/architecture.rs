//! The workspace's shape, checked: the crate graph points one way (a feature crate never
//! depends on the store, the server or the binary; the kernel on nothing), and no crate has a
//! module circle (two sibling modules that reach each other, directly or around a loop).
//!
//! Modules are read from the source files: `src/a.rs` and `src/a/mod.rs` are module `a`,
//! `src/a/b.rs` is `a::b`. A file's edges are the `crate::…` and `super::…` paths it names
//! (in `use` items or inline), resolved to the deepest module that exists. An edge between a
//! module and its own ancestor or descendant is structure (`mod` and `pub use` of children,
//! `super::` of a parent), not a circle; every other edge is lifted to the two siblings under
//! the common parent, and those sibling graphs must have no cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each workspace crate with the workspace crates its `[dependencies]` may name.
pub const CRATE_LAYERS: &[(&str, &[&str])] = &[
    ("conea-core", &[]),
    ("conea-jobs", &["conea-core"]),
    ("conea-shopdata", &["conea-core", "conea-jobs"]),
    ("conea-ai", &["conea-core", "conea-jobs", "conea-shopdata"]),
    ("conea-incidents", &["conea-core", "conea-jobs"]),
    (
        "conea-shopify",
        &["conea-core", "conea-jobs", "conea-shopdata"],
    ),
    (
        "conea-insights",
        &["conea-core", "conea-jobs", "conea-shopdata", "conea-ai"],
    ),
    // Schedules deliver the insights digest, so they sit above insights.
    (
        "conea-schedules",
        &[
            "conea-core",
            "conea-jobs",
            "conea-shopdata",
            "conea-incidents",
            "conea-insights",
        ],
    ),
    (
        "conea-store",
        &[
            "conea-core",
            "conea-jobs",
            "conea-shopdata",
            "conea-ai",
            "conea-incidents",
            "conea-shopify",
            "conea-schedules",
            "conea-insights",
        ],
    ),
    (
        "conea-server",
        &[
            "conea-core",
            "conea-jobs",
            "conea-shopdata",
            "conea-ai",
            "conea-incidents",
            "conea-shopify",
            "conea-schedules",
            "conea-insights",
            "conea-store",
        ],
    ),
    (
        "conea",
        &[
            "conea-core",
            "conea-jobs",
            "conea-shopdata",
            "conea-ai",
            "conea-incidents",
            "conea-shopify",
            "conea-schedules",
            "conea-insights",
            "conea-store",
            "conea-server",
        ],
    ),
    (
        "conea-testkit",
        &[
            "conea-core",
            "conea-jobs",
            "conea-shopdata",
            "conea-ai",
            "conea-incidents",
            "conea-shopify",
            "conea-schedules",
            "conea-insights",
            "conea-store",
            "conea-server",
        ],
    ),
];

/// The workspace crates named in the `[dependencies]` table of a `Cargo.toml` text.
pub fn workspace_dependencies(manifest: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut in_deps = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if !in_deps {
            continue;
        }
        let name = line.split(['=', '.', ' ']).next().unwrap_or("");
        if name.starts_with("conea") {
            out.insert(name.to_string());
        }
    }
    out
}

/// A module path inside one crate (`[]` is the crate root).
type ModPath = Vec<String>;

/// The module a source file defines, from its path under `src/`.
fn module_of(rel: &Path) -> ModPath {
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let Some(last) = parts.pop() else {
        return Vec::new();
    };
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Strips `//` comments and string literals' contents (paths in doc text or messages are
/// not imports), and the file's unit tests (`#[cfg(test)] mod …` to the end of the file:
/// tests may use fixtures from anywhere in their crate).
fn code_only(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut lines = source.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            break;
        }
        let mut in_str = false;
        let mut prev = ' ';
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if !in_str && c == '/' && chars.peek() == Some(&'/') {
                break;
            }
            if c == '"' && prev != '\\' {
                in_str = !in_str;
                out.push(c);
            } else if !in_str {
                out.push(c);
            }
            prev = c;
        }
        out.push('\n');
    }
    out
}

/// The module paths a file names through `crate::` or `super::` (one per `use` group item).
fn named_paths(code: &str, here: &ModPath) -> Vec<ModPath> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(pos) = code[from..].find(start) {
            let at = from + pos;
            from = at + start.len();
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || b"_$".contains(&bytes[at - 1])) {
                continue;
            }
            // The base: `crate` is the root; each `super` goes up one from the file's module
            // (`a/mod.rs` is module `a`, whose super is the root; `a/b.rs` is `a::b`).
            let mut base: ModPath = if start == "crate::" {
                Vec::new()
            } else {
                let mut m = here.clone();
                m.pop();
                m
            };
            let mut rest = &code[from..];
            while let Some(r) = rest.strip_prefix("super::") {
                base.pop();
                rest = r;
            }
            for tail in path_tails(rest) {
                let mut p = base.clone();
                p.extend(tail);
                out.push(p);
            }
        }
    }
    out
}

/// The segment lists after a `crate::`: `a::b::C` → `[[a, b, C]]`, `{a::X, b}` → `[[a, X], [b]]`.
fn path_tails(rest: &str) -> Vec<Vec<String>> {
    let rest = rest.trim_start();
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 1;
        let mut end = group.len();
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let inner = &group[..end];
        let mut items = Vec::new();
        let (mut depth, mut last) = (0, 0);
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&inner[last..i]);
                    last = i + 1;
                }
                _ => {}
            }
        }
        items.push(&inner[last..]);
        return items
            .into_iter()
            .flat_map(|item| {
                let first: Vec<String> = segments(item);
                if item.contains('{') {
                    let prefix_len = item.find('{').unwrap_or(item.len());
                    let prefix = segments(&item[..prefix_len]);
                    path_tails(&item[prefix_len..])
                        .into_iter()
                        .map(|t| prefix.iter().cloned().chain(t).collect())
                        .collect::<Vec<_>>()
                } else {
                    vec![first]
                }
            })
            .filter(|t: &Vec<String>| !t.is_empty())
            .collect();
    }
    vec![segments(rest)]
}

fn segments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for seg in text.trim().split("::") {
        let ident: String = seg
            .trim()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if ident.is_empty() || ident == "self" {
            break;
        }
        out.push(ident);
        if !seg
            .trim()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            break;
        }
    }
    out
}

/// Every module circle of the crate whose `src/` is `src`, each as its sibling modules.
pub fn module_circles(src: &Path) -> Vec<Vec<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut modules: BTreeSet<ModPath> = BTreeSet::new();
    let mut sources = Vec::new();
    for file in &files {
        let Ok(rel) = file.strip_prefix(src) else {
            continue;
        };
        let module = module_of(rel);
        // A file outside the module tree (`bin/x.rs`) is a root of its own, and a `tests.rs`
        // is a unit-test module: skip both.
        if rel.starts_with("bin") || rel.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        modules.insert(module.clone());
        if let Ok(text) = std::fs::read_to_string(file) {
            sources.push((module, text));
        }
    }
    // Sibling edges, per parent.
    let mut graphs: BTreeMap<ModPath, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (module, text) in &sources {
        for path in named_paths(&code_only(text), module) {
            let mut target = path;
            while !target.is_empty() && !modules.contains(&target) {
                target.pop();
            }
            let common = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if common == module.len() || common == target.len() {
                continue; // ancestor or descendant: structure, not a circle
            }
            graphs
                .entry(module[..common].to_vec())
                .or_default()
                .entry(module[common].clone())
                .or_default()
                .insert(target[common].clone());
        }
    }
    let mut circles = Vec::new();
    for (parent, graph) in graphs {
        for scc in strongly_connected(&graph) {
            if scc.len() > 1 {
                circles.push(
                    scc.into_iter()
                        .map(|m| {
                            let mut p = parent.clone();
                            p.push(m);
                            p.join("::")
                        })
                        .collect(),
                );
            }
        }
    }
    circles
}

/// Tarjan's strongly connected components.
fn strongly_connected(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        if let Some(targets) = graph.get(v) {
            for w in targets {
                let w = w.as_str();
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let lw = s.low[w];
                    let lv = s.low[v];
                    s.low.insert(v, lv.min(lw));
                } else if s.on_stack.contains(w) {
                    let iw = s.index[w];
                    let lv = s.low[v];
                    s.low.insert(v, lv.min(iw));
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                scc.push(w.to_string());
                if w == v {
                    break;
                }
            }
            scc.sort();
            s.out.push(scc);
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v.as_str());
        }
    }
    s.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn crate_dirs() -> Vec<(String, PathBuf)> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(workspace().join("crates"))
            .unwrap()
            .flatten()
        {
            let manifest = entry.path().join("Cargo.toml");
            if manifest.exists() {
                out.push((
                    entry.file_name().to_string_lossy().into_owned(),
                    entry.path(),
                ));
            }
        }
        out.sort();
        out
    }

    #[test]
    fn every_crate_depends_only_on_the_crates_below_it() {
        let mut wrong = Vec::new();
        let dirs = crate_dirs();
        assert!(dirs.len() >= 10, "found the workspace's crates: {dirs:?}");
        for (name, dir) in dirs {
            let Some((_, allowed)) = CRATE_LAYERS.iter().find(|(n, _)| *n == name) else {
                panic!("crate {name} has no row in CRATE_LAYERS: give it its place");
            };
            let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
            for dep in workspace_dependencies(&manifest) {
                if !allowed.contains(&dep.as_str()) {
                    wrong.push(format!("{name} → {dep}"));
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "dependencies against the layering: {wrong:?}"
        );
    }

    #[test]
    fn no_crate_has_a_module_circle() {
        let mut found = Vec::new();
        for (name, dir) in crate_dirs() {
            for circle in module_circles(&dir.join("src")) {
                found.push(format!("{name}: {}", circle.join(" ↔ ")));
            }
        }
        assert!(found.is_empty(), "module circles: {found:#?}");
    }

    #[test]
    fn a_wrong_way_dependency_is_named() {
        let manifest = "[package]\nname = \"x\"\n\n[dependencies]\nconea-core.workspace = true\n\
                        conea-store = { path = \"../conea-store\" }\nserde = \"1\"\n\n\
                        [dev-dependencies]\nconea-testkit.workspace = true\n";
        let deps = workspace_dependencies(manifest);
        assert_eq!(
            deps.into_iter().collect::<Vec<_>>(),
            vec!["conea-core".to_string(), "conea-store".to_string()],
            "dev-dependencies do not count; both forms of a dependency line do"
        );
    }

    #[test]
    fn a_circle_between_sibling_modules_is_found_and_parent_child_edges_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path();
        let write = |p: &str, text: &str| {
            let path = src.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write(
            "lib.rs",
            "pub mod a;\npub mod b;\npub mod c;\npub mod net;\npub use a::A;\n",
        );
        write("a.rs", "use crate::b::B;\npub struct A;\n");
        write("b.rs", "use crate::{c::C, a};\npub struct B;\n");
        write(
            "c.rs",
            "// use crate::a::A;  (a comment is not an import)\nconst S: &str = \"crate::a\";\n\
             pub struct C;\n#[cfg(test)]\nmod tests {\n    use crate::b::B;\n}\n",
        );
        write("net/mod.rs", "pub mod x;\npub mod y;\npub use x::X;\n");
        write(
            "net/x.rs",
            "use super::y::Y;\nuse super::X as _;\npub struct X;\n",
        );
        write("net/y.rs", "pub struct Y;\n");
        assert_eq!(
            module_circles(src),
            vec![vec!["a".to_string(), "b".to_string()]],
            "a ↔ b is a circle; c names a only in a comment and a string, and b only in its unit tests; net's children reach each other one way and their parent"
        );
        write("net/y.rs", "use super::super::net::x;\npub struct Y;\n");
        assert_eq!(
            module_circles(src).len(),
            2,
            "net::x ↔ net::y through super::super"
        );
    }
}
