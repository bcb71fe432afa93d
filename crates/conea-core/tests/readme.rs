//! The README's configuration table lists every setting the loader knows, with its default.

use conea_core::config::SETTINGS;

#[test]
fn readme_configuration_table_lists_every_setting_with_its_default() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md at the repository root");
    for s in SETTINGS {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", s.env)))
            .unwrap_or_else(|| panic!("README lacks a row for {}", s.env));
        assert!(
            row.contains(&format!("`{}`", s.toml)),
            "{}: TOML key",
            s.env
        );
        if let Some(d) = s.default {
            assert!(row.contains(&format!("`{d}`")), "{}: default {d}", s.env);
        }
    }
}
