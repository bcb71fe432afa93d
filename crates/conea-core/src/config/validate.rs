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
    // The Shopify app: its id and secret together, and an address Shopify can reach.
    let key = raw.get(var::SHOPIFY_API_KEY).is_some();
    let secret = raw.get(var::SHOPIFY_API_SECRET).is_some();
    if key != secret {
        let (missing, given) = if key {
            (var::SHOPIFY_API_SECRET, var::SHOPIFY_API_KEY)
        } else {
            (var::SHOPIFY_API_KEY, var::SHOPIFY_API_SECRET)
        };
        problems.push(Problem {
            setting: missing,
            message: format!(
                "is required when {given} is set: installing shops by OAuth needs the app's client id and client secret (Shopify Partners → the app → Client credentials). Set both, or neither"
            ),
        });
    }
    if (key || secret) && raw.get(var::CONEA_PUBLIC_URL).is_none() {
        problems.push(Problem {
            setting: var::CONEA_PUBLIC_URL,
            message: "is required when SHOPIFY_API_KEY is set: Shopify redirects merchants to `<CONEA_PUBLIC_URL>/v1/integrations/shopify/callback` and sends webhooks to `<CONEA_PUBLIC_URL>/v1/webhooks/shopify`. Set it to the https address Shopify reaches this server at".into(),
        });
    }
}
