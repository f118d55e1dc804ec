//! The layering the build checks: reads `src/`, builds the graph of
//! `crate::…` (and `super::…`) references between top-level modules, and
//! fails on any cycle, and on `protocol/` (the pure bottom layer) reaching
//! any other module of the crate or an I/O crate.
//!
//! A one-crate stand-in for what separate crates would enforce: each layer
//! uses only the layers below it (README, "Architecture").

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Crates the pure layer must not use: runtimes, HTTP, metrics, logging.
const IO_CRATES: &[&str] = &[
    "actix",
    "actix_rt",
    "actix_service",
    "actix_tls",
    "actix_web",
    "actix_web_prom",
    "arc_swap",
    "awc",
    "prometheus",
    "redis",
    "tokio",
    "tracing",
    "tracing_actix_web",
    "tracing_subscriber",
];

/// The module that must stay pure.
const PURE: &str = "protocol";

/// Module graph: top-level module → the top-level modules it references,
/// each with one place that does (for the failure message).
type Graph = BTreeMap<String, BTreeMap<String, String>>;

#[test]
fn top_level_modules_form_no_cycle() {
    let graph = graph_of(&src_dir());
    let cycles = cycles(&graph);
    assert!(
        cycles.is_empty(),
        "import cycles between top-level modules:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn protocol_is_pure() {
    let src = src_dir();
    let graph = graph_of(&src);
    let mut problems: Vec<String> = graph
        .get(PURE)
        .into_iter()
        .flatten()
        .map(|(to, at)| format!("{PURE} imports crate::{to} ({at})"))
        .collect();
    problems.extend(io_uses(&src.join(PURE)));
    assert!(
        problems.is_empty(),
        "protocol/ must be pure:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_finds_a_reintroduced_cycle_and_an_impure_protocol() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path();
    write(src, "lib.rs", "pub mod a; pub mod b; pub mod protocol;");
    write(
        src,
        "a.rs",
        "use crate::b::Thing;\n// crate::protocol in a comment\n",
    );
    write(
        src,
        "b/mod.rs",
        "pub mod inner;\nconst S: &str = \"crate::protocol in a string\";",
    );
    write(src, "b/inner.rs", "use crate::{protocol::X, a::Y};");
    write(
        src,
        "protocol/mod.rs",
        "use super::super::a;\nfn f() { tokio::spawn(async {}); }\nlet r = r#\"crate::b\"#;",
    );
    let graph = graph_of(src);
    let found = cycles(&graph);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("a → b → a"), "{found:?}");
    assert!(
        found[1].starts_with("protocol → a → b → protocol"),
        "{found:?}"
    );
    assert_eq!(
        graph["b"].keys().collect::<Vec<_>>(),
        ["a", "protocol"],
        "grouped imports are read, strings are not"
    );
    assert!(
        !graph["a"].contains_key("protocol"),
        "comments are not read"
    );
    assert_eq!(graph[PURE].keys().collect::<Vec<_>>(), ["a"]);
    let io = io_uses(&src.join(PURE));
    assert_eq!(io.len(), 1, "{io:?}");
    assert!(io[0].contains("tokio"));
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// Every `.rs` file below `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The module path of a file: `upstream/exchange.rs` → [upstream, exchange];
/// `upstream/mod.rs` and `upstream.rs` → [upstream]; `lib.rs` → [].
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("below src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The graph of references between top-level modules under `src`.
fn graph_of(src: &Path) -> Graph {
    let mut graph = Graph::new();
    for file in rust_files(src) {
        let path = module_path(src, &file);
        let Some(from) = path.first().cloned() else {
            continue; // lib.rs / main.rs: the root wires everything
        };
        let code = code_only(&std::fs::read_to_string(&file).expect("read"));
        let node = graph.entry(from.clone()).or_default();
        for (to, line) in references(&code, &path) {
            if to != from {
                let at = format!("{}:{line}", file.display());
                node.entry(to).or_insert(at);
            }
        }
    }
    graph
}

/// The top-level modules `code` (of the module at `path`) refers to, with
/// the line of the first reference.
fn references(code: &str, path: &[String]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let mut rest = line;
        while let Some(i) = find_path_start(rest) {
            let tail = &rest[i..];
            let (targets, used) = resolve(tail, path);
            out.extend(targets.into_iter().map(|t| (t, n + 1)));
            rest = &tail[used.max(1)..];
        }
    }
    out
}

/// The next `crate::` or `super::` that starts a path (not part of a
/// longer identifier).
fn find_path_start(s: &str) -> Option<usize> {
    let mut from = 0;
    loop {
        let i = ["crate::", "super::"]
            .iter()
            .filter_map(|p| s[from..].find(p).map(|i| i + from))
            .min()?;
        let before = s[..i].chars().next_back();
        if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '$')) {
            return Some(i);
        }
        from = i + 1;
    }
}

/// Resolves the path at the start of `s` to top-level modules; returns them
/// and how many bytes were read.
fn resolve(s: &str, path: &[String]) -> (Vec<String>, usize) {
    let mut depth = path.len();
    let mut rest = s;
    if let Some(r) = rest.strip_prefix("crate::") {
        depth = 0;
        rest = r;
    } else {
        while let Some(r) = rest.strip_prefix("super::") {
            depth = depth.saturating_sub(1);
            rest = r;
        }
    }
    let used = s.len() - rest.len();
    if depth > 0 {
        // Still inside a top-level module: its own items.
        return (Vec::new(), used);
    }
    if let Some(group) = rest.strip_prefix('{') {
        let inner = braced(group);
        let names = top_level_items(inner);
        return (names, used + 1 + inner.len());
    }
    let name = ident(rest);
    (vec![name.to_owned()], used + name.len())
}

/// The text up to the `}` closing an opened brace.
fn braced(s: &str) -> &str {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return &s[..i],
            '}' => depth -= 1,
            _ => {}
        }
    }
    s
}

/// The first segment of each comma-separated item at brace depth 0.
fn top_level_items(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in s.char_indices().chain(std::iter::once((s.len(), ','))) {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                let name = ident(s[start..i].trim_start());
                if !name.is_empty() && name != "self" {
                    out.push(name.to_owned());
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    out
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// Uses of I/O crates in the files below `dir`.
fn io_uses(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for file in rust_files(dir) {
        let code = code_only(&std::fs::read_to_string(&file).expect("read"));
        for (n, line) in code.lines().enumerate() {
            for krate in IO_CRATES {
                let needle = format!("{krate}::");
                let hit = line.match_indices(&needle).any(|(i, _)| {
                    let before = line[..i].chars().next_back();
                    before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':'))
                });
                if hit {
                    out.push(format!("{}:{}: uses {krate}", file.display(), n + 1));
                }
            }
        }
    }
    out
}

/// Every cycle of the graph, each as `a → b → … → a` (one per strongly
/// connected set of modules).
fn cycles(graph: &Graph) -> Vec<String> {
    let nodes: BTreeSet<&String> = graph
        .keys()
        .chain(graph.values().flat_map(BTreeMap::keys))
        .collect();
    let mut reported: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for start in nodes {
        if reported.contains(start) {
            continue;
        }
        if let Some(cycle) = path_back(graph, start) {
            reported.extend(cycle.iter().cloned());
            let edges: Vec<String> = cycle
                .windows(2)
                .map(|w| format!("  {} → {} at {}", w[0], w[1], graph[&w[0]][&w[1]]))
                .collect();
            out.push(format!("{}\n{}", cycle.join(" → "), edges.join("\n")));
        }
    }
    out
}

/// The shortest path from `start` back to itself (breadth first).
fn path_back(graph: &Graph, start: &String) -> Option<Vec<String>> {
    let mut parent: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.clone()]);
    while let Some(n) = queue.pop_front() {
        for next in graph.get(&n).into_iter().flat_map(BTreeMap::keys) {
            if next == start {
                let mut back = vec![n.clone()];
                while let Some(p) = parent.get(back.last().expect("non-empty")) {
                    back.push(p.clone());
                }
                back.reverse();
                let mut path = vec![start.clone()];
                path.extend(back.into_iter().filter(|m| m != start));
                path.push(start.clone());
                return Some(path);
            }
            if !parent.contains_key(next) && next != start {
                parent.insert(next.clone(), n.clone());
                queue.push_back(next.clone());
            }
        }
    }
    None
}

/// The source with comments, string and char literals blanked out (line
/// structure kept), so only code is searched.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let keep = |out: &mut String, c: u8| out.push(if c == b'\n' { '\n' } else { ' ' });
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    keep(&mut out, b[i]);
                    i += 1;
                }
            }
        } else if c == b'r' && matches!(b.get(i + 1), Some(b'"' | b'#')) && !ident_byte_before(b, i)
        {
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push(c as char);
                i += 1;
                continue;
            }
            j += 1;
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            while j < b.len() && !b[j..].starts_with(&close) {
                keep(&mut out, b[j]);
                j += 1;
            }
            i = (j + close.len()).min(b.len());
        } else if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                if i < b.len() {
                    keep(&mut out, b[i]);
                }
                i += 1;
            }
            i += 1;
        } else if c == b'\'' {
            // A char literal ('x', '\n', '"'); a lifetime otherwise.
            if b.get(i + 1) == Some(&b'\\') {
                i += 2;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
                i += 1;
            } else if b.get(i + 2) == Some(&b'\'') {
                i += 3;
            } else {
                out.push('\'');
                i += 1;
            }
        } else {
            out.push(c as char);
            i += 1;
        }
    }
    out
}

fn ident_byte_before(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}
