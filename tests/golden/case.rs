//! The table: callers (the APIs a client speaks) × provider types, and the
//! cases in `cases/<case>/`, each a `case.toml` manifest plus one
//! `request.<caller>.json` per caller that has the feature.

use crate::common::MockReply;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A caller API: the gateway endpoint a client calls and how it sends its
/// key. A case takes part for a caller when it has `request.<name>.json`.
pub struct Caller {
    pub name: &'static str,
    pub path: &'static str,
    /// The header carrying the gateway key, and its value.
    pub key_header: (&'static str, &'static str),
    /// Headers every request of this caller carries.
    pub headers: &'static [(&'static str, &'static str)],
}

/// The gateway key the callers send.
pub const GATEWAY_KEY: &str = "sk-test";

/// Every caller API, one column of the table each.
pub const CALLERS: &[Caller] = &[
    Caller {
        name: "openai",
        path: "/v1/chat/completions",
        key_header: ("authorization", "Bearer sk-test"),
        headers: &[],
    },
    Caller {
        name: "anthropic",
        path: "/v1/messages",
        key_header: ("x-api-key", GATEWAY_KEY),
        headers: &[("anthropic-version", "2023-06-01")],
    },
    Caller {
        name: "responses",
        path: "/v1/responses",
        key_header: ("authorization", "Bearer sk-test"),
        headers: &[],
    },
    Caller {
        name: "gemini",
        path: "/v1beta/models/m:generateContent",
        key_header: ("x-goog-api-key", GATEWAY_KEY),
        headers: &[],
    },
];

/// Callers whose URL, not the body, names the model and asks for a stream
/// (Gemini), with the path of a streamed request: their request files name
/// no model, and a top-level `"stream": true` in one picks this path (and
/// is not sent).
pub const URL_ROUTED: &[(&str, &str)] =
    &[("gemini", "/v1beta/models/m:streamGenerateContent?alt=sse")];

/// A provider type, one row of the table: served by a recording mock
/// upstream at `base_path`, or in-process (the `mock` type).
pub struct Provider {
    pub name: &'static str,
    pub base_path: Option<&'static str>,
}

/// Every provider type.
pub const PROVIDERS: &[Provider] = &[
    Provider {
        name: "openai",
        base_path: Some("/v1"),
    },
    Provider {
        name: "anthropic",
        base_path: Some("/v1"),
    },
    Provider {
        name: "gemini",
        base_path: Some("/v1beta"),
    },
    Provider {
        name: "mock",
        base_path: None,
    },
];

/// `case.toml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    /// What the case shows; the snapshots' description.
    about: String,
    /// Headers every caller sends in this case (beyond its own).
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Whether the in-process `mock` provider is a target.
    #[serde(default)]
    mock: bool,
    /// The upstream's answer per provider type.
    #[serde(default)]
    answers: BTreeMap<String, AnswerSpec>,
}

/// An upstream answer: a file under `tests/fixtures/` (`.sse` files are
/// streamed one event per write), or that with a status and headers.
#[derive(Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum AnswerSpec {
    File(String),
    Full {
        file: String,
        status: u16,
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
}

impl AnswerSpec {
    fn reply(&self) -> MockReply {
        let (file, status, headers) = match self {
            AnswerSpec::File(file) => (file, 200, None),
            AnswerSpec::Full {
                file,
                status,
                headers,
            } => (file, *status, Some(headers)),
        };
        let text = crate::common::fixture(file);
        let mut reply = if file.ends_with(".sse") {
            MockReply::sse(&text)
        } else {
            MockReply::json(text)
        };
        reply.status = status;
        for (name, value) in headers.into_iter().flatten() {
            reply = reply.header(name, value);
        }
        reply
    }
}

/// A case, loaded.
pub struct Case {
    pub name: String,
    pub about: String,
    pub headers: Vec<(String, String)>,
    mock: bool,
    answers: BTreeMap<String, AnswerSpec>,
}

/// One cell of the table.
pub struct Cell<'a> {
    pub case: &'a Case,
    pub caller: &'a Caller,
    pub provider: &'a Provider,
}

impl Cell<'_> {
    /// The snapshot's name inside the case's folder.
    pub fn name(&self) -> String {
        format!("{}-to-{}", self.caller.name, self.provider.name)
    }

    /// The upstream's base path and answer (`None` for the in-process mock).
    pub fn upstream(&self) -> Option<(&'static str, MockReply)> {
        let base_path = self.provider.base_path?;
        Some((base_path, self.case.answers[self.provider.name].reply()))
    }
}

/// `tests/golden/<rel>`.
pub fn golden_dir(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(rel)
}

/// The names of the folders in `tests/golden/cases/`.
pub fn case_folders() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(golden_dir("cases"))
        .expect("tests/golden/cases")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

impl Case {
    /// Loads `cases/<name>/case.toml`, checking its provider names.
    pub fn load(name: &str) -> Case {
        let path = golden_dir(&format!("cases/{name}/case.toml"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let m: Manifest = toml::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        for p in m.answers.keys() {
            let served = PROVIDERS
                .iter()
                .any(|k| k.name == p && k.base_path.is_some());
            assert!(served, "{path:?}: no upstream provider type `{p}`");
        }
        Case {
            name: name.to_owned(),
            about: m.about,
            headers: m.headers.into_iter().collect(),
            mock: m.mock,
            answers: m.answers,
        }
    }

    /// `cases/<case>/request.<caller>.json`.
    pub fn request_path(&self, caller: &Caller) -> PathBuf {
        golden_dir(&format!("cases/{}/request.{}.json", self.name, caller.name))
    }

    /// Every cell: each caller with a request × each provider with an answer
    /// (and the mock provider when the case asks for it).
    pub fn cells(&self) -> Vec<Cell<'_>> {
        let callers = CALLERS.iter().filter(|c| self.request_path(c).exists());
        let callers: Vec<&Caller> = callers.collect();
        assert!(!callers.is_empty(), "case {}: no request file", self.name);
        let providers = PROVIDERS.iter().filter(|p| match p.base_path {
            Some(_) => self.answers.contains_key(p.name),
            None => self.mock,
        });
        providers
            .flat_map(|provider| {
                callers.iter().map(move |caller| Cell {
                    case: self,
                    caller,
                    provider,
                })
            })
            .collect()
    }
}
