//! The one declaration of every setting (see [`super::declare`]): its field, variable,
//! TOML key, default, secrecy, parser and help. The table's order is the README's.
//!
//! Code names a setting by its field (`settings.jwt_ttl`) or its constant
//! (`var::JWT_SECRET`), never by a string, so a misspelt name does not build.

use super::declare::{read, Setting};
use super::{
    duration, parse, prices, Backend, LogFormat, ModelPrice, Problem, RawSettings, DEFAULT_DATA_DIR,
};
use crate::ratelimit::service::FailureMode;
use ipnet::IpNet;
use jsonwebtoken::Algorithm;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

settings! {
    bind: SocketAddr = CONEA_BIND, toml "server.bind", default "127.0.0.1:8080",
        parse parse::socket_addr,
        help "Address and port the HTTP server listens on.";
    data_dir: PathBuf = CONEA_DATA_DIR, toml "server.data_dir", default DEFAULT_DATA_DIR,
        parse parse::path,
        help "Directory for the embedded SQLite database and generated secrets.";
    database_url: (Backend, String) = DATABASE_URL [secret], toml "database.url",
        parse parse::database_url,
        help "`sqlite://PATH` or `postgres://USER@HOST:PORT/DB`. Default: SQLite at `<data dir>/conea.db`.";
    max_connections: u32 = CONEA_DB_MAX_CONNECTIONS, toml "database.max_connections", default "20",
        parse parse::at_least_one,
        help "Largest size of the database connection pool.";
    idle_timeout: Duration = CONEA_DB_IDLE_TIMEOUT, toml "database.idle_timeout", default "30s",
        parse duration::parse,
        help "Idle pooled connections are closed after this long.";
    connect_timeout: Duration = CONEA_DB_CONNECT_TIMEOUT, toml "database.connect_timeout", default "2s",
        parse duration::parse,
        help "Time allowed to open a connection (and to reach the database at start-up).";
    slow_statement: Duration = CONEA_SLOW_QUERY_MS, toml "database.slow_query_ms", default "1000",
        parse parse::millis,
        help "Statements slower than this many milliseconds are logged at warn and counted.";
    replica_url: String = DATABASE_REPLICA_URL [secret], toml "database.replica_url",
        parse parse::postgres_url,
        help "Optional PostgreSQL read replica: listings and reports read it while its lag is under CONEA_MAX_REPLICA_LAG and the client has not just written; checked by `conea diagnose` and `conea db replication`.";
    max_replica_lag: Duration = CONEA_MAX_REPLICA_LAG, toml "database.max_replica_lag", default "5s",
        parse duration::parse,
        help "Replica lag above which reads go to the primary and `conea diagnose` warns.";
    redis_url: String = REDIS_URL [secret], toml "redis.url", parse parse::redis_url,
        help "Optional `redis://HOST:PORT`; shares rate-limit state between replicas.";
    jwt_secret: String = JWT_SECRET [secret], toml "auth.jwt_secret", parse parse::secret,
        help "HMAC secret for login tokens (32+ characters). Required with PostgreSQL; generated into the data dir on SQLite.";
    jwt_algorithms: Vec<Algorithm> = JWT_ALGORITHMS, toml "auth.jwt_algorithms", default "HS256",
        parse parse::jwt_algorithms,
        help "Comma-separated allowed JWT algorithms (HS256, HS384, HS512); the first signs.";
    jwt_issuer: String = JWT_ISSUER, toml "auth.jwt_issuer", default "conea", parse parse::text,
        help "`iss` claim issued and required.";
    jwt_audience: String = JWT_AUDIENCE, toml "auth.jwt_audience", default "conea-api",
        parse parse::text,
        help "`aud` claim issued and required.";
    jwt_ttl: Duration = JWT_TTL, toml "auth.jwt_ttl", default "1h", parse duration::parse,
        help "Lifetime of a login token.";
    jwt_leeway: Duration = JWT_LEEWAY, toml "auth.jwt_leeway", default "60s", parse duration::parse,
        help "Clock-skew allowance for `exp`, `nbf` and `iat`.";
    secret_key: String = CONEA_SECRET_KEY [secret], toml "secret_key", parse parse::secret,
        help "Key (32+ characters) that encrypts stored third-party secrets. Required with PostgreSQL; generated on SQLite.";
    bootstrap_key: String = CONEA_BOOTSTRAP_KEY [secret], toml "auth.bootstrap_key",
        parse parse::bootstrap_key,
        help "Optional `conea_…` key to create as the first owner key instead of a random one.";
    log_filter: String = CONEA_LOG, toml "log.level", default "info", parse parse::text,
        help "Log filter (`info`, `debug`, `conea_server=debug,info`, …).";
    log_format: LogFormat = CONEA_LOG_FORMAT, toml "log.format", default "pretty",
        parse parse::log_format,
        help "`pretty` or `json`.";
    request_timeout: Duration = CONEA_REQUEST_TIMEOUT, toml "server.request_timeout", default "30s",
        parse duration::parse,
        help "Requests running longer answer 504.";
    max_body_bytes: usize = CONEA_MAX_BODY_BYTES, toml "server.max_body_bytes", default "1048576",
        parse parse::body_bytes,
        help "Largest accepted JSON request body, in bytes; larger answers 413.";
    max_import_bytes: u64 = CONEA_MAX_IMPORT_BYTES, toml "server.max_import_bytes", default "10737418240",
        parse parse::bytes,
        help "Largest accepted data import upload, in bytes (streamed, not held in memory).";
    upload_timeout: Duration = CONEA_UPLOAD_TIMEOUT, toml "server.upload_timeout", default "1h",
        parse duration::parse,
        help "Time allowed for a streamed upload (data imports) instead of CONEA_REQUEST_TIMEOUT.";
    console_overview_ttl: Duration = CONEA_CONSOLE_OVERVIEW_TTL, toml "console.overview_ttl", default "60s",
        parse duration::parse,
        help "How long the console's Overview (four reports) stays warm per organization, period and time zone; past it, the next request still gets it at once while it is computed afresh in the background (an Overview nobody opened for ten times this long is dropped). A write of the organization's shop data by the same process (import, Shopify sync or webhook) refreshes it at once; one by another process shows within this time. 0 computes it on every request.";
    shutdown_grace: Duration = CONEA_SHUTDOWN_GRACE, toml "server.shutdown_grace", default "30s",
        parse duration::parse,
        help "On SIGTERM/SIGINT, in-flight requests get this long to finish.";
    max_open_connections: u32 = CONEA_MAX_OPEN_CONNECTIONS, toml "server.max_open_connections",
        parse parse::at_least_one,
        help "Most client connections held open at once; at the cap, connections that have not sent a request are closed first, then new ones refused. Default: the open-file limit (raised to its hard limit at start) less room for the database pool and files.";
    header_read_timeout: Duration = CONEA_HEADER_READ_TIMEOUT, toml "server.header_read_timeout", default "10s",
        parse duration::parse,
        help "A connection that has not sent a request's complete headers within this long is closed.";
    keep_alive_timeout: Duration = CONEA_KEEP_ALIVE_TIMEOUT, toml "server.keep_alive_timeout", default "60s",
        parse duration::parse,
        help "An idle keep-alive connection (no request in progress) is closed after this long.";
    rate_per_minute: u32 = RATE_LIMIT_PER_MINUTE, toml "rate_limit.per_minute", default "100",
        parse parse::rate,
        help "Default requests per minute for each API key or user.";
    rate_burst: u32 = RATE_LIMIT_BURST, toml "rate_limit.burst", parse parse::rate,
        help "Requests a full bucket allows at once. Default: RATE_LIMIT_PER_MINUTE.";
    rate_limit_enabled: bool = RATE_LIMIT_ENABLED, toml "rate_limit.enabled", default "true",
        parse parse::flag,
        help "`false` turns rate limiting off (benchmarks only).";
    rate_per_address_per_minute: u32 = RATE_LIMIT_PER_IP_PER_MINUTE, toml "rate_limit.per_ip_per_minute", default "60",
        parse parse::rate,
        help "Requests per minute per client address on unauthenticated routes (login, webhooks).";
    trusted_proxies: Vec<IpNet> = CONEA_TRUSTED_PROXIES, toml "rate_limit.trusted_proxies",
        parse parse::trusted_proxies,
        help "Comma-separated addresses or CIDRs whose X-Forwarded-For is trusted for the client address.";
    failure_mode: FailureMode = CONEA_RATE_LIMIT_FAILURE_MODE, toml "rate_limit.failure_mode", default "open",
        parse parse::failure_mode,
        help "When Redis is down: `open` counts in memory per replica; `closed` answers 503.";
    max_buckets: u64 = CONEA_RATE_LIMIT_MAX_BUCKETS, toml "rate_limit.max_buckets", default "100000",
        parse parse::max_buckets,
        help "Most buckets the in-process limiter holds (idle ones are evicted).";
    redis_key_prefix: String = CONEA_REDIS_KEY_PREFIX, toml "redis.key_prefix", default "conea:",
        parse parse::text,
        help "Prefix of every Redis key Conea writes.";
    redis_timeout: Duration = CONEA_REDIS_TIMEOUT, toml "redis.timeout", default "50ms",
        parse parse::redis_timeout,
        help "Longest wait for a Redis command on the request path (rate-limit decisions, login counters); the first command past it opens the circuit breaker and decisions go to the in-process limiter at once until Redis answers a probe within it.";
    worker_concurrency: usize = CONEA_WORKER_CONCURRENCY, toml "jobs.worker_concurrency", default "8",
        parse parse::worker_concurrency,
        help "Jobs run at once by the worker inside `conea serve` (0 disables it) and by `conea worker`.";
    job_claim_ahead: usize = CONEA_JOB_CLAIM_AHEAD, toml "jobs.claim_ahead",
        parse parse::claim_ahead_max,
        help "Jobs a worker claims beyond its free slots and holds to start the moment a slot frees (never more at once than its concurrency; released uncounted on shutdown). Set, the buffer holds exactly this many. Default: it follows the work, holding what the worker started in the last 100 ms, at least its concurrency and at most CONEA_JOB_CLAIM_AHEAD_MAX (short jobs: one claim feeds the slots for 100 ms; long jobs: no more than its concurrency, so other workers take the rest).";
    job_claim_ahead_max: usize = CONEA_JOB_CLAIM_AHEAD_MAX, toml "jobs.claim_ahead_max", default "2048",
        parse parse::claim_ahead_max,
        help "The most jobs a worker's buffer follows the work up to, when CONEA_JOB_CLAIM_AHEAD is not set.";
    import_concurrency: usize = CONEA_IMPORT_CONCURRENCY, toml "jobs.import_concurrency",
        parse parse::import_concurrency,
        help "Imports (`data.import` jobs) one process runs at once; the others wait their turn in that process without charging an attempt, and their hour-long run limit starts when their turn does. Each import holds its parsed batches and its own database writes: on SQLite, which has one writer, more at once only adds memory. Default: 1 on SQLite, 2 on PostgreSQL.";
    job_retention: Duration = CONEA_JOB_RETENTION, toml "jobs.retention", default "7d",
        parse duration::parse,
        help "Finished jobs are deleted after this long.";
    job_lease: Duration = CONEA_JOB_LEASE, toml "jobs.lease", default "30s", parse parse::job_lease,
        help "A running job's lease; a worker that stops heartbeating loses its jobs after this.";
    job_poll: Duration = CONEA_JOB_POLL, toml "jobs.poll", default "500ms", parse duration::parse,
        help "Safety-net poll interval of workers (new jobs wake them at once).";
    escalation_config: PathBuf = CONEA_ESCALATION_CONFIG, toml "incidents.escalation_config",
        parse parse::path,
        help "YAML escalation policy (severity matrix, contacts, channels); validated at start. Unset: the operations guide's matrix with no channels.";
    public_url: String = CONEA_PUBLIC_URL, toml "server.public_url", parse parse::public_url,
        help "Base URL people and Shopify reach this server at: incident notification links, the Shopify app's OAuth `redirect_uri` and the webhook address Conea registers. Default: `http://` + CONEA_BIND; required when SHOPIFY_API_KEY is set.";
    detectors: Vec<String> = CONEA_INCIDENT_DETECTORS, toml "incidents.detectors", default "all",
        parse parse::detectors,
        help "Built-in detectors that open incidents: `all`, `none`, or a comma list of `database`, `ai`, `webhooks`, `queue`, `cpu`.";
    queue_age_threshold: Duration = CONEA_DETECTOR_QUEUE_AGE, toml "incidents.queue_age_threshold", default "10m",
        parse duration::parse,
        help "The queue detector opens an incident when the oldest runnable job waited longer than this.";
    cpu_percent: u32 = CONEA_DETECTOR_CPU_PERCENT, toml "incidents.cpu_percent", default "80",
        parse parse::percent,
        help "The cpu detector opens an incident when this process uses more than this percentage of its CPU limit (the cgroup quota, else the cores) for CONEA_DETECTOR_CPU_FOR.";
    cpu_for: Duration = CONEA_DETECTOR_CPU_FOR, toml "incidents.cpu_for", default "5m",
        parse duration::parse,
        help "How long CPU must stay above CONEA_DETECTOR_CPU_PERCENT before the cpu detector opens an incident.";
    shopify_api_version: String = SHOPIFY_API_VERSION, toml "shopify.api_version", default "2026-10",
        parse parse::api_version,
        help "Admin API version (`YYYY-MM`, a quarterly release, or `unstable`) of shops connected without one. Upgrade it when `/health` or `conea diagnose` reports a deprecated version, and move the flagged shops (`PATCH … {\"api_version\"}`).";
    shopify_base_url: String = SHOPIFY_BASE_URL, toml "shopify.base_url", parse parse::http_url,
        help "Send Admin API calls here instead of `https://{shop}` (a fake Shopify in tests, or an egress proxy).";
    shopify_api_key: String = SHOPIFY_API_KEY, toml "shopify.api_key", parse parse::text,
        help "The Conea Shopify app's client id: turns on installing shops by OAuth (`GET /v1/integrations/shopify/install`). Set with SHOPIFY_API_SECRET and CONEA_PUBLIC_URL.";
    shopify_api_secret: String = SHOPIFY_API_SECRET [secret], toml "shopify.api_secret", parse parse::text,
        help "The Conea Shopify app's client secret: verifies the install callback's `hmac` and the webhooks of shops installed by OAuth. Required when SHOPIFY_API_KEY is set.";
    shopify_scopes: Vec<String> = SHOPIFY_SCOPES, toml "shopify.scopes", default "read_products,read_customers,read_orders",
        parse parse::scopes,
        help "Access scopes the app asks for at install (comma list); the default is what the sync and the webhooks need.";
    shopify_sync_interval: Option<Duration> = SHOPIFY_SYNC_INTERVAL, toml "shopify.sync_interval", default "15m",
        parse parse::sync_interval,
        help "An active shop's next incremental sync starts this long after its last one finished (a job, one live per shop); `off`: syncs only when asked. A shop's own `sync_interval` (connect, PATCH) replaces it for that shop.";
    shopify_reconcile_interval: Option<Duration> = SHOPIFY_RECONCILE_INTERVAL, toml "shopify.reconcile_interval", default "24h",
        parse parse::sync_interval,
        help "How often each active shop is reconciled (`shopify.reconcile`: the ids Shopify holds against Conea's per resource; deleted objects removed, missing ones fetched), from its first sync on; `off`: only when asked (`POST …/shops/{id}/reconcile`).";
    shopify_page_size: u32 = SHOPIFY_PAGE_SIZE, toml "shopify.page_size", default "250",
        parse parse::page_size,
        help "Objects per Admin API page during a sync (1 to 250).";
    shopify_bulk_threshold: Option<u64> = SHOPIFY_BULK_THRESHOLD, toml "shopify.bulk_threshold", default "10000",
        parse parse::bulk_threshold,
        help "A shop's first sync of a resource, and any sync that would read more objects than this, runs as a GraphQL bulk operation (one JSONL file) instead of pages; `off`: always pages.";
    shopify_webhooks_per_ip_per_minute: u32 = SHOPIFY_WEBHOOKS_PER_IP_PER_MINUTE, toml "shopify.webhooks_per_ip_per_minute", default "60000",
        parse parse::rate,
        help "Webhook deliveries accepted per minute per client address on `POST /v1/webhooks/shopify`.";
    openai_api_key: String = OPENAI_API_KEY [secret], toml "ai.providers.openai.api_key",
        parse parse::text,
        help "Turns on OpenAI (Chat Completions).";
    openai_base_url: String = OPENAI_BASE_URL, toml "ai.providers.openai.base_url", default "https://api.openai.com/v1",
        parse parse::text,
        help "OpenAI base URL, including `/v1`.";
    anthropic_api_key: String = ANTHROPIC_API_KEY [secret], toml "ai.providers.anthropic.api_key",
        parse parse::text,
        help "Turns on Anthropic (Messages).";
    anthropic_base_url: String = ANTHROPIC_BASE_URL, toml "ai.providers.anthropic.base_url", default "https://api.anthropic.com",
        parse parse::text,
        help "Anthropic base URL.";
    cohere_api_key: String = COHERE_API_KEY [secret], toml "ai.providers.cohere.api_key",
        parse parse::text,
        help "Turns on Cohere (Chat v2).";
    cohere_base_url: String = COHERE_BASE_URL, toml "ai.providers.cohere.base_url", default "https://api.cohere.com",
        parse parse::text,
        help "Cohere base URL.";
    gemini_api_key: String = GEMINI_API_KEY [secret], toml "ai.providers.gemini.api_key",
        parse parse::text,
        help "Turns on Google Gemini.";
    gemini_base_url: String = GEMINI_BASE_URL, toml "ai.providers.gemini.base_url", default "https://generativelanguage.googleapis.com",
        parse parse::text,
        help "Gemini base URL.";
    ollama_url: String = OLLAMA_URL, toml "ai.providers.ollama.base_url", parse parse::text,
        help "Turns on Ollama at this URL (`http://127.0.0.1:11434` when `[ai.providers.ollama]` is present without one).";
    ollama_base_url: String = OLLAMA_BASE_URL, toml "ai.providers.ollama.base_url",
        parse parse::text,
        help "Same as OLLAMA_URL (wins over it).";
    ai_max_retries: String = CONEA_AI_MAX_RETRIES, toml "ai.max_retries", default "2",
        parse parse::text,
        help "Retries of a retryable failure on the same target before the next target.";
    ai_max_retry_wait: String = CONEA_AI_MAX_RETRY_WAIT, toml "ai.max_retry_wait", default "10s",
        parse parse::text,
        help "Longest wait before a retry; a longer Retry-After moves to the next target.";
    ai_timeout: String = CONEA_AI_TIMEOUT, toml "ai.timeout", default "60s", parse parse::text,
        help "Default per-target timeout (whole answer; for streams, the response headers).";
    ai_stream_idle_timeout: String = CONEA_AI_STREAM_IDLE_TIMEOUT, toml "ai.stream_idle_timeout", default "30s",
        parse parse::text,
        help "A stream with no data for this long ends with an error event.";
    ai_stream_total_timeout: String = CONEA_AI_STREAM_TOTAL_TIMEOUT, toml "ai.stream_total_timeout", default "10m",
        parse parse::text,
        help "A stream running longer ends with an error event.";
    ai_usage_flush: String = CONEA_AI_USAGE_FLUSH, toml "ai.usage_flush", default "50ms",
        parse parse::text,
        help "How long AI usage counts wait in memory before one batched write (what a crash can lose).";
    ai_breaker_threshold: String = CONEA_AI_BREAKER_THRESHOLD, toml "ai.breaker_threshold", default "5",
        parse parse::text,
        help "Consecutive provider failures that open its circuit.";
    ai_breaker_cooldown: String = CONEA_AI_BREAKER_COOLDOWN, toml "ai.breaker_cooldown", default "30s",
        parse parse::text,
        help "How long an open circuit refuses calls before one probe.";
    ai_models_refresh: String = CONEA_AI_MODELS_REFRESH, toml "ai.models_refresh", default "10m",
        parse parse::text,
        help "How often each provider's model list is read again (bare model names route by it).";
    ai_provider_order: String = CONEA_AI_PROVIDER_ORDER, toml "ai.provider_order", default "openai,anthropic,cohere,gemini,ollama",
        parse parse::text,
        help "Provider order for `default`, for a bare name several providers serve, and for fallback.";
    ai_default_fallback: String = CONEA_AI_DEFAULT_FALLBACK, toml "ai.default_fallback", default "false",
        parse parse::text,
        help "`true`: a bare model name falls back to the other providers' default models.";
    openai_default_model: String = OPENAI_DEFAULT_MODEL, toml "ai.providers.openai.default_model", default "gpt-4o-mini",
        parse parse::text,
        help "OpenAI's model in `default`.";
    anthropic_default_model: String = ANTHROPIC_DEFAULT_MODEL, toml "ai.providers.anthropic.default_model", default "claude-3-5-haiku-latest",
        parse parse::text,
        help "Anthropic's model in `default`.";
    cohere_default_model: String = COHERE_DEFAULT_MODEL, toml "ai.providers.cohere.default_model", default "command-r",
        parse parse::text,
        help "Cohere's model in `default`.";
    gemini_default_model: String = GEMINI_DEFAULT_MODEL, toml "ai.providers.gemini.default_model", default "gemini-1.5-flash",
        parse parse::text,
        help "Gemini's model in `default`.";
    ollama_default_model: String = OLLAMA_DEFAULT_MODEL, toml "ai.providers.ollama.default_model", default "llama3.2",
        parse parse::text,
        help "Ollama's model in `default`.";
    insights_model: String = CONEA_INSIGHTS_MODEL, toml "insights.model", default "default",
        parse parse::text,
        help "The AI alias (or `provider/model`) that answers `POST /v1/insights/ask` when the question names no `model`.";
    insights_timeout: Duration = CONEA_INSIGHTS_TIMEOUT, toml "insights.timeout", default "60s",
        parse duration::parse,
        help "Time budget of one insights question (every model turn and tool call); past it the question answers 504 `insights_timeout`.";
    insights_prices: Vec<ModelPrice> = CONEA_INSIGHTS_PRICES, toml "insights.prices",
        parse prices::model_prices,
        help "Model prices that override or add to the built-in list-price table of the insights' `cost`: inline JSON, or the path of a JSON file (TOML when it ends in `.toml`), `{\"provider/model\": {\"input\": 0.15, \"output\": 0.6}}` in USD per million tokens (docs/api.md, \"Comparing models\"). Checked at start.";
    auth_cache_size: u64 = CONEA_AUTH_CACHE_SIZE, toml "auth.cache_size", default "10000",
        parse parse::whole_number,
        help "Most credentials kept in the per-replica authentication cache.";
    auth_epoch_poll: Duration = CONEA_AUTH_EPOCH_POLL, toml "auth.epoch_poll", default "250ms",
        parse duration::parse,
        help "How often each replica checks for revocations made elsewhere.";
}
