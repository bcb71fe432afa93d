//! The `conea` command line, run as a user would: the built binary in a clean environment
//! (see `support`), on the embedded SQLite default and, where a command works on both
//! backends, on PostgreSQL when `CONEA_TEST_DATABASE_URL` is set (each test in a schema of its
//! own; without the variable the PostgreSQL variant prints one line saying why it skips).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use serde_json::{json, Value};
use support::{api_keys_in, inspected_claims, lines_with, utc, Env, JWT_SECRET, SECRET_KEY};

/// `mod NAME { sqlite, postgres }` calling `fn NAME(&Env)` once per backend.
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name(&crate::support::Env::sqlite());
                }

                #[test]
                fn postgres() {
                    if let Some(env) = crate::support::Env::postgres() {
                        super::$name(&env);
                    }
                }
            }
        )+
    };
}

const PASSWORD: &str = "correct horse battery staple";

/// Creates `EMAIL` in the organization `default` with `ROLE` (password on stdin); the user id.
fn create_user(env: &Env, email: &str, role: &str) -> String {
    let out = env
        .run_with_stdin(
            &[
                "users", "create", "--org", "default", "--email", email, "--role", role,
            ],
            &format!("{PASSWORD}\n"),
        )
        .success();
    out.stdout_line()
}

/// Creates a key in `default`; the secret (stdout) and the key id (named on stderr).
fn create_key(env: &Env, name: &str, permissions: &[&str]) -> (String, String) {
    let mut args = vec!["keys", "create", "--org", "default", "--name", name];
    for p in permissions {
        args.extend(["--permission", p]);
    }
    let out = env.run(&args).success();
    let secret = out.stdout_line();
    let id = out
        .stderr
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|w| w.starts_with("key_"))
        .unwrap_or_else(|| panic!("the key id on stderr: {out}"))
        .to_owned();
    (secret, id)
}

fn key_row(env: &Env, id: &str) -> Value {
    let list = env
        .run(&["keys", "list", "--org", "default", "--json"])
        .success();
    let rows = list.stdout_json();
    rows.as_array()
        .expect("a JSON array")
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("key {id} in `keys list --json`: {list}"))
        .clone()
}

fn names(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("an array: {value}"))
        .iter()
        .map(|v| v.as_str().expect("a string"))
        .collect()
}

// ----- serve -----

#[test]
fn serve_prints_working_owner_key_only_on_first_start() {
    let env = Env::sqlite();

    let first = env.serve();
    let keys = api_keys_in(&first.startup_output);
    assert!(
        !keys.is_empty(),
        "the first start prints an owner key:\n{}",
        first.startup_output
    );
    let key = keys[0].clone();
    assert!(
        keys.iter().all(|k| *k == key),
        "one key (repeated at most in the curl hint):\n{}",
        first.startup_output
    );
    let (status, body) = first.get("/v1/auth/verify", &key);
    assert_eq!(status, 200, "the owner key is accepted: {body}");
    assert_eq!(body["valid"], true);
    assert_eq!(body["kind"], "api_key");
    assert!(
        names(&body["permissions"]).contains(&"admin"),
        "the owner key has every permission: {body}"
    );
    let (exit, stderr) = first.stop();
    assert_eq!(exit.code(), Some(0), "SIGTERM stops gracefully: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains(&key), "the key is not logged: {stderr}");

    let second = env.serve();
    assert!(
        !second.startup_output.contains("conea_"),
        "a second start prints no key:\n{}",
        second.startup_output
    );
    let (status, body) = second.get("/v1/auth/verify", &key);
    assert_eq!(
        status, 200,
        "the first key still works after a restart: {body}"
    );
    let (exit, stderr) = second.stop();
    assert_eq!(exit.code(), Some(0), "SIGTERM stops gracefully: {stderr}");
}

/// The per-entry warnings of a policy that has some channels but not others.
const CHANNEL_WARNING: &str = "is not configured under `channels`";

#[test]
fn first_start_on_the_default_policy_says_once_that_incidents_notify_nobody() {
    let env = Env::sqlite();
    let first = env.serve();
    let output = first.startup_output.clone();
    let (exit, stderr) = first.stop();
    assert_eq!(exit.code(), Some(0), "{stderr}");
    assert!(
        !api_keys_in(&output).is_empty() && output.contains("listening on http://"),
        "the key and the address:\n{output}"
    );
    let nobody = lines_with(&output, "notify nobody");
    assert_eq!(nobody.len(), 1, "one line about notifications:\n{output}");
    assert!(
        nobody[0].contains("CONEA_ESCALATION_CONFIG"),
        "it says where to set a policy: {}",
        nobody[0]
    );
    assert!(
        !stderr.contains(CHANNEL_WARNING) && !stderr.contains("escalation policy:"),
        "no warning per unconfigured channel:\n{stderr}"
    );
}

#[test]
fn a_policy_with_some_channels_warns_about_the_missing_ones_instead() {
    let mut env = Env::sqlite();
    let path = env.data_dir().join("escalation.yaml");
    std::fs::create_dir_all(env.data_dir()).unwrap();
    std::fs::write(
        &path,
        "channels:\n  slack: {webhook_url: \"https://hooks.example.com/x\"}\n",
    )
    .unwrap();
    env.set("CONEA_ESCALATION_CONFIG", &path.display().to_string());
    let server = env.serve();
    let output = server.startup_output.clone();
    let (exit, stderr) = server.stop();
    assert_eq!(exit.code(), Some(0), "{stderr}");
    assert!(
        lines_with(&output, "notify nobody").is_empty(),
        "slack is notified:\n{output}"
    );
    assert!(
        stderr.contains(CHANNEL_WARNING),
        "the channels the matrix names but the policy lacks are warned about:\n{stderr}"
    );
}

#[test]
fn serve_never_prints_an_owner_key_the_operator_supplied() {
    let supplied = "conea_OperatorSuppliedBootstrapKey0123456789ab";
    let mut env = Env::sqlite();
    env.set("CONEA_BOOTSTRAP_KEY", supplied);
    let first = env.serve();
    assert!(
        !first.startup_output.contains(supplied) && api_keys_in(&first.startup_output).is_empty(),
        "the supplied key is printed:\n{}",
        first.startup_output
    );
    assert!(
        first.startup_output.contains("CONEA_BOOTSTRAP_KEY"),
        "it says where the key came from:\n{}",
        first.startup_output
    );
    let (status, body) = first.get("/v1/auth/verify", supplied);
    assert_eq!(status, 200, "the supplied key is the owner key: {body}");
    let (exit, stderr) = first.stop();
    assert_eq!(exit.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains(supplied),
        "the key is not logged: {stderr}"
    );
}

/// Once `serve` has said it listens, SIGTERM must mean a graceful stop (exit 0), not death by
/// the signal's default action. Several starts, because the window is short.
#[test]

fn sigterm_right_after_the_listening_line_stops_gracefully() {
    let env = Env::sqlite();
    env.run(&["migrate"]).success();
    for attempt in 1..=5 {
        let server = env.serve_until_announced();
        let (exit, stderr) = server.stop();
        assert_eq!(
            exit.code(),
            Some(0),
            "start {attempt}: SIGTERM right after `listening on` ended the process with {exit:?}\n{stderr}"
        );
    }
}

#[test]
fn serve_on_postgres_without_jwt_secret_and_secret_key_names_both_and_exits_nonzero() {
    let mut env = Env::sqlite();
    env.set("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
        .set("CONEA_BIND", "127.0.0.1:0");
    let out = env.run(&["serve"]);
    assert!(
        out.code().is_some_and(|c| c != 0),
        "exits with a non-zero status: {out}"
    );
    out.assert_no_panic();
    assert!(out.stderr.contains("JWT_SECRET"), "{out}");
    assert!(out.stderr.contains("CONEA_SECRET_KEY"), "{out}");
    assert!(!out.stdout.contains("listening"), "nothing started: {out}");
}

#[test]
fn serve_with_a_malformed_prices_setting_names_it_and_exits_nonzero() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prices.json");
    std::fs::write(&file, r#"{"openai/gpt-4o": {"input": "cheap"}}"#).unwrap();
    for value in [file.display().to_string(), "{\"openai/gpt-4o\": 1}".into()] {
        let mut env = Env::sqlite();
        env.set("CONEA_INSIGHTS_PRICES", &value)
            .set("CONEA_BIND", "127.0.0.1:0");
        let out = env.run(&["serve"]);
        assert!(
            out.code().is_some_and(|c| c != 0),
            "exits with a non-zero status: {out}"
        );
        out.assert_no_panic();
        assert!(out.stderr.contains("CONEA_INSIGHTS_PRICES"), "{out}");
        assert!(!out.stdout.contains("listening"), "nothing started: {out}");
    }
}

fn unreachable_database_env() -> Env {
    let mut env = Env::sqlite();
    env.set("DATABASE_URL", "postgres://postgres@127.0.0.1:1/test")
        .set("JWT_SECRET", JWT_SECRET)
        .set("CONEA_SECRET_KEY", SECRET_KEY)
        .set("CONEA_DB_CONNECT_TIMEOUT", "1s")
        .set("CONEA_BIND", "127.0.0.1:0");
    env
}

#[test]
fn unreachable_database_is_named_with_host_and_port_and_exits_nonzero() {
    let env = unreachable_database_env();
    for args in [&["serve"][..], &["migrate"], &["orgs", "list"]] {
        let out = env.run(args);
        let line = out.one_line_error();
        assert!(line.contains("127.0.0.1:1"), "names the address: {out}");
    }
}

#[test]

fn startup_errors_suggest_only_commands_that_exist() {
    let env = unreachable_database_env();
    let out = env.run(&["migrate"]);
    let mut suggested: Vec<&str> = out
        .stderr
        .split("`conea ")
        .skip(1)
        .filter_map(|rest| rest.split(|c: char| c == '`' || c.is_whitespace()).next())
        .collect();
    // The schema-behind error suggests `conea migrate`.
    let fresh = Env::sqlite();
    let behind = fresh.run(&["serve", "--no-migrate"]);
    suggested.extend(
        behind
            .stderr
            .split("`conea ")
            .skip(1)
            .filter_map(|rest| rest.split(|c: char| c == '`' || c.is_whitespace()).next()),
    );
    assert!(!suggested.is_empty(), "{out}\n{behind}");
    for command in suggested {
        let help = fresh.run(&[command, "--help"]);
        assert_eq!(
            help.code(),
            Some(0),
            "an error message suggests `conea {command}`, which is not a command: {help}"
        );
    }
}

#[test]
fn serve_with_no_migrate_refuses_a_fresh_database_until_conea_migrate_ran() {
    let env = Env::sqlite();
    let out = env.run(&["serve", "--no-migrate"]);
    let line = out.one_line_error();
    assert!(line.contains("conea migrate"), "says what to do: {out}");
    assert!(!out.stdout.contains("listening"), "{out}");

    env.run(&["migrate"]).success();
    let server = env.serve_with(&["--no-migrate"]);
    let (exit, stderr) = server.stop();
    assert_eq!(exit.code(), Some(0), "{stderr}");
}

// ----- config check -----

#[test]
fn config_check_with_defaults_finds_no_problems() {
    let env = Env::sqlite();
    let out = env.run(&["config", "check"]).success();
    assert!(out.stdout.contains("No problems found"), "{out}");
    let bind = lines_with(&out.stdout, "CONEA_BIND");
    assert_eq!(bind.len(), 1, "{out}");
    assert!(
        bind[0].contains("127.0.0.1:8080") && bind[0].contains("(default)"),
        "{out}"
    );
    assert!(
        !env.data_dir().exists(),
        "checking the configuration creates nothing"
    );
}

#[test]
fn config_check_names_every_bad_setting_and_exits_1() {
    let mut env = Env::sqlite();
    env.set("CONEA_BIND", "nowhere").set("JWT_TTL", "soon");
    let out = env.run(&["config", "check"]);
    assert_eq!(out.code(), Some(1), "{out}");
    out.assert_no_panic();
    let problems: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  - "))
        .collect();
    assert_eq!(problems.len(), 2, "two problems listed: {out}");
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("CONEA_BIND:") && p.contains("nowhere")),
        "{out}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("JWT_TTL:") && p.contains("soon")),
        "{out}"
    );
    assert!(out.stdout.contains("2 problem(s)"), "{out}");
}

#[test]
fn config_check_never_prints_secret_values() {
    let jwt_secret = "jwt-secret-that-must-stay-hidden-0123456789";
    let secret_key = "secret-key-that-must-stay-hidden-0123456789";
    let bootstrap = "conea_BootstrapKeyThatMustStayHidden0123456789";
    let db_password = "db-password-must-stay-hidden";
    let mut env = Env::sqlite();
    env.set("JWT_SECRET", jwt_secret)
        .set("CONEA_SECRET_KEY", secret_key)
        .set("CONEA_BOOTSTRAP_KEY", bootstrap)
        .set(
            "DATABASE_URL",
            &format!("postgres://conea:{db_password}@db.internal:5432/conea"),
        );
    let out = env.run(&["config", "check"]).success();
    for secret in [jwt_secret, secret_key, bootstrap, db_password] {
        assert!(
            !out.stdout.contains(secret) && !out.stderr.contains(secret),
            "`{secret}` is printed: {out}"
        );
    }
    let line = lines_with(&out.stdout, "JWT_SECRET");
    assert!(line.len() == 1 && line[0].contains("****"), "{out}");
    let line = lines_with(&out.stdout, "DATABASE_URL");
    assert!(
        line.len() == 1 && line[0].contains("db.internal:5432"),
        "the URL keeps its host: {out}"
    );

    // A too-short secret is a problem, still without its value.
    let mut env = Env::sqlite();
    env.set("JWT_SECRET", "short-jwt-secret-xyz");
    let out = env.run(&["config", "check"]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(
        lines_with(&out.stdout, "  - JWT_SECRET:").len() == 1,
        "the problem names JWT_SECRET: {out}"
    );
    assert!(
        !out.stdout.contains("short-jwt-secret-xyz")
            && !out.stderr.contains("short-jwt-secret-xyz"),
        "{out}"
    );
}

// ----- migrate -----

/// `(applied now, applied in total, known)` from `applied N migration(s); A of K current (B)`.
fn migrate_counts(env: &Env) -> (u32, u32, u32) {
    let out = env.run(&["migrate"]).success();
    let line = out.stdout_line();
    let words: Vec<&str> = line.split_whitespace().collect();
    let backend = match env.backend {
        support::Backend::Sqlite => "(sqlite)",
        support::Backend::Postgres => "(postgres)",
    };
    assert!(
        words.len() == 8
            && words[0] == "applied"
            && words[2] == "migration(s);"
            && words[4] == "of"
            && words[6] == "current"
            && words[7] == backend,
        "unexpected report: {out}"
    );
    let n = |w: &str| {
        w.parse::<u32>()
            .unwrap_or_else(|_| panic!("a count: {out}"))
    };
    (n(words[1]), n(words[3]), n(words[5]))
}

fn migrate_applies_pending_migrations_once_and_reports_counts(env: &Env) {
    let (applied, current, known) = migrate_counts(env);
    assert!(applied >= 1, "a fresh database gets migrations");
    assert_eq!((applied, current), (known, known));
    let again = migrate_counts(env);
    assert_eq!(again, (0, known, known), "nothing left to apply");
}

// ----- orgs -----

fn orgs_create_and_list_and_duplicate_slug_is_a_one_line_error(env: &Env) {
    let out = env
        .run(&["orgs", "create", "acme", "--name", "Acme Inc"])
        .success();
    let id = out.stdout_line();
    assert!(id.starts_with("org_"), "prints the id: {out}");

    let list = env.run(&["orgs", "list", "--json"]).success();
    let rows = list.stdout_json();
    let acme: Vec<&Value> = rows
        .as_array()
        .expect("an array")
        .iter()
        .filter(|r| r["slug"] == "acme")
        .collect();
    assert_eq!(acme.len(), 1, "{list}");
    assert_eq!(acme[0]["id"], id.as_str());
    assert_eq!(acme[0]["name"], "Acme Inc");
    assert!(
        acme[0]["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{list}"
    );

    let dup = env.run(&["orgs", "create", "acme"]);
    let line = dup.one_line_error();
    assert!(line.contains("acme"), "names the slug: {dup}");

    let bad = env.run(&["orgs", "create", "Not_A_Slug"]);
    let line = bad.one_line_error();
    assert!(line.contains("Not_A_Slug"), "{bad}");

    let list = env.run(&["orgs", "list", "--json"]).success();
    assert_eq!(
        list.stdout_json().as_array().map(Vec::len),
        Some(1),
        "failed creations left nothing: {list}"
    );
}

// ----- users and tokens -----

fn users_create_reads_password_from_stdin_and_token_issue_inspect_round_trip(env: &Env) {
    let org_id = env.create_default_org();
    let out = env
        .run_with_stdin(
            &[
                "users", "create", "--org", "default", "--email", "a@b.io", "--role", "admin",
            ],
            &format!("{PASSWORD}\n"),
        )
        .success();
    let user_id = out.stdout_line();
    assert!(user_id.starts_with("usr_"), "{out}");
    assert!(
        out.stderr.contains("a@b.io") && out.stderr.contains("admin"),
        "{out}"
    );
    assert!(
        !out.stdout.contains(PASSWORD) && !out.stderr.contains(PASSWORD),
        "{out}"
    );

    let dup = env.run_with_stdin(
        &["users", "create", "--org", "default", "--email", "a@b.io"],
        &format!("{PASSWORD}\n"),
    );
    assert!(dup.one_line_error().contains("a@b.io"), "{dup}");

    let issued = env.run(&["token", "issue", "--email", "a@b.io"]).success();
    let jwt = issued.stdout_line();
    assert_eq!(jwt.split('.').count(), 3, "a JWT: {issued}");

    let inspect = env.run(&["token", "inspect", &jwt]).success();
    let claims = inspected_claims(&inspect.stdout);
    assert_eq!(claims["sub"], user_id.as_str(), "{inspect}");
    assert_eq!(claims["org"], org_id.as_str(), "{inspect}");
    let iat = claims["iat"].as_i64().expect("iat");
    let exp = claims["exp"].as_i64().expect("exp");
    assert_eq!(exp - iat, 3600, "JWT_TTL defaults to 1h: {inspect}");
    assert!(
        inspect
            .stdout
            .contains(&format!("expires at: {} (valid for", utc(exp))),
        "expiry in UTC: {inspect}"
    );
    assert!(
        lines_with(&inspect.stdout, "issued at:")
            .iter()
            .any(|l| l.contains(&utc(iat))),
        "issue time in UTC: {inspect}"
    );
    assert!(
        lines_with(&inspect.stdout, "signature:")
            .iter()
            .any(|l| l.contains("not checked")),
        "{inspect}"
    );

    let valid = env
        .run(&["token", "inspect", &jwt, "--secret", &env.jwt_secret()])
        .success();
    let sig = lines_with(&valid.stdout, "signature:");
    assert!(
        sig.len() == 1 && sig[0].contains("valid") && !sig[0].contains("INVALID"),
        "{valid}"
    );

    let wrong = env.run(&[
        "token",
        "inspect",
        &jwt,
        "--secret",
        "another-secret-0123456789abcdef0123456789",
    ]);
    assert_eq!(wrong.code(), Some(1), "{wrong}");
    wrong.assert_no_panic();
    let sig = lines_with(&wrong.stdout, "signature:");
    assert!(sig.len() == 1 && sig[0].contains("INVALID"), "{wrong}");
}

#[test]
fn users_create_without_a_password_on_stdin_is_a_one_line_error() {
    let env = Env::sqlite();
    env.create_default_org();
    let out = env.run_with_stdin(
        &["users", "create", "--org", "default", "--email", "a@b.io"],
        "",
    );
    assert!(out.one_line_error().contains("password"), "{out}");
}

#[test]
fn users_set_password_reads_stdin_and_refuses_a_short_password_or_an_unknown_user() {
    let env = Env::sqlite();
    env.create_default_org();
    env.run_with_stdin(
        &["users", "create", "--org", "default", "--email", "a@b.io"],
        &format!("{PASSWORD}\n"),
    )
    .success();
    let ok = env
        .run_with_stdin(
            &["users", "set-password", "--email", "a@b.io"],
            "a brand new password\n",
        )
        .success();
    assert!(ok.stderr.contains("a@b.io"), "{ok}");
    assert!(!ok.stderr.contains("a brand new password"), "{ok}");
    let short = env.run_with_stdin(&["users", "set-password", "--email", "a@b.io"], "short\n");
    assert!(short.one_line_error().contains("8 characters"), "{short}");
    let unknown = env.run_with_stdin(
        &["users", "set-password", "--email", "nobody@b.io"],
        "a brand new password\n",
    );
    assert!(
        unknown.one_line_error().contains("nobody@b.io"),
        "{unknown}"
    );
}

#[test]
fn token_inspect_reports_an_expired_token_with_its_expiry_in_utc() {
    let env = Env::sqlite();
    let secret = "expired-token-test-secret-0123456789abcdef";
    let exp: i64 = 1_600_000_000; // 2020-09-13T12:26:40Z
    let claims = json!({
        "sub": "usr_01a2244bd2c3703d99c7fd1b0c6a3e99",
        "org": "org_01a2244bd298731a9ab57d68043d7efb",
        "iat": exp - 3600,
        "nbf": exp - 3600,
        "exp": exp,
        "iss": "conea",
        "aud": "conea-api",
        "jti": "01a2244bd2ca73208ff558dafc4f6343",
    });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("encode");

    let out = env.run(&["token", "inspect", &token]).success();
    assert_eq!(inspected_claims(&out.stdout), claims, "{out}");
    assert_eq!(utc(exp), "2020-09-13T12:26:40Z");
    let expires = lines_with(&out.stdout, "expires at:");
    assert!(
        expires.len() == 1
            && expires[0].contains("2020-09-13T12:26:40Z")
            && expires[0].contains("EXPIRED"),
        "{out}"
    );

    let checked = env.run(&["token", "inspect", &token, "--secret", secret]);
    checked.assert_no_panic();
    assert!(
        lines_with(&checked.stdout, "expires at:")
            .iter()
            .any(|l| l.contains("EXPIRED")),
        "{checked}"
    );
    let sig = lines_with(&checked.stdout, "signature:");
    assert!(
        sig.len() == 1 && sig[0].contains("valid") && !sig[0].contains("INVALID"),
        "an expired token still has a valid signature: {checked}"
    );

    let wrong = env.run(&[
        "token",
        "inspect",
        &token,
        "--secret",
        "another-secret-0123456789abcdef0123456789",
    ]);
    assert_eq!(wrong.code(), Some(1), "{wrong}");
    assert!(
        lines_with(&wrong.stdout, "signature:")
            .iter()
            .any(|l| l.contains("INVALID")),
        "{wrong}"
    );
}

#[test]
fn token_inspect_of_garbage_is_a_one_line_error() {
    let env = Env::sqlite();
    let out = env.run(&["token", "inspect", "not-a-token"]);
    assert!(out.one_line_error().contains("JWT"), "{out}");
}

// ----- members -----

fn members_set_role_changes_a_members_role(env: &Env) {
    env.create_default_org();
    let user_id = create_user(env, "a@b.io", "admin");

    let out = env
        .run(&[
            "members", "set-role", "--org", "default", "--user", "a@b.io", "--role", "viewer",
        ])
        .success();
    let line = out.stdout_line();
    assert!(
        line.contains("a@b.io") && line.contains("viewer") && line.contains("default"),
        "{out}"
    );

    let by_id = env
        .run(&[
            "members", "set-role", "--org", "default", "--user", &user_id, "--role", "member",
        ])
        .success();
    assert!(by_id.stdout_line().contains("member"), "{by_id}");

    let bad_role = env.run(&[
        "members",
        "set-role",
        "--org",
        "default",
        "--user",
        "a@b.io",
        "--role",
        "superuser",
    ]);
    let line = bad_role.one_line_error();
    assert!(
        line.contains("superuser") && line.contains("viewer"),
        "names the roles: {bad_role}"
    );

    env.run(&["orgs", "create", "other"]).success();
    let not_member = env.run(&[
        "members", "set-role", "--org", "other", "--user", "a@b.io", "--role", "viewer",
    ]);
    not_member.one_line_error();

    let unknown = env.run(&[
        "members",
        "set-role",
        "--org",
        "default",
        "--user",
        "nobody@b.io",
        "--role",
        "viewer",
    ]);
    assert!(
        unknown.one_line_error().contains("nobody@b.io"),
        "{unknown}"
    );
}

// ----- keys -----

fn keys_create_prints_only_the_secret_and_list_and_revoke_never_show_it(env: &Env) {
    env.create_default_org();
    let out = env
        .run(&[
            "keys",
            "create",
            "--org",
            "default",
            "--name",
            "ci",
            "--permission",
            "data:read",
            "--permission",
            "jobs:read",
        ])
        .success();
    let secret = out.stdout_line();
    assert!(secret.starts_with("conea_"), "{out}");
    assert_eq!(
        out.stdout,
        format!("{secret}\n"),
        "only the secret on stdout"
    );
    assert!(
        out.stderr.contains("data:read") && out.stderr.contains("jobs:read"),
        "details on stderr: {out}"
    );
    assert!(
        !out.stderr.contains(&secret),
        "the secret is not repeated on stderr: {out}"
    );
    let key_id = out
        .stderr
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|w| w.starts_with("key_"))
        .unwrap_or_else(|| panic!("the key id on stderr: {out}"))
        .to_owned();

    let json = env
        .run(&["keys", "list", "--org", "default", "--json"])
        .success();
    assert!(!json.stdout.contains(&secret), "no secret: {json}");
    let row = key_row(env, &key_id);
    assert_eq!(row["name"], "ci");
    assert_eq!(names(&row["permissions"]), vec!["data:read", "jobs:read"]);
    assert!(row["revoked_at"].is_null(), "{row}");

    let table = env.run(&["keys", "list", "--org", "default"]).success();
    assert!(!table.stdout.contains(&secret), "no secret: {table}");
    let line = lines_with(&table.stdout, &key_id);
    assert!(line.len() == 1 && line[0].contains("active"), "{table}");

    let revoked = env.run(&["keys", "revoke", &key_id]).success();
    assert!(revoked.stdout.contains(&key_id), "{revoked}");
    assert!(!revoked.stdout.contains(&secret), "{revoked}");
    let row = key_row(env, &key_id);
    assert!(
        row["revoked_at"].as_str().is_some_and(|t| t.ends_with('Z')),
        "revocation time in UTC: {row}"
    );
    let table = env.run(&["keys", "list", "--org", "default"]).success();
    let line = lines_with(&table.stdout, &key_id);
    assert!(line.len() == 1 && line[0].contains("revoked"), "{table}");

    let unknown = env.run(&[
        "keys",
        "create",
        "--org",
        "default",
        "--name",
        "bad",
        "--permission",
        "data:delete",
    ]);
    let line = unknown.one_line_error();
    for name in [
        "data:delete",
        "data:read",
        "data:write",
        "ai:use",
        "jobs:read",
        "keys:manage",
    ] {
        assert!(line.contains(name), "names `{name}`: {unknown}");
    }
    let rows = env
        .run(&["keys", "list", "--org", "default", "--json"])
        .success()
        .stdout_json();
    assert!(
        !rows
            .as_array()
            .expect("an array")
            .iter()
            .any(|r| r["name"] == "bad"),
        "no key created: {rows}"
    );

    let missing = env.run(&["keys", "revoke", "key_00000000000000000000000000000000"]);
    missing.one_line_error();
}

// ----- grant-permission -----

fn grant_permission_to_user_and_key_shows_in_keys_list_and_on_the_server(env: &Env) {
    let server = env.serve();
    let user_id = create_user(env, "a@b.io", "admin");
    env.run(&[
        "members", "set-role", "--org", "default", "--user", "a@b.io", "--role", "viewer",
    ])
    .success();
    create_user(env, "plain@b.io", "viewer");
    let (secret, key_id) = create_key(env, "ci", &["data:read"]);

    let out = env
        .run(&[
            "grant-permission",
            "--user",
            "a@b.io",
            "--permission",
            "ai:use",
        ])
        .success();
    assert!(out.stdout.contains("ai:use"), "{out}");
    env.run(&[
        "grant-permission",
        "--key",
        &key_id,
        "--permission",
        "data:write",
    ])
    .success();
    let bad = env.run(&[
        "grant-permission",
        "--user",
        "a@b.io",
        "--permission",
        "everything",
    ]);
    assert!(bad.one_line_error().contains("everything"), "{bad}");

    let row = key_row(env, &key_id);
    assert_eq!(names(&row["permissions"]), vec!["data:read", "data:write"]);

    let jwt = env
        .run(&["token", "issue", "--email", "a@b.io"])
        .success()
        .stdout_line();
    let (status, body) = server.get("/v1/auth/verify", &jwt);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["kind"], "user");
    assert_eq!(body["subject"], user_id.as_str());
    assert_eq!(body["role"], "viewer", "set-role took effect: {body}");
    let perms = names(&body["permissions"]);
    assert!(perms.contains(&"ai:use"), "granted: {body}");
    assert!(perms.contains(&"data:read"), "from the role: {body}");

    // Without the grant a viewer has no ai:use: the grant is what added it.
    let plain = env
        .run(&["token", "issue", "--email", "plain@b.io"])
        .success()
        .stdout_line();
    let (status, body) = server.get("/v1/auth/verify", &plain);
    assert_eq!(status, 200, "{body}");
    assert!(!names(&body["permissions"]).contains(&"ai:use"), "{body}");

    let (status, body) = server.get("/v1/auth/verify", &secret);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["subject"], key_id.as_str());
    assert_eq!(names(&body["permissions"]), vec!["data:read", "data:write"]);

    let (exit, stderr) = server.stop();
    assert_eq!(exit.code(), Some(0), "{stderr}");
}

/// Changes made with the CLI reach a server that is already running, within its epoch poll
/// (polled here with a deadline; no sleeping to let time pass).
fn cli_changes_reach_a_running_server_without_restart(env: &Env) {
    let server = env.serve();
    create_user(env, "a@b.io", "viewer");
    let (secret, key_id) = create_key(env, "ci", &["data:read"]);
    let jwt = env
        .run(&["token", "issue", "--email", "a@b.io"])
        .success()
        .stdout_line();

    // Seen (and cached) by the server before the changes.
    let (status, body) = server.get("/v1/auth/verify", &jwt);
    assert_eq!(status, 200, "{body}");
    assert!(!names(&body["permissions"]).contains(&"ai:use"), "{body}");
    let (status, body) = server.get("/v1/auth/verify", &secret);
    assert_eq!(status, 200, "{body}");

    env.run(&[
        "grant-permission",
        "--user",
        "a@b.io",
        "--permission",
        "ai:use",
    ])
    .success();
    env.run(&["keys", "revoke", &key_id]).success();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, user) = server.get("/v1/auth/verify", &jwt);
        let (key_status, key) = server.get("/v1/auth/verify", &secret);
        let granted = user["permissions"]
            .as_array()
            .is_some_and(|p| p.iter().any(|v| v == "ai:use"));
        if granted && key_status == 401 {
            assert_eq!(key["error"]["code"], "revoked_api_key", "{key}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the running server still answers with the old state: user {user}, key {key_status} {key}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (exit, stderr) = server.stop();
    assert_eq!(exit.code(), Some(0), "{stderr}");
}

// ----- help and errors -----

/// The subcommand names of a `--help` text (the `Commands:` section, without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_subcommand_prints_help_without_touching_the_database() {
    let env = Env::sqlite();
    let mut seen: Vec<String> = Vec::new();
    let mut queue: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(path) = queue.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let out = env.run(&args).success();
        let usage = if path.is_empty() {
            "Usage: conea".to_owned()
        } else {
            format!("Usage: conea {}", path.join(" "))
        };
        assert!(out.stdout.contains(&usage), "{out}");
        for sub in subcommands(&out.stdout) {
            let mut next = path.clone();
            next.push(sub);
            queue.push(next);
        }
        seen.push(path.join(" "));
    }
    for expected in [
        "serve",
        "migrate",
        "config",
        "config check",
        "orgs",
        "orgs create",
        "orgs list",
        "users",
        "users create",
        "members",
        "members set-role",
        "keys",
        "keys create",
        "keys list",
        "keys revoke",
        "grant-permission",
        "token",
        "token inspect",
        "token issue",
    ] {
        assert!(
            seen.iter().any(|s| s == expected),
            "`conea {expected} --help` was checked; found: {seen:?}"
        );
    }
    assert!(!env.data_dir().exists(), "--help creates nothing");
}

fn errors_are_one_line_naming_what_is_missing(env: &Env) {
    let out = env.run(&["keys", "list", "--org", "nope"]);
    assert!(out.one_line_error().contains("nope"), "{out}");

    let password = format!("{PASSWORD}\n");
    let cases: [(&[&str], &str, &str); 5] = [
        (
            &["keys", "create", "--org", "nope", "--name", "x"],
            "",
            "nope",
        ),
        (
            &["users", "create", "--org", "nope", "--email", "x@y.io"],
            &password,
            "nope",
        ),
        (
            &[
                "members", "set-role", "--org", "nope", "--user", "x@y.io", "--role", "viewer",
            ],
            "",
            "nope",
        ),
        (
            &["token", "issue", "--email", "nobody@y.io"],
            "",
            "nobody@y.io",
        ),
        (
            &[
                "grant-permission",
                "--user",
                "nobody@y.io",
                "--permission",
                "ai:use",
            ],
            "",
            "nobody@y.io",
        ),
    ];
    for (args, stdin, named) in cases {
        let out = env.run_with_stdin(args, stdin);
        assert!(
            out.one_line_error().contains(named),
            "names `{named}`: {out}"
        );
    }
}

fn jobs_enqueue_refuses_arguments_its_kind_cannot_read(env: &Env) {
    env.create_default_org();
    let out = env.run(&["jobs", "enqueue", "shopify.sync", "--args", "{}"]);
    let line = out.one_line_error();
    assert!(
        line.contains("bad shopify.sync arguments") && line.contains("shop_id"),
        "names the kind and the missing field: {out}"
    );
    let out = env.run(&["jobs", "list", "--json"]).success();
    assert!(
        !out.stdout.contains("shopify.sync"),
        "nothing was enqueued: {out}"
    );
    env.run(&["jobs", "enqueue", "noop", "--args", "{}"])
        .success();
}

on_both_backends!(
    jobs_enqueue_refuses_arguments_its_kind_cannot_read,
    migrate_applies_pending_migrations_once_and_reports_counts,
    orgs_create_and_list_and_duplicate_slug_is_a_one_line_error,
    users_create_reads_password_from_stdin_and_token_issue_inspect_round_trip,
    members_set_role_changes_a_members_role,
    keys_create_prints_only_the_secret_and_list_and_revoke_never_show_it,
    grant_permission_to_user_and_key_shows_in_keys_list_and_on_the_server,
    cli_changes_reach_a_running_server_without_restart,
    errors_are_one_line_naming_what_is_missing,
);

#[test]
fn analytics_prints_the_servers_report_as_json_when_piped_and_its_error_in_one_line() {
    let env = Env::sqlite();
    let server = env.serve();
    let (secret, _) = create_key(&env, "reports", &["data:read"]);
    let url = format!("http://{}", server.addr);
    let out = env
        .run(&[
            "analytics",
            "sales_over_time",
            "--url",
            &url,
            "--token",
            &secret,
            "--from",
            "2025-01-01",
            "--to",
            "2025-01-03",
            "--timezone",
            "Asia/Tokyo",
        ])
        .success();
    let body = out.stdout_json();
    assert_eq!(body["report"], "sales_over_time", "{out}");
    assert_eq!(body["timezone"], "Asia/Tokyo");
    assert_eq!(body["orders"], 0, "an empty range answers zeros");
    let out = env.run(&[
        "analytics",
        "sales_over_time",
        "--url",
        &url,
        "--token",
        &secret,
        "--timezone",
        "Mars/Base",
    ]);
    let line = out.one_line_error();
    assert!(
        line.contains("400 invalid_parameter") && line.contains("`timezone`"),
        "{line}"
    );
    let (exit, stderr) = server.stop();
    assert_eq!(exit.code(), Some(0), "{stderr}");
}

/// A CSV of `n` orders (every third with two line-item rows; order 5's title spans two
/// lines in quotes) and one row whose `created_at` is not a time, at the line it returns.
fn orders_csv(n: u64) -> (String, u64) {
    let mut csv = String::from(
        "order_id,created_at,currency,total_price,line_item_id,title,quantity,price\n",
    );
    let mut line = 1;
    let mut bad_line = 0;
    for id in 1..=n {
        let rows = if id % 3 == 0 { 2 } else { 1 };
        for r in 0..rows {
            let title = if id == 5 {
                "\"Tea, \"\"green\"\"\nloose\"".to_string()
            } else {
                format!("Item {r}")
            };
            csv.push_str(&format!(
                "{id},2025-01-{:02}T10:00:00Z,JPY,{},{}{r},{title},1,1000\n",
                1 + id % 28,
                1000 * rows,
                id * 10
            ));
            line += if id == 5 { 2 } else { 1 };
        }
        if id == 20 {
            csv.push_str("999,yesterday,JPY,5,9990,Bad,1,5\n");
            line += 1;
            bad_line = line;
        }
    }
    (csv, bad_line)
}

#[test]
fn data_import_sends_parts_resumes_where_it_stopped_and_export_reads_the_orders_back() {
    let env = Env::sqlite();
    let server = env.serve();
    let (secret, _) = create_key(&env, "importer", &["data:write", "data:read", "jobs:read"]);
    let url = format!("http://{}", server.addr);
    let (csv, bad_line) = orders_csv(40);
    let file = env.data_dir().join("orders.csv");
    std::fs::write(&file, &csv).unwrap();
    let file = file.display().to_string();
    let import = |extra: &[&str]| {
        let mut args = vec![
            "data",
            "import",
            &file,
            "--kind",
            "orders",
            "--part-size",
            "120",
            "--url",
            &url,
            "--token",
            &secret,
        ];
        args.extend_from_slice(extra);
        env.run(&args)
    };
    // Parts of 120 bytes (about two rows): many end inside an order of two rows, and must
    // take its second row along. (A part whose every row is rejected fails as a whole, so
    // the bad row shares a part with good ones here.)
    // Two parts now, the rest later.
    let out = import(&["--max-parts", "2"]).success();
    assert!(out.stderr.contains("Stopped after 2 part(s)"), "{out}");
    let state = format!("{file}.conea-import");
    assert!(
        std::path::Path::new(&state).exists(),
        "the upload's state is kept: {out}"
    );
    let out = import(&[]).success();
    assert!(out.stderr.contains("Resuming: 2 part(s)"), "{out}");
    assert!(
        !std::path::Path::new(&state).exists(),
        "and removed when done"
    );
    let result = out.stdout_json();
    let parts = result["parts"].as_u64().unwrap();
    assert!(parts > 10, "120-byte parts, about two rows each: {result}");
    assert_eq!(result["inserted"], 40, "{result}");
    assert_eq!(result["rejected"], 1, "{result}");
    assert_eq!(
        result["first_rejections"][0]["line"], bad_line,
        "numbered as a line of the file: {result}"
    );
    assert!(result["failed"].as_array().unwrap().is_empty(), "{result}");
    // One import job per part: the resumed run did not send the first two parts again.
    let jobs = env.run(&["jobs", "list", "--json"]).success();
    assert_eq!(
        jobs.stdout.matches("\"data.import\"").count() as u64,
        parts,
        "{jobs}"
    );

    // The orders read back, each once.
    let out = env
        .run(&[
            "data", "export", "orders", "--format", "ndjson", "--url", &url, "--token", &secret,
        ])
        .success();
    let mut ids: Vec<i64> = out
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=40).collect::<Vec<i64>>(), "{out}");
    // Every line item is there (no part split an order's rows: a split would have replaced
    // the order's items with the later part's): 40 orders, 13 of them with two rows.
    let analytics = |report: &str| {
        env.run(&[
            "analytics",
            report,
            "--from",
            "2025-01-01",
            "--to",
            "2025-01-31",
            "--limit",
            "500",
            "--url",
            &url,
            "--token",
            &secret,
            "--json",
        ])
        .success()
        .stdout_json()
    };
    let products = analytics("product_performance");
    let jpy = &products["currencies"][0];
    assert_eq!(jpy["totals"]["units"], 53, "{products}");
    // Order 5's quoted title with a comma, quotes and a newline arrived whole.
    assert!(
        jpy["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["title"] == "Tea, \"green\"\nloose"),
        "{products}"
    );

    // A filter the server refuses is one line naming it.
    let out = env.run(&[
        "data",
        "export",
        "orders",
        "--filter",
        "created_from=soon",
        "--url",
        &url,
        "--token",
        &secret,
    ]);
    assert!(out.one_line_error().contains("created_from"), "{out}");
    let (exit, stderr) = server.stop();
    assert_eq!(exit.code(), Some(0), "{stderr}");
}

#[test]
fn schedules_list_run_now_and_disable_talk_to_a_running_server() {
    let env = Env::sqlite();
    let server = env.serve();
    let (secret, _) = create_key(&env, "reports", &["data:read", "data:write"]);
    let url = format!("http://{}", server.addr);
    let created: Value = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async {
            reqwest::Client::new()
                .post(format!("{url}/v1/schedules"))
                .bearer_auth(&secret)
                .json(&json!({
                    "report": "sales_over_time", "cron": "0 9 * * MON", "timezone": "Asia/Tokyo",
                    "deliver": [{"channel": "webhook", "target": "http://127.0.0.1:9/hook"}]
                }))
                .send()
                .await
                .unwrap()
                .json()
                .await
        })
        .unwrap();
    let id = created["id"].as_str().expect("created").to_owned();
    let args = |cmd: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["schedules".into()];
        v.extend(cmd.iter().map(|s| s.to_string()));
        v.extend([
            "--url".into(),
            url.clone(),
            "--token".into(),
            secret.clone(),
        ]);
        v
    };
    let run = |cmd: &[&str]| {
        let a = args(cmd);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        env.run(&refs)
    };
    let out = run(&["list"]).success();
    let body = out.stdout_json();
    assert_eq!(body["data"][0]["id"], id.as_str(), "{out}");
    assert_eq!(body["data"][0]["next_runs"].as_array().unwrap().len(), 5);
    let out = run(&["run-now", &id]).success();
    assert!(
        out.stdout_json()["job_id"]
            .as_str()
            .unwrap()
            .starts_with("job_"),
        "{out}"
    );
    let out = run(&["disable", &id]).success();
    assert_eq!(out.stdout_json()["enabled"], false, "{out}");
    let out = run(&["disable", "sch_00000000000000000000000000000000"]);
    let line = out.one_line_error();
    assert!(line.contains("404 not_found"), "{line}");
    let (exit, stderr) = server.stop();
    assert_eq!(exit.code(), Some(0), "{stderr}");
}
