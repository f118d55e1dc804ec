//! Reading a config file: TOML, then `LLM_GATEWAY__SECTION__KEY` env
//! overrides (through the `config` crate), then full validation.
//!
//! Unknown fields (typos) are collected with `serde_ignored` so they are
//! reported together with every other problem, not one at a time. No
//! message quotes a value from the file or the environment: any of them may
//! hold a key (an env override can put one in any field).

use super::file::FileConfig;
use super::{ConfigErrors, Snapshot};
use crate::protocol::error::without_values;
use std::fmt;
use std::path::{Path, PathBuf};

/// Prefix of env overrides: `LLM_GATEWAY__SERVER__PORT=9000`.
pub const ENV_PREFIX: &str = "LLM_GATEWAY";

/// Why a config could not be loaded; its `Display` names the source, the
/// field and the problem, one per line, like `nginx -t`.
#[derive(Debug)]
pub struct LoadError {
    /// The file (or `built-in demo config`).
    pub source: String,
    pub kind: LoadErrorKind,
}

/// What kind of failure a [`LoadError`] is.
#[derive(Debug)]
pub enum LoadErrorKind {
    /// The file could not be read.
    Io(std::io::Error),
    /// Not TOML, or a value of the wrong type.
    Syntax(String),
    /// Parsed, but invalid.
    Invalid(ConfigErrors),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            LoadErrorKind::Io(e) => write!(f, "{}: cannot read: {e}", self.source),
            LoadErrorKind::Syntax(e) => write!(f, "{}: {e}", self.source),
            LoadErrorKind::Invalid(errs) => {
                for (i, e) in errs.0.iter().enumerate() {
                    if i > 0 {
                        f.write_str("\n")?;
                    }
                    write!(f, "{}: {}: {}", self.source, e.field, e.problem)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for LoadError {}

/// Reads, overrides from the environment, and validates `path`.
pub fn load_file(path: &Path) -> Result<Snapshot, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError {
        source: path.display().to_string(),
        kind: LoadErrorKind::Io(e),
    })?;
    load_str(&text, &path.display().to_string())
}

/// Parses and validates config text; `source` names it in errors.
pub fn load_str(text: &str, source: &str) -> Result<Snapshot, LoadError> {
    let err = |kind| LoadError {
        source: source.to_owned(),
        kind,
    };
    let built = config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml))
        .add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        )
        .build()
        .map_err(|e| err(LoadErrorKind::Syntax(describe(&e))))?;
    let mut unknown = Vec::new();
    let parsed: FileConfig =
        serde_ignored::deserialize(built, |path| unknown.push(path.to_string()))
            .map_err(|e| err(LoadErrorKind::Syntax(describe(&e))))?;
    let mut errs = ConfigErrors::default();
    for field in unknown {
        errs.push(field, "unknown field (a typo?)");
    }
    match Snapshot::from_file(parsed) {
        Ok(snapshot) if errs.0.is_empty() => Ok(snapshot),
        Ok(_) => Err(err(LoadErrorKind::Invalid(errs))),
        Err(more) => {
            errs.0.extend(more.0);
            Err(err(LoadErrorKind::Invalid(errs)))
        }
    }
}

/// A `config` crate error as `field: problem`, without the value found:
/// `server.port: invalid type: string, expected an integer`.
fn describe(e: &config::ConfigError) -> String {
    use config::ConfigError as E;
    let at = |key: &Option<String>, problem: String| match key {
        Some(key) => format!("{key}: {problem}"),
        None => problem,
    };
    match e {
        E::FileParse { cause, .. } => without_source_lines(&cause.to_string()),
        E::Type {
            unexpected,
            expected,
            key,
            ..
        } => at(
            key,
            without_values(&format!("invalid type: {unexpected}, expected {expected}")),
        ),
        E::At { error, key, .. } => at(key, describe(error)),
        E::NotFound(key) => format!("{key}: is required"),
        E::Message(m) => without_values(m),
        other => without_values(&other.to_string()),
    }
}

/// A TOML parse error without the quoted source lines (which could hold a
/// key): `TOML parse error at line 4, column 27: unexpected key or value`.
fn without_source_lines(message: &str) -> String {
    message
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !(t.starts_with('|')
                || t.split_once(" |")
                    .is_some_and(|(n, _)| n.parse::<u32>().is_ok()))
        })
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}

/// Where the config comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// A file, given or found.
    File(PathBuf),
    /// No file given and no `./config.toml`: the built-in demo.
    Demo,
}

impl ConfigSource {
    /// The explicit path if given, else `./config.toml` if it exists, else
    /// the demo.
    pub fn resolve(explicit: Option<PathBuf>) -> Self {
        match explicit {
            Some(p) => Self::File(p),
            None if Path::new("config.toml").exists() => Self::File(PathBuf::from("config.toml")),
            None => Self::Demo,
        }
    }

    /// Loads and validates the source.
    pub fn load(&self) -> Result<Snapshot, LoadError> {
        match self {
            Self::File(p) => load_file(p),
            Self::Demo => load_str(super::DEMO_CONFIG, "built-in demo config"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_reported_with_their_path_alongside_other_errors() {
        let e = load_str(
            "[server]\nprot = 1\n[providers.openai]\ntimeout_seconds = -1\n",
            "x.toml",
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("x.toml: server.prot: unknown field"),
            "{text}"
        );
        assert!(
            text.contains("x.toml: providers.openai.timeout_seconds: must be greater than 0"),
            "{text}"
        );
    }

    #[test]
    fn toml_syntax_errors_name_the_file_and_position_but_quote_no_source() {
        let e = load_str(
            "[server]\n[providers.openai]\napi_key = \"sk-secret-123\" x\n",
            "bad.toml",
        )
        .unwrap_err();
        assert!(matches!(e.kind, LoadErrorKind::Syntax(_)));
        let text = e.to_string();
        assert!(
            text.starts_with("bad.toml: TOML parse error at line 3"),
            "{text}"
        );
        assert!(!text.contains("sk-secret"), "{text}");
    }
}
