//! Golden files for whole translations (STYLE.md §5): a table of case ×
//! (caller API → provider type) cells, each run against the real gateway in
//! front of a recording mock upstream, whose snapshot shows what reached the
//! upstream and what the caller got. Any change to a conversion shows up as
//! a snapshot diff in review; nothing here names an internal module.
//!
//! - `cases/<case>/case.toml`: `about` (what the case shows), `[answers]`
//!   (per provider type the upstream's answer: a recorded wire shape under
//!   `tests/fixtures/`, `"openai/chat_stream.sse"`, or
//!   `{ file = "…", status = 429, headers = { "retry-after" = "20" } }`),
//!   `mock = true` when the in-process mock provider takes part, and
//!   `headers` every caller sends.
//! - `cases/<case>/request.<caller>.json`: the request one caller API sends
//!   (`model` is set to the gateway's test model).
//! - `snapshots/<case>/<caller>-to-<provider>.snap`: the reviewed outputs.
//!
//! A new case is a folder plus one line in [`golden_cases!`]; a new caller
//! API is one row in `case::CALLERS` plus its `request.<caller>.json` files.
//! Review or update: `INSTA_UPDATE=always cargo test --test golden` then
//! `git diff tests/golden/snapshots` (or `cargo insta review`).

// The integration tests' harness: TestGateway, MockUpstream, fixtures.
#[allow(unused_imports)]
#[path = "../it/common/mod.rs"]
mod common;

mod case;
mod exchange;
mod json;
mod leaks;
mod render;

use case::Case;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs every cell of `name` (all at once) and compares each with its
/// snapshot; fails after all cells ran, naming every mismatch (so one run
/// writes every pending snapshot).
async fn check_case(name: &str) {
    let case = Case::load(name);
    let cells = case.cells();
    let exchanges = futures_util::future::join_all(cells.iter().map(exchange::run)).await;
    let mut failed = Vec::new();
    for (cell, ex) in cells.iter().zip(exchanges) {
        let cell_name = format!("{}/{}", case.name, cell.name());
        leaks::check(&cell_name, &ex);
        let text = render::render(&ex);
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(format!("snapshots/{}", case.name));
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        settings.set_description(case.about.trim());
        settings.set_input_file(case.request_path(cell.caller));
        let matched = catch_unwind(AssertUnwindSafe(|| {
            settings.bind(|| insta::assert_snapshot!(cell.name(), text));
        }));
        if matched.is_err() {
            failed.push(cell_name);
        }
    }
    assert!(failed.is_empty(), "snapshots differ: {failed:?}");
}

macro_rules! golden_cases {
    ($($case:ident),* $(,)?) => {
        /// Every case folder, in the table.
        const CASES: &[&str] = &[$(stringify!($case)),*];
        $(
            #[tokio::test]
            async fn $case() {
                check_case(stringify!($case)).await;
            }
        )*
    };
}

golden_cases!(
    text,
    system_multi_turn,
    unsupported_params,
    image_input,
    tool_call,
    tool_result,
    parallel_tool_calls,
    json_schema,
    thinking,
    thinking_round_trip,
    stream_text,
    stream_tool_call,
    stream_parallel_tool_calls,
    stream_thinking,
    stream_cut,
    stream_error,
    error_400,
    error_401,
    error_429,
    error_500,
    error_overloaded,
    stream_error_429,
);

#[test]
fn every_case_folder_is_in_the_table() {
    let mut listed: Vec<&str> = CASES.to_vec();
    listed.sort_unstable();
    assert_eq!(case::case_folders(), listed);
}

#[test]
fn every_snapshot_belongs_to_a_cell() {
    let mut expected = Vec::new();
    for name in CASES {
        let case = Case::load(name);
        expected.extend(
            case.cells()
                .iter()
                .map(|c| format!("{name}/{}.snap", c.name())),
        );
    }
    let mut found = Vec::new();
    for dir in std::fs::read_dir(case::golden_dir("snapshots")).expect("snapshots") {
        let dir = dir.expect("entry").path();
        for file in std::fs::read_dir(&dir).expect("a case's snapshots") {
            let file = file
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            if file.ends_with(".snap") {
                let case = dir.file_name().expect("a name").to_string_lossy();
                found.push(format!("{case}/{file}"));
            }
        }
    }
    expected.sort();
    found.sort();
    let stale: Vec<&String> = found.iter().filter(|f| !expected.contains(f)).collect();
    assert!(stale.is_empty(), "snapshots without a cell: {stale:?}");
}
