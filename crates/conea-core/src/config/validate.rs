//! The rules that span settings ("required when …"), run after every setting was parsed so
//! that all problems are reported at once.

use super::settings::{var, Parsed};
use super::{Backend, Problem, RawSettings};

/// Adds a problem for every cross-setting rule the parsed values break.
pub(crate) fn cross_settings(p: &Parsed, raw: &RawSettings, problems: &mut Vec<Problem>) {
    let postgres = matches!(p.database_url, Some((Backend::Postgres, _)));
    // The secrets: with PostgreSQL every replica must share them, so none is generated.
    // (A given but rejected secret already has its own problem.)
    for name in [var::JWT_SECRET, var::CONEA_SECRET_KEY] {
        if postgres && raw.get(name).is_none() {
            problems.push(Problem {
                setting: name,
                message: format!(
                    "is required when DATABASE_URL is PostgreSQL, so that every replica shares it. Set it, e.g. `export {name}=$(openssl rand -hex 32)`"
                ),
            });
        }
    }
}
