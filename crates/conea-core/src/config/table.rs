//! The README's configuration table, printed from the declaration (`conea config table`).

use super::SETTINGS;

/// The Markdown table of every setting: variable, TOML key, default, meaning.
pub fn markdown_table() -> String {
    let mut out = String::from("| Variable | TOML key | Default | Meaning |\n|---|---|---|---|\n");
    for s in SETTINGS {
        let default = s.default.map_or("—".to_owned(), |d| format!("`{d}`"));
        let secret = if s.secret { " (secret)" } else { "" };
        out.push_str(&format!(
            "| `{}` | `{}` | {default} | {}{secret} |\n",
            s.env, s.toml, s.help
        ));
    }
    out
}
