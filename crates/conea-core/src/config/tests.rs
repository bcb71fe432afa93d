//! The loader's behaviour: defaults, sources, and problems reported at once.

use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn shopify_api_version_defaults_to_a_quarterly_release_and_is_validated() {
    let c = Config::load(&RawSettings::collect(&env(&[]), None)).expect("valid");
    assert_eq!(c.shopify.api_version, "2026-10");
    assert_eq!(c.shopify.base_url, None);
    for bad in ["2026-13", "2026-1", "latest"] {
        let problems = Config::load(&RawSettings::collect(
            &env(&[("SHOPIFY_API_VERSION", bad)]),
            None,
        ))
        .expect_err("invalid version");
        assert!(
            problems.iter().any(|p| p.setting == "SHOPIFY_API_VERSION"),
            "{bad}: {problems:?}"
        );
    }
    let c = Config::load(&RawSettings::collect(
        &env(&[("SHOPIFY_API_VERSION", "2025-07")]),
        None,
    ))
    .expect("valid");
    assert_eq!(c.shopify.api_version, "2025-07");
}

#[test]
fn the_shopify_app_needs_its_id_secret_and_public_url_together() {
    let c = Config::load(&RawSettings::collect(&env(&[]), None)).expect("valid");
    assert!(c.shopify.app.is_none());
    assert_eq!(
        c.shopify.public_url, None,
        "the default is not an address Shopify reaches"
    );
    assert_eq!(
        c.shopify.scopes,
        ["read_products", "read_customers", "read_orders"]
    );
    let problems = |pairs: &[(&str, &str)]| {
        let mut named: Vec<&str> = Config::load(&RawSettings::collect(&env(pairs), None))
            .expect_err("partly set")
            .iter()
            .map(|p| p.setting)
            .collect();
        named.sort();
        named
    };
    assert_eq!(
        problems(&[
            ("SHOPIFY_API_KEY", "id"),
            ("CONEA_PUBLIC_URL", "https://c.example")
        ]),
        ["SHOPIFY_API_SECRET"]
    );
    assert_eq!(
        problems(&[
            ("SHOPIFY_API_SECRET", "s"),
            ("CONEA_PUBLIC_URL", "https://c.example")
        ]),
        ["SHOPIFY_API_KEY"]
    );
    assert_eq!(
        problems(&[("SHOPIFY_API_KEY", "id"), ("SHOPIFY_API_SECRET", "s")]),
        ["CONEA_PUBLIC_URL"]
    );
    assert_eq!(
        problems(&[("SHOPIFY_SCOPES", "read_orders,Read Products")]),
        ["SHOPIFY_SCOPES"]
    );
    assert_eq!(c.shopify.sync_interval, Some(Duration::from_secs(15 * 60)));
    assert_eq!(
        problems(&[("SHOPIFY_SYNC_INTERVAL", "30s")]),
        ["SHOPIFY_SYNC_INTERVAL"]
    );
    let off = Config::load(&RawSettings::collect(
        &env(&[("SHOPIFY_SYNC_INTERVAL", "off")]),
        None,
    ))
    .expect("valid");
    assert_eq!(off.shopify.sync_interval, None);
    let c = Config::load(&RawSettings::collect(
        &env(&[
            ("SHOPIFY_API_KEY", "id"),
            ("SHOPIFY_API_SECRET", "s"),
            ("CONEA_PUBLIC_URL", "https://c.example/"),
            ("SHOPIFY_SCOPES", "read_orders, read_products"),
        ]),
        None,
    ))
    .expect("valid");
    assert_eq!(
        c.shopify.app.as_ref().map(|a| a.api_key.as_str()),
        Some("id")
    );
    assert_eq!(c.shopify.public_url.as_deref(), Some("https://c.example"));
    assert_eq!(c.shopify.scopes, ["read_orders", "read_products"]);
    assert!(
        !format!("{:?}", c.shopify.app).contains("\"s\""),
        "the secret is not in Debug"
    );
}

#[test]
fn defaults_give_embedded_sqlite_on_localhost() {
    let c = Config::load(&RawSettings::collect(&env(&[]), None)).expect("valid");
    assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(c.database.backend, Backend::Sqlite);
    assert_eq!(c.database.url, "sqlite://./conea-data/conea.db");
    assert_eq!(c.database.max_connections, 20);
    assert_eq!(c.database.connect_timeout, Duration::from_secs(2));
    assert_eq!(c.jwt_ttl, Duration::from_secs(3600));
}

#[test]
fn postgres_without_secrets_names_both_variables() {
    let raw = RawSettings::collect(&env(&[("DATABASE_URL", "postgres://u@h:5432/d")]), None);
    let problems = Config::load(&raw).expect_err("secrets required");
    let names: Vec<_> = problems.iter().map(|p| p.setting).collect();
    assert_eq!(names, vec!["JWT_SECRET", "CONEA_SECRET_KEY"]);
    assert!(problems[0].message.contains("openssl rand"));
}

#[test]
fn every_bad_value_is_reported_at_once() {
    let raw = RawSettings::collect(
        &env(&[
            ("CONEA_BIND", "nowhere"),
            ("JWT_TTL", "soon"),
            ("CONEA_LOG_FORMAT", "xml"),
        ]),
        None,
    );
    let problems = Config::load(&raw).expect_err("invalid");
    let names: Vec<_> = problems.iter().map(|p| p.setting).collect();
    assert_eq!(names, vec!["CONEA_BIND", "JWT_TTL", "CONEA_LOG_FORMAT"]);
}

#[test]
fn environment_overrides_file_which_overrides_defaults() {
    let file: toml::Table = "[server]\nbind = \"0.0.0.0:9000\"\nrequest_timeout = \"5s\"\n[database]\nmax_connections = 7\n"
        .parse()
        .expect("toml");
    let raw = RawSettings::collect(&env(&[("CONEA_REQUEST_TIMEOUT", "9s")]), Some(&file));
    let c = Config::load(&raw).expect("valid");
    assert_eq!(c.bind.to_string(), "0.0.0.0:9000");
    assert_eq!(c.database.max_connections, 7);
    assert_eq!(c.request_timeout, Duration::from_secs(9));
    assert_eq!(raw.source("CONEA_BIND"), Source::File);
    assert_eq!(raw.source("CONEA_REQUEST_TIMEOUT"), Source::Env);
}

#[test]
fn rate_limit_defaults_and_overrides() {
    let c = Config::load(&RawSettings::collect(&env(&[]), None)).expect("valid");
    assert_eq!((c.rate_limit.per_minute, c.rate_limit.burst), (100, 100));
    let raw = RawSettings::collect(
        &env(&[
            ("RATE_LIMIT_PER_MINUTE", "200"),
            ("CONEA_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1"),
        ]),
        None,
    );
    let c = Config::load(&raw).expect("valid");
    assert_eq!((c.rate_limit.per_minute, c.rate_limit.burst), (200, 200));
    assert_eq!(c.rate_limit.trusted_proxies.len(), 2);
    let raw = RawSettings::collect(
        &env(&[
            ("CONEA_RATE_LIMIT_FAILURE_MODE", "maybe"),
            ("RATE_LIMIT_BURST", "0"),
        ]),
        None,
    );
    let names: Vec<_> = Config::load(&raw)
        .expect_err("bad")
        .iter()
        .map(|p| p.setting)
        .collect();
    assert_eq!(
        names,
        vec!["RATE_LIMIT_BURST", "CONEA_RATE_LIMIT_FAILURE_MODE"]
    );
}

#[test]
fn short_secret_is_a_problem_and_describe_redacts() {
    let raw = RawSettings::collect(
        &env(&[
            ("JWT_SECRET", "short"),
            ("DATABASE_URL", "postgres://u:hunter2@h/d"),
        ]),
        None,
    );
    let problems = Config::load(&raw).expect_err("short");
    assert!(problems
        .iter()
        .any(|p| p.setting == "JWT_SECRET" && p.message.contains("at least 32")));
    let described = Config::describe(&raw);
    let text = format!("{described:?}");
    assert!(!text.contains("hunter2"));
    assert!(!text.contains("short\""));
}

#[test]
fn value_and_cross_setting_problems_are_reported_together() {
    let raw = RawSettings::collect(
        &env(&[
            ("CONEA_BIND", "nowhere"),
            ("DATABASE_URL", "postgres://u@h:5432/d"),
            ("CONEA_SECRET_KEY", "short"),
        ]),
        None,
    );
    let problems = Config::load(&raw).expect_err("invalid");
    let names: Vec<_> = problems.iter().map(|p| p.setting).collect();
    // The short key has its own problem, not "required" as well.
    assert_eq!(names, vec!["CONEA_BIND", "CONEA_SECRET_KEY", "JWT_SECRET"]);
    assert!(problems[1].message.contains("at least 32"));
}

#[test]
fn a_blank_value_counts_as_unset() {
    let file: toml::Table = "[server]\nbind = \"0.0.0.0:9000\"\n".parse().expect("toml");
    let raw = RawSettings::collect(&env(&[("CONEA_BIND", "  "), ("JWT_TTL", "")]), Some(&file));
    let c = Config::load(&raw).expect("valid");
    assert_eq!(c.bind.to_string(), "0.0.0.0:9000");
    assert_eq!(c.jwt_ttl, Duration::from_secs(3600));
}

#[test]
fn every_declared_default_parses_and_names_are_unique() {
    let c = Config::load(&RawSettings::collect(&env(&[]), None)).expect("defaults are valid");
    assert_eq!(c.data_dir, std::path::Path::new(DEFAULT_DATA_DIR));
    let mut names: Vec<_> = SETTINGS.iter().map(|s| s.env).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), SETTINGS.len());
    assert_eq!(var::JWT_SECRET, "JWT_SECRET");
}

#[test]
fn insights_prices_are_loaded_and_a_malformed_value_is_a_problem_naming_the_setting() {
    let c = Config::load(&RawSettings::collect(&env(&[]), None)).expect("valid");
    assert!(
        c.insights.prices.is_empty(),
        "unset: the built-in table only"
    );
    let c = Config::load(&RawSettings::collect(
        &env(&[(
            "CONEA_INSIGHTS_PRICES",
            r#" {"openai/gpt-4o": {"input": 2, "output": 8.5}} "#,
        )]),
        None,
    ))
    .expect("valid");
    assert_eq!(
        c.insights.prices,
        [ModelPrice {
            provider: "openai".into(),
            model: "gpt-4o".into(),
            input: 2_000_000,
            output: 8_500_000,
        }]
    );
    for bad in [
        r#"{"openai/gpt-4o": {"input": 2}}"#,
        r#"{"openai/gpt-4o": "cheap"}"#,
        r#"{"gpt-4o": {"input": 2, "output": 8}}"#,
        "{not json",
        "/nonexistent/conea-prices.json",
    ] {
        let problems = Config::load(&RawSettings::collect(
            &env(&[("CONEA_INSIGHTS_PRICES", bad)]),
            None,
        ))
        .expect_err("malformed prices");
        assert!(
            !problems.is_empty()
                && problems
                    .iter()
                    .all(|p| p.setting == "CONEA_INSIGHTS_PRICES"),
            "{bad}: {problems:?}"
        );
        assert!(
            problems[0]
                .to_string()
                .starts_with("CONEA_INSIGHTS_PRICES: "),
            "{problems:?}"
        );
    }
    // From the TOML file's `[insights] prices`, like every setting.
    let file: toml::Table = r#"insights.prices = '{"ollama/llama3.2": {"input": 0, "output": 0}}'"#
        .parse()
        .unwrap();
    let c = Config::load(&RawSettings::collect(&env(&[]), Some(&file))).expect("valid");
    assert_eq!(c.insights.prices[0].model, "llama3.2");
}
