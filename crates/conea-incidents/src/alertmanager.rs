//! Alertmanager's webhook (`webhook_config`, payload `version: "4"`) as incident signals.
//!
//! Each alert becomes a [`Signal`]: a firing alert opens (or refreshes) the incident whose
//! dedup key is the alert's `fingerprint`; a resolved alert resolves it. The severity comes
//! from a label (`severity` by default) through a configurable [`SeverityMap`].

use crate::severity::Severity;
use conea_core::clock::{parse_rfc3339, EpochMs};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The webhook body, version 4.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPayload {
    pub version: String,
    #[serde(default)]
    pub group_key: String,
    /// Alerts left out of this message (informational; a count too large for a `u64` is
    /// read as `u64::MAX`).
    #[serde(default, deserialize_with = "count")]
    pub truncated_alerts: u64,
    pub status: AlertStatus,
    #[serde(default)]
    pub receiver: String,
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    #[serde(default, rename = "externalURL")]
    pub external_url: String,
    pub alerts: Vec<Alert>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub status: AlertStatus,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub starts_at: String,
    #[serde(default)]
    pub ends_at: String,
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
    #[serde(default)]
    pub fingerprint: String,
}

/// Why a body is not an Alertmanager v4 webhook. The message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("invalid Alertmanager webhook at `{path}`: {message}")]
    Invalid { path: String, message: String },
    #[error("unsupported Alertmanager webhook version `{0}` (expected \"4\")")]
    Version(String),
}

/// A non-negative whole number of any size, saturated to `u64::MAX`.
fn count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    match (n.as_u64(), n.as_f64()) {
        (Some(u), _) => Ok(u),
        (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 => Ok(if f >= u64::MAX as f64 {
            u64::MAX
        } else {
            f as u64
        }),
        _ => Err(serde::de::Error::custom(format!(
            "`{n}` is not a non-negative whole number"
        ))),
    }
}

/// Parses a webhook body.
pub fn parse(body: &[u8]) -> Result<WebhookPayload, PayloadError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    let payload: WebhookPayload =
        serde_path_to_error::deserialize(de).map_err(|e| PayloadError::Invalid {
            path: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    if payload.version != "4" {
        return Err(PayloadError::Version(payload.version));
    }
    Ok(payload)
}

/// Label value → severity. Lookup is case-insensitive; values not in the map get
/// `unmapped`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeverityMap {
    /// The label carrying the severity (`severity`).
    pub label: String,
    /// Lower-case label value → severity.
    pub map: BTreeMap<String, Severity>,
    /// Severity for a missing or unknown label value.
    pub unmapped: Severity,
}

impl Default for SeverityMap {
    /// critical/high/medium/low as themselves, plus `page`→critical, `warning`→medium,
    /// `info`→low; anything else → medium.
    fn default() -> Self {
        let map = [
            ("critical", Severity::Critical),
            ("page", Severity::Critical),
            ("high", Severity::High),
            ("medium", Severity::Medium),
            ("warning", Severity::Medium),
            ("low", Severity::Low),
            ("info", Severity::Low),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Self {
            label: "severity".into(),
            map,
            unmapped: Severity::Medium,
        }
    }
}

impl SeverityMap {
    /// The severity for an alert's labels and whether the label value was mapped.
    pub fn classify(&self, labels: &BTreeMap<String, String>) -> (Severity, bool) {
        match labels
            .get(&self.label)
            .and_then(|v| self.map.get(&v.trim().to_ascii_lowercase()))
        {
            Some(s) => (*s, true),
            None => (self.unmapped, false),
        }
    }
}

/// What one alert asks of the incident engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// Open the incident with this dedup key, or leave the open one as it is.
    Fire(FiringAlert),
    /// Resolve the open incident with this dedup key, if any.
    Resolve {
        dedup_key: String,
        ends_at: Option<EpochMs>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiringAlert {
    pub dedup_key: String,
    pub severity: Severity,
    /// The raw label value (for the timeline: "severity `foo` is unmapped → medium").
    pub severity_label: Option<String>,
    pub severity_mapped: bool,
    /// `annotations.summary`, else `labels.alertname`, else "Alert".
    pub title: String,
    /// `annotations.description` (may be empty).
    pub description: String,
    pub starts_at: Option<EpochMs>,
    pub generator_url: Option<String>,
    pub labels: BTreeMap<String, String>,
}

/// Turns a payload into one signal per alert, in order.
pub fn signals(payload: &WebhookPayload, map: &SeverityMap) -> Vec<Signal> {
    payload
        .alerts
        .iter()
        .map(|a| {
            let dedup_key = dedup_key(a);
            match a.status {
                AlertStatus::Resolved => Signal::Resolve {
                    dedup_key,
                    ends_at: time(&a.ends_at),
                },
                AlertStatus::Firing => {
                    let (severity, mapped) = map.classify(&a.labels);
                    let title = a
                        .annotations
                        .get("summary")
                        .or_else(|| a.labels.get("alertname"))
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "Alert".into());
                    Signal::Fire(FiringAlert {
                        dedup_key,
                        severity,
                        severity_label: a.labels.get(&map.label).cloned(),
                        severity_mapped: mapped,
                        title,
                        description: a
                            .annotations
                            .get("description")
                            .cloned()
                            .unwrap_or_default(),
                        starts_at: time(&a.starts_at),
                        generator_url: Some(a.generator_url.clone()).filter(|u| !u.is_empty()),
                        labels: a.labels.clone(),
                    })
                }
            }
        })
        .collect()
}

/// The alert's fingerprint; for a sender that omits it, SHA-256 of the sorted labels
/// (first 16 hex characters, prefixed `labels:`), which is as stable as the labels.
pub fn dedup_key(alert: &Alert) -> String {
    let fp = alert.fingerprint.trim();
    if !fp.is_empty() {
        return fp.to_string();
    }
    let mut h = Sha256::new();
    for (k, v) in &alert.labels {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    let hex: String = h
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("labels:{hex}")
}

/// RFC 3339 → epoch ms; Alertmanager's "zero" time (`0001-01-01T00:00:00Z`) is `None`.
fn time(text: &str) -> Option<EpochMs> {
    parse_rfc3339(text.trim()).filter(|ms| *ms > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRING: &str = include_str!("../tests/fixtures/alertmanager_v4_firing.json");
    const RESOLVED: &str = include_str!("../tests/fixtures/alertmanager_v4_resolved.json");

    #[test]
    fn documented_v4_payload_parses_with_every_field() {
        let p = parse(FIRING.as_bytes()).expect("fixture parses");
        assert_eq!(p.version, "4");
        assert_eq!(p.status, AlertStatus::Firing);
        assert_eq!(p.receiver, "conea");
        assert_eq!(p.truncated_alerts, 0);
        assert_eq!(p.external_url, "http://alertmanager.example.org:9093");
        assert_eq!(
            p.group_key,
            "{}/{severity=~\"critical|warning\"}:{alertname=\"ProbeFailure\"}"
        );
        assert_eq!(p.alerts.len(), 2);
        assert_eq!(p.alerts[0].fingerprint, "1a30ba71cca2921f");
        assert_eq!(p.alerts[0].labels["severity"], "critical");
        assert!(p.alerts[0]
            .generator_url
            .starts_with("http://prometheus.example.org:9090/graph"));
    }

    #[test]
    fn firing_alerts_become_fire_signals_keyed_by_fingerprint() {
        let p = parse(FIRING.as_bytes()).expect("fixture");
        let s = signals(&p, &SeverityMap::default());
        let Signal::Fire(first) = &s[0] else {
            panic!("expected a fire signal: {s:?}")
        };
        assert_eq!(first.dedup_key, "1a30ba71cca2921f");
        assert_eq!(first.severity, Severity::Critical);
        assert!(first.severity_mapped);
        assert_eq!(
            first.title,
            "BlackBox probe failure: https://shop.example.org"
        );
        assert_eq!(
            first.description,
            "https://shop.example.org has been down for over 5 minutes."
        );
        assert_eq!(first.starts_at, parse_rfc3339("2026-06-03T00:58:45.828Z"));
        let Signal::Fire(second) = &s[1] else {
            panic!("expected a fire signal: {s:?}")
        };
        assert_eq!(second.severity, Severity::Medium, "warning maps to medium");
    }

    #[test]
    fn resolved_alerts_become_resolve_signals_with_their_end_time() {
        let p = parse(RESOLVED.as_bytes()).expect("fixture");
        assert_eq!(p.status, AlertStatus::Resolved);
        assert_eq!(
            signals(&p, &SeverityMap::default()),
            vec![Signal::Resolve {
                dedup_key: "1a30ba71cca2921f".into(),
                ends_at: parse_rfc3339("2026-06-03T01:20:45.828Z"),
            }]
        );
    }

    #[test]
    fn default_map_covers_matrix_names_and_prometheus_conventions() {
        let m = SeverityMap::default();
        let sev = |v: &str| m.classify(&BTreeMap::from([("severity".to_string(), v.to_string())]));
        assert_eq!(sev("page"), (Severity::Critical, true));
        assert_eq!(sev("Critical"), (Severity::Critical, true));
        assert_eq!(sev("high"), (Severity::High, true));
        assert_eq!(sev("warning"), (Severity::Medium, true));
        assert_eq!(sev("info"), (Severity::Low, true));
        assert_eq!(sev("disaster"), (Severity::Medium, false));
        assert_eq!(m.classify(&BTreeMap::new()), (Severity::Medium, false));
    }

    #[test]
    fn configured_label_and_map_are_used() {
        let mut m = SeverityMap {
            label: "priority".into(),
            unmapped: Severity::Low,
            ..SeverityMap::default()
        };
        m.map.insert("p1".into(), Severity::Critical);
        let labels = BTreeMap::from([("priority".to_string(), "P1".to_string())]);
        assert_eq!(m.classify(&labels), (Severity::Critical, true));
        let labels = BTreeMap::from([("severity".to_string(), "critical".to_string())]);
        assert_eq!(m.classify(&labels), (Severity::Low, false));
    }

    #[test]
    fn missing_fingerprint_falls_back_to_a_stable_label_hash() {
        let alert = |order: &[(&str, &str)]| Alert {
            status: AlertStatus::Firing,
            labels: order
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: BTreeMap::new(),
            starts_at: String::new(),
            ends_at: String::new(),
            generator_url: String::new(),
            fingerprint: String::new(),
        };
        let a = dedup_key(&alert(&[("alertname", "X"), ("job", "api")]));
        let b = dedup_key(&alert(&[("job", "api"), ("alertname", "X")]));
        assert_eq!(a, b);
        assert!(a.starts_with("labels:") && a.len() == 23, "{a}");
        assert_ne!(a, dedup_key(&alert(&[("alertname", "Y")])));
    }

    #[test]
    fn truncated_alerts_is_any_whole_count_saturated_and_nothing_else() {
        let with = |n: &str| {
            parse(format!(r#"{{"version": "4", "status": "firing", "alerts": [], "truncatedAlerts": {n}}}"#).as_bytes())
                .map(|p| p.truncated_alerts)
        };
        assert_eq!(with("3"), Ok(3));
        assert_eq!(with("3.0"), Ok(3));
        assert_eq!(with("1e30"), Ok(u64::MAX));
        assert!(with("-1").is_err());
        assert!(with("2.5").is_err());
    }

    #[test]
    fn wrong_version_and_bad_fields_are_named() {
        let v3 = FIRING.replace("\"version\": \"4\"", "\"version\": \"3\"");
        assert_eq!(parse(v3.as_bytes()), Err(PayloadError::Version("3".into())));
        let bad = FIRING.replacen("\"status\": \"firing\"", "\"status\": \"burning\"", 1);
        let err = parse(bad.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("`status`") && err.contains("burning"), "{err}");
    }
}
