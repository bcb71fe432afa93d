//! The table of every setting: its environment variable, its key in the TOML file, its
//! default and its help. The loader, `conea config check` and the README table all come
//! from here, so a setting cannot exist in one and not the others.

pub struct Setting {
    pub env: &'static str,
    /// Dotted path in the TOML file (`[server] bind` is `server.bind`).
    pub toml: &'static str,
    pub default: Option<&'static str>,
    pub secret: bool,
    pub help: &'static str,
}

macro_rules! s {
    ($env:literal, $toml:literal, $default:expr, $secret:literal, $help:literal) => {
        Setting {
            env: $env,
            toml: $toml,
            default: $default,
            secret: $secret,
            help: $help,
        }
    };
}

pub const SETTINGS: &[Setting] = &[
    s!("CONEA_BIND", "server.bind", Some("127.0.0.1:8080"), false, "Address and port the HTTP server listens on."),
    s!("CONEA_DATA_DIR", "server.data_dir", Some("./conea-data"), false, "Directory for the embedded SQLite database and generated secrets."),
    s!("DATABASE_URL", "database.url", None, true, "`sqlite://PATH` or `postgres://USER@HOST:PORT/DB`. Default: SQLite at `<data dir>/conea.db`."),
    s!("CONEA_DB_MAX_CONNECTIONS", "database.max_connections", Some("20"), false, "Largest size of the database connection pool."),
    s!("CONEA_DB_IDLE_TIMEOUT", "database.idle_timeout", Some("30s"), false, "Idle pooled connections are closed after this long."),
    s!("CONEA_DB_CONNECT_TIMEOUT", "database.connect_timeout", Some("2s"), false, "Time allowed to open a connection (and to reach the database at start-up)."),
    s!("CONEA_SLOW_QUERY_MS", "database.slow_query_ms", Some("1000"), false, "Statements slower than this many milliseconds are logged at warn and counted."),
    s!("DATABASE_REPLICA_URL", "database.replica_url", None, true, "Optional PostgreSQL read replica: listings and reports read it while its lag is under CONEA_MAX_REPLICA_LAG and the client has not just written; checked by `conea diagnose` and `conea db replication`."),
    s!("CONEA_MAX_REPLICA_LAG", "database.max_replica_lag", Some("5s"), false, "Replica lag above which reads go to the primary and `conea diagnose` warns."),
    s!("REDIS_URL", "redis.url", None, true, "Optional `redis://HOST:PORT`; shares rate-limit state between replicas."),
    s!("JWT_SECRET", "auth.jwt_secret", None, true, "HMAC secret for login tokens (32+ characters). Required with PostgreSQL; generated into the data dir on SQLite."),
    s!("JWT_ALGORITHMS", "auth.jwt_algorithms", Some("HS256"), false, "Comma-separated allowed JWT algorithms (HS256, HS384, HS512); the first signs."),
    s!("JWT_ISSUER", "auth.jwt_issuer", Some("conea"), false, "`iss` claim issued and required."),
    s!("JWT_AUDIENCE", "auth.jwt_audience", Some("conea-api"), false, "`aud` claim issued and required."),
    s!("JWT_TTL", "auth.jwt_ttl", Some("1h"), false, "Lifetime of a login token."),
    s!("JWT_LEEWAY", "auth.jwt_leeway", Some("60s"), false, "Clock-skew allowance for `exp`, `nbf` and `iat`."),
    s!("CONEA_SECRET_KEY", "secret_key", None, true, "Key (32+ characters) that encrypts stored third-party secrets. Required with PostgreSQL; generated on SQLite."),
    s!("CONEA_BOOTSTRAP_KEY", "auth.bootstrap_key", None, true, "Optional `conea_…` key to create as the first owner key instead of a random one."),
    s!("CONEA_LOG", "log.level", Some("info"), false, "Log filter (`info`, `debug`, `conea_server=debug,info`, …)."),
    s!("CONEA_LOG_FORMAT", "log.format", Some("pretty"), false, "`pretty` or `json`."),
    s!("CONEA_REQUEST_TIMEOUT", "server.request_timeout", Some("30s"), false, "Requests running longer answer 504."),
    s!("CONEA_MAX_BODY_BYTES", "server.max_body_bytes", Some("1048576"), false, "Largest accepted JSON request body, in bytes; larger answers 413."),
    s!("CONEA_MAX_IMPORT_BYTES", "server.max_import_bytes", Some("10737418240"), false, "Largest accepted data import upload, in bytes (streamed, not held in memory)."),
    s!("CONEA_UPLOAD_TIMEOUT", "server.upload_timeout", Some("1h"), false, "Time allowed for a streamed upload (data imports) instead of CONEA_REQUEST_TIMEOUT."),
    s!("CONEA_SHUTDOWN_GRACE", "server.shutdown_grace", Some("30s"), false, "On SIGTERM/SIGINT, in-flight requests get this long to finish."),
    s!("RATE_LIMIT_PER_MINUTE", "rate_limit.per_minute", Some("100"), false, "Default requests per minute for each API key or user."),
    s!("RATE_LIMIT_BURST", "rate_limit.burst", None, false, "Requests a full bucket allows at once. Default: RATE_LIMIT_PER_MINUTE."),
    s!("RATE_LIMIT_ENABLED", "rate_limit.enabled", Some("true"), false, "`false` turns rate limiting off (benchmarks only)."),
    s!("RATE_LIMIT_PER_IP_PER_MINUTE", "rate_limit.per_ip_per_minute", Some("60"), false, "Requests per minute per client address on unauthenticated routes (login, webhooks)."),
    s!("CONEA_TRUSTED_PROXIES", "rate_limit.trusted_proxies", None, false, "Comma-separated addresses or CIDRs whose X-Forwarded-For is trusted for the client address."),
    s!("CONEA_RATE_LIMIT_FAILURE_MODE", "rate_limit.failure_mode", Some("open"), false, "When Redis is down: `open` counts in memory per replica; `closed` answers 503."),
    s!("CONEA_RATE_LIMIT_MAX_BUCKETS", "rate_limit.max_buckets", Some("100000"), false, "Most buckets the in-process limiter holds (idle ones are evicted)."),
    s!("CONEA_REDIS_KEY_PREFIX", "redis.key_prefix", Some("conea:"), false, "Prefix of every Redis key Conea writes."),
    s!("CONEA_WORKER_CONCURRENCY", "jobs.worker_concurrency", Some("8"), false, "Jobs run at once by the worker inside `conea serve` (0 disables it) and by `conea worker`."),
    s!("CONEA_JOB_RETENTION", "jobs.retention", Some("7d"), false, "Finished jobs are deleted after this long."),
    s!("CONEA_JOB_LEASE", "jobs.lease", Some("30s"), false, "A running job's lease; a worker that stops heartbeating loses its jobs after this."),
    s!("CONEA_JOB_POLL", "jobs.poll", Some("500ms"), false, "Safety-net poll interval of workers (new jobs wake them at once)."),
    s!("CONEA_ESCALATION_CONFIG", "incidents.escalation_config", None, false, "YAML escalation policy (severity matrix, contacts, channels); validated at start. Unset: the operations guide's matrix with no channels."),
    s!("CONEA_PUBLIC_URL", "server.public_url", None, false, "Base URL people reach this server at, used in incident notification links. Default: `http://` + CONEA_BIND."),
    s!("CONEA_INCIDENT_DETECTORS", "incidents.detectors", Some("all"), false, "Built-in detectors that open incidents: `all`, `none`, or a comma list of `database`, `ai`, `webhooks`, `queue`."),
    s!("CONEA_DETECTOR_QUEUE_AGE", "incidents.queue_age_threshold", Some("10m"), false, "The queue detector opens an incident when the oldest runnable job waited longer than this."),
    s!("SHOPIFY_API_VERSION", "shopify.api_version", Some("2026-10"), false, "Admin API version (`YYYY-MM`, a quarterly release, or `unstable`) of shops connected without one."),
    s!("SHOPIFY_BASE_URL", "shopify.base_url", None, false, "Send Admin API calls here instead of `https://{shop}` (a fake Shopify in tests, or an egress proxy)."),
    s!("SHOPIFY_PAGE_SIZE", "shopify.page_size", Some("250"), false, "Objects per Admin API page during a sync (1 to 250)."),
    s!("SHOPIFY_WEBHOOKS_PER_IP_PER_MINUTE", "shopify.webhooks_per_ip_per_minute", Some("60000"), false, "Webhook deliveries accepted per minute per client address on `POST /v1/webhooks/shopify`."),
    s!("OPENAI_API_KEY", "ai.providers.openai.api_key", None, true, "Turns on OpenAI (Chat Completions)."),
    s!("OPENAI_BASE_URL", "ai.providers.openai.base_url", Some("https://api.openai.com/v1"), false, "OpenAI base URL, including `/v1`."),
    s!("ANTHROPIC_API_KEY", "ai.providers.anthropic.api_key", None, true, "Turns on Anthropic (Messages)."),
    s!("ANTHROPIC_BASE_URL", "ai.providers.anthropic.base_url", Some("https://api.anthropic.com"), false, "Anthropic base URL."),
    s!("COHERE_API_KEY", "ai.providers.cohere.api_key", None, true, "Turns on Cohere (Chat v2)."),
    s!("COHERE_BASE_URL", "ai.providers.cohere.base_url", Some("https://api.cohere.com"), false, "Cohere base URL."),
    s!("GEMINI_API_KEY", "ai.providers.gemini.api_key", None, true, "Turns on Google Gemini."),
    s!("GEMINI_BASE_URL", "ai.providers.gemini.base_url", Some("https://generativelanguage.googleapis.com"), false, "Gemini base URL."),
    s!("OLLAMA_URL", "ai.providers.ollama.base_url", None, false, "Turns on Ollama at this URL (`http://127.0.0.1:11434` when `[ai.providers.ollama]` is present without one)."),
    s!("OLLAMA_BASE_URL", "ai.providers.ollama.base_url", None, false, "Same as OLLAMA_URL (wins over it)."),
    s!("CONEA_AI_MAX_RETRIES", "ai.max_retries", Some("2"), false, "Retries of a retryable failure on the same target before the next target."),
    s!("CONEA_AI_MAX_RETRY_WAIT", "ai.max_retry_wait", Some("10s"), false, "Longest wait before a retry; a longer Retry-After moves to the next target."),
    s!("CONEA_AI_TIMEOUT", "ai.timeout", Some("60s"), false, "Default per-target timeout (whole answer; for streams, the response headers)."),
    s!("CONEA_AI_STREAM_IDLE_TIMEOUT", "ai.stream_idle_timeout", Some("30s"), false, "A stream with no data for this long ends with an error event."),
    s!("CONEA_AI_STREAM_TOTAL_TIMEOUT", "ai.stream_total_timeout", Some("10m"), false, "A stream running longer ends with an error event."),
    s!("CONEA_AI_USAGE_FLUSH", "ai.usage_flush", Some("50ms"), false, "How long AI usage counts wait in memory before one batched write (what a crash can lose)."),
    s!("CONEA_AI_BREAKER_THRESHOLD", "ai.breaker_threshold", Some("5"), false, "Consecutive provider failures that open its circuit."),
    s!("CONEA_AI_BREAKER_COOLDOWN", "ai.breaker_cooldown", Some("30s"), false, "How long an open circuit refuses calls before one probe."),
    s!("CONEA_AUTH_CACHE_SIZE", "auth.cache_size", Some("10000"), false, "Most credentials kept in the per-replica authentication cache."),
    s!("CONEA_AUTH_EPOCH_POLL", "auth.epoch_poll", Some("250ms"), false, "How often each replica checks for revocations made elsewhere."),
];

pub fn find(env: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.env == env)
}
