//! Logging of `conea serve` and `conea worker`, and the error log that `conea diagnose
//! --since` reads.
//!
//! Two layers: the console (stderr, `CONEA_LOG` filter, `CONEA_LOG_FORMAT`) and the error log,
//! every warning and error as one JSON line in `<CONEA_DATA_DIR>/logs/errors.<hour>.jsonl`
//! (rotated hourly, the last 48 files kept, written off the request path by a background
//! thread). The error log does not depend on the database, so it also holds the errors of a
//! database outage. This module owns the format: it writes and reads it.

use conea_core::config::{Config, LogFormat};
use serde::Serialize;
use std::path::{Path, PathBuf};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

const PREFIX: &str = "errors";
const SUFFIX: &str = "jsonl";
const KEEP_FILES: usize = 48;

pub fn error_log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

/// The error log's writer; `None` (with a console warning) when the directory is not
/// writable: the server still runs.
fn error_log_writer(
    data_dir: &Path,
) -> Option<(tracing_appender::non_blocking::NonBlocking, WorkerGuard)> {
    let dir = error_log_dir(data_dir);
    let appender = std::fs::create_dir_all(&dir).ok().and_then(|_| {
        RollingFileAppender::builder()
            .rotation(Rotation::HOURLY)
            .filename_prefix(PREFIX)
            .filename_suffix(SUFFIX)
            .max_log_files(KEEP_FILES)
            .build(&dir)
            .ok()
    });
    match appender {
        Some(a) => Some(tracing_appender::non_blocking(a)),
        None => {
            eprintln!(
                "warning: cannot write the error log in {}; `conea diagnose --since` will not see this process's errors",
                dir.display()
            );
            None
        }
    }
}

/// Installs the console and error-log layers; keep the guard for the life of the process
/// (dropping it flushes the error log).
pub fn init(config: &Config) -> Option<WorkerGuard> {
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let console = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let console = match config.log_format {
        LogFormat::Json => console
            .json()
            .flatten_event(true)
            .with_filter(filter)
            .boxed(),
        LogFormat::Pretty => console.compact().with_filter(filter).boxed(),
    };
    let (file, guard) = match error_log_writer(&config.data_dir) {
        Some((writer, guard)) => (Some(error_layer(writer)), Some(guard)),
        None => (None, None),
    };
    let _ = tracing_subscriber::registry()
        .with(console)
        .with(file)
        .try_init();
    guard
}

fn error_layer<S, W>(writer: W) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_ansi(false)
        .with_writer(writer)
        // Spans at every level (so a warning carries its request's id and route), events
        // from WARN up.
        .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
            meta.is_span() || *meta.level() <= tracing::Level::WARN
        }))
}

/// One line of the error log.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorLine {
    pub at: String,
    #[serde(skip)]
    pub at_ms: i64,
    pub level: String,
    pub message: String,
    /// The other fields of the event and the request span (request id, route, …).
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// Lines of the error log in `data_dir` written at or after `since_ms`, oldest first.
/// Unreadable files and lines that are not the error log's JSON are skipped.
pub fn read_since(data_dir: &Path, since_ms: i64) -> Vec<ErrorLine> {
    let dir = error_log_dir(data_dir);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with(PREFIX) && name.ends_with(SUFFIX)) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        lines.extend(
            text.lines()
                .filter_map(parse_line)
                .filter(|l| l.at_ms >= since_ms),
        );
    }
    lines.sort_by_key(|l| l.at_ms);
    lines
}

fn parse_line(line: &str) -> Option<ErrorLine> {
    let serde_json::Value::Object(mut map) = serde_json::from_str(line).ok()? else {
        return None;
    };
    let at = map.remove("timestamp")?.as_str()?.to_owned();
    let at_ms = time::OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)?;
    let level = map.remove("level")?.as_str()?.to_owned();
    let message = map
        .remove("message")
        .and_then(|m| m.as_str().map(str::to_owned))
        .unwrap_or_default();
    if let Some(serde_json::Value::Object(span)) = map.remove("span") {
        for (k, v) in span {
            if k != "name" {
                map.entry(k).or_insert(v);
            }
        }
    }
    map.remove("target");
    Some(ErrorLine {
        at,
        at_ms,
        level,
        message,
        fields: map,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn warnings_and_errors_reach_the_error_log_and_read_back_with_their_request_fields() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, guard) = error_log_writer(dir.path()).unwrap();
        let subscriber = tracing_subscriber::registry().with(error_layer(writer));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", request_id = "req_1", route = "/v1/x");
            let _e = span.enter();
            tracing::info!("not an error");
            tracing::warn!(status = 503, "request failed");
            tracing::error!(cause = "boom", "internal error");
        });
        drop(guard);
        let lines = read_since(dir.path(), 0);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0].level, "WARN");
        assert_eq!(lines[0].message, "request failed");
        assert_eq!(lines[0].fields["status"], 503);
        assert_eq!(lines[0].fields["request_id"], "req_1");
        assert_eq!(lines[1].level, "ERROR");
        assert_eq!(lines[1].fields["cause"], "boom");
        // Nothing is older than "now minus a minute"; everything is newer than the epoch.
        let later = lines[1].at_ms + 1;
        assert!(read_since(dir.path(), later).is_empty());
    }

    #[test]
    fn foreign_and_malformed_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let logs = error_log_dir(dir.path());
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::write(
            logs.join("errors.2026-11-29-01.jsonl"),
            "not json\n{\"level\":\"WARN\"}\n{\"timestamp\":\"2026-11-29T01:00:00Z\",\"level\":\"WARN\",\"message\":\"kept\"}\n",
        )
        .unwrap();
        std::fs::write(
            logs.join("other.log"),
            "{\"timestamp\":\"2026-11-29T01:00:00Z\",\"level\":\"WARN\",\"message\":\"x\"}\n",
        )
        .unwrap();
        let lines = read_since(dir.path(), 0);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].message, "kept");
    }
}
