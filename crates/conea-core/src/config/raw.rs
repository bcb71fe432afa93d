//! The raw text of every setting with its source, before parsing: environment over the
//! TOML file over the default.

use super::{Problem, SETTINGS};
use std::collections::HashMap;
use std::path::Path;

/// Where an effective value came from (for `conea config check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Default,
    File,
    Env,
    Unset,
}

/// The raw values of every setting with their sources, before parsing.
#[derive(Debug, Clone, Default)]
pub struct RawSettings {
    values: HashMap<&'static str, (String, Source)>,
    /// The file's `[ai]` table (aliases and targets are structured, not flat settings).
    pub(super) ai_table: Option<toml::Table>,
}

impl RawSettings {
    /// Collects values from the environment map and the parsed TOML file. A blank value
    /// counts as unset, so the next source (or the default) applies.
    pub fn collect(env: &HashMap<String, String>, file: Option<&toml::Table>) -> Self {
        let mut values = HashMap::new();
        for s in SETTINGS {
            let given = |v: &String| !v.trim().is_empty();
            let from_env = env.get(s.env).filter(|v| given(v)).cloned();
            let from_file = file
                .and_then(|t| lookup_toml(t, s.toml))
                .filter(|v| given(v));
            let value = match (from_env, from_file, s.default) {
                (Some(v), _, _) => (v, Source::Env),
                (None, Some(v), _) => (v, Source::File),
                (None, None, Some(d)) => (d.to_owned(), Source::Default),
                (None, None, None) => (String::new(), Source::Unset),
            };
            values.insert(s.env, value);
        }
        let ai_table = file
            .and_then(|t| t.get("ai"))
            .and_then(|v| v.as_table())
            .cloned();
        RawSettings { values, ai_table }
    }

    pub fn get(&self, env: &str) -> Option<&str> {
        self.values
            .get(env)
            .filter(|(_, src)| *src != Source::Unset)
            .map(|(v, _)| v.as_str())
    }

    pub fn source(&self, env: &str) -> Source {
        self.values
            .get(env)
            .map(|(_, s)| *s)
            .unwrap_or(Source::Unset)
    }
}

fn lookup_toml(table: &toml::Table, dotted: &str) -> Option<String> {
    let mut parts = dotted.split('.').peekable();
    let mut current = table;
    while let Some(part) = parts.next() {
        let value = current.get(part)?;
        if parts.peek().is_none() {
            return Some(match value {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        }
        current = value.as_table()?;
    }
    None
}

/// Reads the optional TOML file, naming the file and the parse error on failure.
pub fn read_file(path: &Path) -> Result<toml::Table, Problem> {
    let text = std::fs::read_to_string(path).map_err(|e| Problem {
        setting: "--config",
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    text.parse::<toml::Table>().map_err(|e| Problem {
        setting: "--config",
        message: format!("{} is not valid TOML: {e}", path.display()),
    })
}
