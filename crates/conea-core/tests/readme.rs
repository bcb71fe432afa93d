//! The README's configuration table is the declared one: every setting, its TOML key, default
//! and help (`conea config table` prints it). Its error table is the `ErrorCode` enum's.

use conea_core::config::SETTINGS;
use conea_core::ErrorCode;

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

#[test]
fn readme_configuration_table_is_the_declared_table_row_for_row() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md at the repository root");
    let table = conea_core::config::markdown_table();
    assert!(
        readme.contains(&table),
        "README's configuration table differs from the declaration; replace it with the output \
         of `conea config table`:\n{table}"
    );
}

#[test]
fn readme_error_table_is_the_error_code_table() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md at the repository root");
    let expected = ErrorCode::markdown_table();
    let header = expected.lines().next().expect("a header row");
    let start = readme.find(&format!("\n{header}\n")).unwrap_or_else(|| {
        panic!("README lacks the error table; add under ## Errors:\n{expected}")
    });
    let actual: String = readme[start + 1..]
        .lines()
        .take_while(|l| l.starts_with('|'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        actual == expected,
        "README's error table differs from conea_core::ErrorCode; replace it with:\n{expected}"
    );
}
