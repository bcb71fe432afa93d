//! The command-line interface (clap). Every command has `--help`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "conea", version, about = "Conea integration platform: server and operations tools.", long_about = None)]
pub struct Cli {
    /// Optional TOML configuration file; environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server (migrates the database first unless --no-migrate).
    Serve {
        /// Do not run migrations at start; refuse to start when they are not current.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage organizations.
    #[command(subcommand)]
    Orgs(OrgsCommand),
    /// Manage users (passwords are read from standard input).
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage organization members.
    #[command(subcommand)]
    Members(MembersCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Grant a permission directly to a user or an API key.
    GrantPermission(GrantArgs),
    /// Inspect or issue JWTs.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Run a job worker alone (no HTTP server).
    Worker {
        /// Jobs run at once (default CONEA_WORKER_CONCURRENCY).
        #[arg(long)]
        concurrency: Option<usize>,
    },
    /// Inspect and manage background jobs.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Incidents and the escalation policy.
    #[command(subcommand)]
    Incidents(IncidentsCommand),
    /// Ask a running server for an analytics report and print it: a table on a terminal,
    /// JSON with --json or when piped.
    Analytics(AnalyticsArgs),
    /// Send a file of orders, products or customers to a running server, or export them.
    #[command(subcommand)]
    Data(DataCommand),
    /// Report schedules on a running server: list them, run one now, disable one.
    Schedules(SchedulesArgs),
    /// Check configuration, database, Redis, jobs and (with --url) a running server; say
    /// what is wrong and what fixes it. Exit 1 when a check failed.
    Diagnose {
        /// A running server to check, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: Option<String>,
        /// A token or API key for the server's authenticated checks.
        #[arg(long)]
        token: Option<String>,
        /// Database connections idle longer than this are reported.
        #[arg(long, default_value = "10m")]
        idle_over: String,
        /// Also list the warnings and errors this machine's server logged in this period
        /// (e.g. `1h`), from `<CONEA_DATA_DIR>/logs`.
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        kubernetes: KubernetesArgs,
        /// Instead of the checks, record a CPU profile of the server at --url for this long
        /// (e.g. `30s`, 1s to 5m) and write its flame graph (SVG). --token must have `admin`.
        #[arg(long, requires = "url", value_name = "DURATION")]
        profile: Option<String>,
        /// Where --profile writes the flame graph (default: conea-profile-<UTC time>.svg in
        /// the current directory).
        #[arg(long, requires = "profile", value_name = "PATH")]
        profile_out: Option<std::path::PathBuf>,
    },
    /// Database tools: connections, slow statements, replication.
    #[command(subcommand)]
    Db(DbCommand),
    /// Show or set rate-limit overrides (per organization or per API key).
    #[command(subcommand)]
    Limits(LimitsCommand),
    /// Measure an HTTP endpoint's latency, or a server's throughput under load.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Shopify: sign and verify webhook bodies, list shops, start a sync, manage webhooks,
    /// make signed install links.
    #[command(subcommand)]
    Shopify(ShopifyCommand),
}

#[derive(Subcommand, Debug)]
pub enum ShopifyCommand {
    /// Print the X-Shopify-Hmac-Sha256 value of the body read from standard input.
    Sign {
        /// The app's API secret.
        #[arg(long)]
        secret: String,
    },
    /// Say whether --hmac is the signature of the body read from standard input; exit 1
    /// when it is not.
    Verify {
        #[arg(long)]
        secret: String,
        /// The X-Shopify-Hmac-Sha256 value received.
        #[arg(long)]
        hmac: String,
    },
    /// Shopify shops of an organization with status, last sync and webhook counters.
    Shops {
        #[arg(long, default_value = "default")]
        org: String,
        #[arg(long)]
        json: bool,
    },
    /// Enqueue a sync of a shop (its id or domain); prints the job id.
    Sync {
        /// `shop_…` or `name.myshopify.com`.
        shop: String,
    },
    /// Enqueue the refresh of one object: read again from Shopify, deleted here when
    /// Shopify answers 404. Prints the job id.
    Refresh {
        /// `shop_…` or `name.myshopify.com`.
        shop: String,
        /// `products`, `orders` or `customers`.
        #[arg(value_parser = ["products", "orders", "customers"])]
        resource: String,
        /// The object's Shopify id.
        id: i64,
    },
    /// Make a signed install link for a shop: whoever opens it (no Conea credential) starts
    /// installing the Conea app in the shop for the organization. Works once. Prints the URL.
    InstallLink {
        /// `name.myshopify.com`.
        #[arg(long)]
        shop: String,
        #[arg(long, default_value = "default")]
        org: String,
        /// How long the link is valid (1m to 7d; default 24h).
        #[arg(long, value_parser = conea_core::config::duration::parse)]
        expires_in: Option<std::time::Duration>,
        /// Print `{url, shop, expires_at}` as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The webhook subscriptions Conea keeps at a shop (its topics delivered to
    /// CONEA_PUBLIC_URL + /v1/webhooks/shopify).
    #[command(subcommand)]
    Webhooks(ShopifyWebhooksCommand),
}

#[derive(Subcommand, Debug)]
pub enum ShopifyWebhooksCommand {
    /// List the shop's subscriptions at Shopify: Conea's, the topics missing, others'.
    List {
        /// `shop_…` or `name.myshopify.com`.
        shop: String,
        #[arg(long)]
        json: bool,
    },
    /// Subscribe again every topic Conea handles that has no subscription to this server
    /// (subscriptions to other addresses are left alone), then list them.
    Repair {
        /// `shop_…` or `name.myshopify.com`.
        shop: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the effective configuration (secrets redacted) and every problem; exit 1 on problems.
    Check,
    /// Print the Markdown table of every setting (variable, TOML key, default, meaning), as in
    /// the README.
    Table,
}

#[derive(Subcommand, Debug)]
pub enum OrgsCommand {
    /// Create an organization.
    Create {
        /// 2-63 lowercase letters, digits or dashes.
        slug: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// List organizations.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Create a user in an organization; the password is read from standard input.
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        /// owner, admin, member or viewer.
        #[arg(long, default_value = "member")]
        role: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// Set a user's password (read from standard input); their console sessions end.
    SetPassword {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum MembersCommand {
    /// Change a member's role.
    SetRole {
        #[arg(long)]
        org: String,
        /// The user's email or id.
        #[arg(long)]
        user: String,
        #[arg(long)]
        role: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a key; prints only the secret on stdout, details on stderr.
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
        /// A permission to give the key; repeat for more.
        #[arg(long = "permission", value_name = "PERMISSION")]
        permissions: Vec<String>,
        /// RFC 3339 expiry time.
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// List an organization's keys (never secrets).
    List {
        #[arg(long)]
        org: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by id.
    Revoke { id: String },
}

#[derive(Args, Debug)]
pub struct GrantArgs {
    /// The user's email.
    #[arg(long, conflicts_with = "key", required_unless_present = "key")]
    pub user: Option<String>,
    /// The key's id (key_…).
    #[arg(long)]
    pub key: Option<String>,
    /// For a user in several organizations: which one (slug). Default: their first.
    #[arg(long)]
    pub org: Option<String>,
    #[arg(long)]
    pub permission: String,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Decode a JWT without trusting it: header, claims, times in UTC, time left; with
    /// --secret, whether the signature verifies.
    Inspect {
        token: String,
        /// The HMAC secret to check the signature with (default: none, no check).
        #[arg(long)]
        secret: Option<String>,
    },
    /// Issue a JWT for a user (as login would, without the password).
    Issue {
        #[arg(long)]
        email: String,
        /// Lifetime, e.g. 15m or 2h (default JWT_TTL).
        #[arg(long)]
        ttl: Option<String>,
        /// Organization slug (default: the user's first).
        #[arg(long)]
        org: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Send requests one after another; print avg, p50, p95, p99 and max latency and the
    /// error rate (status >= 400 or a transport error).
    Endpoint(BenchEndpointArgs),
    /// Load a URL from concurrent keep-alive connections for a duration. Without --rate each
    /// connection sends its next request when the previous one answers (closed loop); with
    /// --rate requests are scheduled at fixed intervals and latency is measured from the
    /// scheduled send time (open loop, no coordinated omission).
    Load(BenchLoadArgs),
    /// Serve a mock OpenAI Chat Completions upstream with a fixed latency (for measuring
    /// the AI gateway's overhead: load it directly, then through Conea; with --tools, a
    /// scripted model that calls tools, for the insights benchmark).
    Upstream {
        #[arg(long, default_value = "127.0.0.1:0")]
        bind: String,
        /// Delay before each answer (and before the first streamed chunk).
        #[arg(long, default_value = "20ms")]
        latency: String,
        /// Act as a scripted model for the insights benchmark: offered tools, call these
        /// (comma-separated names), one per turn in order, then answer from the first
        /// result.
        #[arg(long, value_name = "NAME,...")]
        tools: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct BenchRequestArgs {
    /// The URL to request (http:// or https://).
    pub url: String,
    /// A request header `Name: value`; repeat for more.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// The request method.
    #[arg(long, default_value = "GET")]
    pub method: String,
    /// The request body, sent as is.
    #[arg(long)]
    pub body: Option<String>,
    /// Set this header to a value unique to each request (`bench-<pid>-<n>`), e.g. a
    /// webhook's `X-Shopify-Event-Id`, so no request is a duplicate of another.
    #[arg(long, value_name = "NAME")]
    pub unique_header: Option<String>,
    /// A request taking longer than this is abandoned and counts as a transport error.
    #[arg(long, default_value = "30s", value_parser = conea_core::config::duration::parse)]
    pub timeout: std::time::Duration,
    /// Print the result as JSON on stdout (latencies in milliseconds, error_rate from 0 to 1).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct BenchEndpointArgs {
    #[command(flatten)]
    pub request: BenchRequestArgs,
    /// How many requests to send.
    #[arg(short = 'n', long = "requests", default_value_t = 100)]
    pub requests: u64,
}

#[derive(Args, Debug)]
pub struct BenchLoadArgs {
    #[command(flatten)]
    pub request: BenchRequestArgs,
    /// Concurrent connections (one worker each).
    #[arg(short = 'c', long = "connections", default_value_t = 10)]
    pub connections: usize,
    /// How long to load: 500ms, 30s, 10m, ...
    #[arg(short = 'd', long = "duration", default_value = "10s", value_parser = conea_core::config::duration::parse)]
    pub duration: std::time::Duration,
    /// Total requests per second across all connections (open loop). Default: as fast as
    /// the server answers (closed loop).
    #[arg(long)]
    pub rate: Option<f64>,
}

#[derive(Subcommand, Debug)]
pub enum LimitsCommand {
    /// Set the limit of one API key or one organization; replicas apply it within seconds.
    Set {
        /// The key's id (key_...).
        #[arg(long, conflicts_with = "org", required_unless_present = "org")]
        key: Option<String>,
        /// The organization's slug.
        #[arg(long)]
        org: Option<String>,
        /// Requests per minute.
        #[arg(long)]
        per_minute: u32,
        /// Requests a full bucket allows at once (default: per-minute).
        #[arg(long)]
        burst: Option<u32>,
    },
    /// Show the default limit and every override.
    Show {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum JobsCommand {
    /// Recent jobs of an organization.
    List {
        #[arg(long, default_value = "default")]
        org: String,
        /// Only this status (available, scheduled, running, retryable, completed, discarded, cancelled).
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// One job with its errors and result.
    Show { id: String },
    /// Cancel a waiting job, or ask a running one to stop.
    Cancel { id: String },
    /// Run a discarded or cancelled job again.
    Retry { id: String },
    /// Enqueue jobs of a kind (diagnostics and load tests; e.g. `noop`).
    Enqueue {
        kind: String,
        #[arg(long, default_value = "default")]
        org: String,
        /// The job arguments as JSON.
        #[arg(long, default_value = "{}")]
        args: String,
        /// How many (inserted in batches).
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
    /// Queue statistics: counts by kind and state, oldest waiting job.
    Stats {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum IncidentsCommand {
    /// Recent incidents of an organization.
    List {
        #[arg(long, default_value = "default")]
        org: String,
        /// Only this status (open, acknowledged, resolved).
        #[arg(long)]
        status: Option<String>,
        /// Only this severity (critical, high, medium, low).
        #[arg(long)]
        severity: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// One incident with its timeline (JSON).
    Show {
        id: String,
        #[arg(long, default_value = "default")]
        org: String,
    },
    /// Open an incident (or add a report to the unresolved one with the same dedup key).
    Open {
        title: String,
        #[arg(long)]
        severity: String,
        #[arg(long, default_value = "default")]
        org: String,
        #[arg(long)]
        dedup_key: Option<String>,
        #[arg(long)]
        summary: Option<String>,
    },
    /// Acknowledge an open incident (stops escalation for lack of an acknowledgement).
    Ack {
        id: String,
        #[arg(long, default_value = "default")]
        org: String,
    },
    /// Resolve an incident (cancels every pending step).
    Resolve {
        id: String,
        #[arg(long, default_value = "default")]
        org: String,
    },
    /// Print the Markdown postmortem draft.
    Postmortem {
        id: String,
        #[arg(long, default_value = "default")]
        org: String,
    },
    /// Validate an escalation policy file (default: CONEA_ESCALATION_CONFIG) and print the
    /// effective matrix. Exit 1 when it is invalid.
    CheckConfig { path: Option<std::path::PathBuf> },
}

#[derive(Subcommand, Debug)]
pub enum DbCommand {
    /// Connections by application and state; with --idle-over, the idle ones (and --terminate them).
    Connections {
        /// Only connections idle for longer than this (e.g. 10m).
        #[arg(long)]
        idle_over: Option<String>,
        /// Terminate the listed idle connections (asks first unless --yes).
        #[arg(long, requires = "idle_over")]
        terminate: bool,
        #[arg(long)]
        yes: bool,
        /// Include other applications' connections, not only Conea's.
        #[arg(long)]
        all: bool,
    },
    /// Replication: the primary's replicas (pg_stat_replication) and, with
    /// DATABASE_REPLICA_URL, the replica's lag against CONEA_MAX_REPLICA_LAG.
    Replication,
    /// The slowest statements (pg_stat_statements).
    Slow {
        #[arg(long, default_value_t = 10)]
        limit: i64,
    },
}

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Stream an NDJSON or CSV file to a running server in parts (each its own import job),
    /// with a progress bar; an interrupted upload resumes where it stopped when run again
    /// with the same arguments. Prints the summed result (JSON when piped or with --json).
    Import(DataImportArgs),
    /// Stream every matching order, product or customer of a running server as CSV or
    /// NDJSON to standard output (or --output).
    Export(DataExportArgs),
}

#[derive(clap::Args, Debug)]
pub struct DataImportArgs {
    /// The file: NDJSON (Shopify-shaped objects, one per line) or CSV (by its `.csv`
    /// extension, or --format).
    pub file: PathBuf,
    /// orders, products or customers.
    #[arg(long)]
    pub kind: String,
    /// ndjson or csv (default: by the file's extension).
    #[arg(long)]
    pub format: Option<String>,
    /// A shop domain or id; default the organization's manual shop.
    #[arg(long)]
    pub shop: Option<String>,
    /// Bytes per part (each part ends on a record boundary), e.g. 64MiB.
    #[arg(long, default_value = "64MiB")]
    pub part_size: String,
    /// Send at most this many parts now, then stop; run again to send the rest.
    #[arg(long)]
    pub max_parts: Option<usize>,
    /// Forget an interrupted upload of this file and start from its first byte.
    #[arg(long)]
    pub restart: bool,
    /// Where the upload's progress is kept between runs (default: beside the file,
    /// FILE.conea-import; removed when the import is done).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// The server.
    #[arg(long, env = "CONEA_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// An API key or token with data:write and jobs:read.
    #[arg(long, env = "CONEA_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Print the result as JSON (also when stdout is not a terminal).
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct DataExportArgs {
    /// orders, products or customers.
    pub kind: String,
    /// csv or ndjson.
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// A filter of the list, NAME=VALUE (repeatable), e.g. created_from=2025-01-01,
    /// financial_status=paid; the server names a bad one.
    #[arg(long, value_name = "NAME=VALUE")]
    pub filter: Vec<String>,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// The server.
    #[arg(long, env = "CONEA_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// An API key or token with data:read.
    #[arg(long, env = "CONEA_TOKEN", hide_env_values = true)]
    pub token: String,
}

#[derive(clap::Args, Debug)]
pub struct AnalyticsArgs {
    /// sales_over_time, product_performance, refunds_cancellations, sales_by_hour_weekday,
    /// repeat_purchase, rfm_segments, customer_cohorts or inventory.
    pub report: String,
    /// First local day (YYYY-MM-DD) or an RFC 3339 instant.
    #[arg(long)]
    pub from: Option<String>,
    /// Last local day, included, or an RFC 3339 instant.
    #[arg(long)]
    pub to: Option<String>,
    /// IANA time zone name (default UTC).
    #[arg(long)]
    pub timezone: Option<String>,
    /// day, week or month.
    #[arg(long)]
    pub granularity: Option<String>,
    /// previous_period or previous_year.
    #[arg(long)]
    pub compare: Option<String>,
    #[arg(long)]
    pub shop_id: Option<String>,
    /// product_performance: revenue, units, orders or refund_rate.
    #[arg(long)]
    pub sort: Option<String>,
    /// product_performance: products listed per currency (1–500).
    #[arg(long)]
    pub limit: Option<String>,
    /// The server.
    #[arg(long, env = "CONEA_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// An API key or token with data:read.
    #[arg(long, env = "CONEA_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Print the JSON the server answered (also when stdout is not a terminal).
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct SchedulesArgs {
    #[command(subcommand)]
    pub command: SchedulesCommand,
    /// The server.
    #[arg(
        long,
        env = "CONEA_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// An API key or token (data:read to list, data:write to run or disable).
    #[arg(long, env = "CONEA_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Print the JSON the server answered (also when stdout is not a terminal).
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum SchedulesCommand {
    /// Every schedule of your organization: a table on a terminal, JSON when piped.
    List,
    /// Run a schedule's report and deliver it now (outside its slots).
    RunNow { id: String },
    /// Disable a schedule (PATCH enabled=false); no slot fires until it is enabled again.
    Disable { id: String },
}

/// `conea diagnose`'s cluster checks: on with `--kubernetes`, and by themselves inside a pod
/// (where Kubernetes sets `KUBERNETES_SERVICE_HOST`).
#[derive(Debug, clap::Args)]
pub struct KubernetesArgs {
    /// Also check the cluster: deployments, pods (restarts, OOMKilled, CrashLoopBackOff,
    /// ImagePullBackOff), warning events and usage against limits.
    #[arg(long)]
    pub kubernetes: bool,
    /// The Kubernetes API (default in a pod: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT).
    #[arg(long)]
    pub kube_api_url: Option<String>,
    #[arg(long, env = "KUBERNETES_SERVICE_HOST", hide = true)]
    pub kube_service_host: Option<String>,
    #[arg(
        long,
        env = "KUBERNETES_SERVICE_PORT",
        hide = true,
        default_value = "443"
    )]
    pub kube_service_port: String,
    /// The bearer token file (default: the pod's ServiceAccount token).
    #[arg(long)]
    pub kube_token_file: Option<std::path::PathBuf>,
    /// The cluster CA (default: the pod's ServiceAccount CA when present).
    #[arg(long)]
    pub kube_ca_file: Option<std::path::PathBuf>,
    /// The namespace to check (default: the pod's own).
    #[arg(long)]
    pub kube_namespace: Option<String>,
}
