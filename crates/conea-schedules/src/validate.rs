//! A schedule's definition as given (create or patch) checked field by field; every error
//! names its field (`report`, `params.from`, `cron`, `timezone`, `deliver[1].target`, …).

use crate::cron::CronSpec;
use crate::model::{Channel, Destination};
use conea_core::clock::EpochMs;
use conea_core::error::CoreError;
use conea_shopdata::analytics::{RawParams, Report};
use serde_json::Value;

/// At most this many destinations per schedule.
pub const MAX_DESTINATIONS: usize = 10;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DestinationDraft {
    pub channel: String,
    pub target: String,
}

/// The definition as given; on create `report`, `cron` and `deliver` are required, on patch
/// every field is optional and replaces the stored one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScheduleDraft {
    pub report: Option<String>,
    pub params: Option<Value>,
    pub cron: Option<String>,
    pub timezone: Option<String>,
    pub deliver: Option<Vec<DestinationDraft>>,
    pub enabled: Option<bool>,
}

/// A definition that passed every check.
#[derive(Debug, Clone)]
pub struct Definition {
    pub report: Report,
    pub params: RawParams,
    pub cron: String,
    pub timezone: String,
    pub spec: CronSpec,
    pub deliver: Vec<Destination>,
    pub enabled: bool,
}

pub fn report(text: &str) -> Result<Report, CoreError> {
    Report::parse(text.trim()).ok_or_else(|| {
        let names = Report::ALL.map(Report::as_str).join(", ");
        CoreError::invalid(
            "report",
            format!("`{text}` is not a report; the reports are {names}."),
        )
    })
}

/// The report parameters, checked as the report would parse them at `now` (a bad one is
/// named `params.<name>`).
pub fn params(value: &Value, now: EpochMs) -> Result<RawParams, CoreError> {
    let raw: RawParams = serde_json::from_value(value.clone()).map_err(|e| {
        CoreError::invalid(
            "params",
            format!("`params` must be an object of report parameters (from, to, timezone, granularity, compare, shop_id): {e}"),
        )
    })?;
    raw.parse(now).map_err(|e| {
        CoreError::invalid(
            &format!("params.{}", e.param),
            format!("{}.", e.message.trim_end_matches('.')),
        )
    })?;
    Ok(raw)
}

pub fn destinations(
    items: &[DestinationDraft],
    email_configured: bool,
) -> Result<Vec<Destination>, CoreError> {
    if items.is_empty() || items.len() > MAX_DESTINATIONS {
        return Err(CoreError::invalid(
            "deliver",
            format!("`deliver` needs 1 to {MAX_DESTINATIONS} destinations ({{channel, target}})."),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, d) in items.iter().enumerate() {
        let channel = Channel::parse(d.channel.trim()).ok_or_else(|| {
            CoreError::invalid(
                &format!("deliver[{i}].channel"),
                format!(
                    "`{}` is not a channel; use email, slack or webhook.",
                    d.channel
                ),
            )
        })?;
        let target = d.target.trim().to_string();
        let bad_target = |m: String| CoreError::invalid(&format!("deliver[{i}].target"), m);
        match channel {
            Channel::Email => {
                if !email_configured {
                    return Err(CoreError::invalid(
                        &format!("deliver[{i}].channel"),
                        "e-mail delivery is not configured: the escalation policy (CONEA_ESCALATION_CONFIG) has no email channel, whose SMTP server and sender reports would use.",
                    ));
                }
                let ok = target.parse::<lettre::Address>().is_ok();
                if !ok {
                    return Err(bad_target(format!("`{target}` is not an e-mail address.")));
                }
            }
            Channel::Slack | Channel::Webhook => {
                let ok = url::Url::parse(&target)
                    .map(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
                    .unwrap_or(false);
                if !ok {
                    return Err(bad_target(format!("`{target}` is not an http(s) URL.")));
                }
            }
        }
        out.push(Destination { channel, target });
    }
    Ok(out)
}

/// Checks a complete draft (every required field present).
pub fn definition(
    d: &ScheduleDraft,
    email_configured: bool,
    now: EpochMs,
) -> Result<Definition, CoreError> {
    let missing = |f: &str| CoreError::invalid(f, format!("`{f}` is required."));
    let report = report(d.report.as_deref().ok_or_else(|| missing("report"))?)?;
    let params = params(
        d.params
            .as_ref()
            .unwrap_or(&Value::Object(Default::default())),
        now,
    )?;
    let cron = d.cron.as_deref().ok_or_else(|| missing("cron"))?.trim();
    let timezone = d.timezone.as_deref().unwrap_or("UTC").trim();
    let spec = CronSpec::parse(cron, timezone).map_err(|(f, m)| CoreError::invalid(f, m))?;
    let deliver = destinations(
        d.deliver.as_deref().ok_or_else(|| missing("deliver"))?,
        email_configured,
    )?;
    Ok(Definition {
        report,
        params,
        cron: cron.to_string(),
        timezone: timezone.to_string(),
        spec,
        deliver,
        enabled: d.enabled.unwrap_or(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: EpochMs = 1_780_448_400_000;

    fn draft() -> ScheduleDraft {
        ScheduleDraft {
            report: Some("sales_over_time".into()),
            params: Some(json!({"granularity": "day"})),
            cron: Some("0 9 * * MON".into()),
            timezone: Some("Asia/Tokyo".into()),
            deliver: Some(vec![DestinationDraft {
                channel: "webhook".into(),
                target: "https://example.com/hook".into(),
            }]),
            enabled: None,
        }
    }

    fn param_of(e: CoreError) -> String {
        match e {
            CoreError::InvalidInput { param, .. } => param.unwrap_or_default(),
            other => panic!("not a 400: {other:?}"),
        }
    }

    #[test]
    fn a_complete_draft_is_enabled_by_default() {
        let d = definition(&draft(), false, NOW).expect("valid");
        assert!(d.enabled);
        assert_eq!(d.report, Report::SalesOverTime);
        assert_eq!(d.timezone, "Asia/Tokyo");
    }

    #[test]
    fn each_bad_field_is_named() {
        let dest = |c: &str, t: &str| {
            Some(vec![
                DestinationDraft {
                    channel: "slack".into(),
                    target: "https://hooks.example/ok".into(),
                },
                DestinationDraft {
                    channel: c.into(),
                    target: t.into(),
                },
            ])
        };
        let cases: Vec<(ScheduleDraft, &str)> = vec![
            (
                ScheduleDraft {
                    report: Some("weather".into()),
                    ..draft()
                },
                "report",
            ),
            (
                ScheduleDraft {
                    report: None,
                    ..draft()
                },
                "report",
            ),
            (
                ScheduleDraft {
                    params: Some(json!({"granularity": "hour"})),
                    ..draft()
                },
                "params.granularity",
            ),
            (
                ScheduleDraft {
                    params: Some(json!({"from": "2026-02-01", "to": "2026-01-01"})),
                    ..draft()
                },
                "params.from",
            ),
            (
                ScheduleDraft {
                    params: Some(json!({"colour": "red"})),
                    ..draft()
                },
                "params",
            ),
            (
                ScheduleDraft {
                    cron: Some("every monday".into()),
                    ..draft()
                },
                "cron",
            ),
            (
                ScheduleDraft {
                    timezone: Some("Mars/Olympus".into()),
                    ..draft()
                },
                "timezone",
            ),
            (
                ScheduleDraft {
                    deliver: Some(vec![]),
                    ..draft()
                },
                "deliver",
            ),
            (
                ScheduleDraft {
                    deliver: dest("pigeon", "x"),
                    ..draft()
                },
                "deliver[1].channel",
            ),
            (
                ScheduleDraft {
                    deliver: dest("webhook", "ftp://example.com"),
                    ..draft()
                },
                "deliver[1].target",
            ),
            (
                ScheduleDraft {
                    deliver: dest("email", "a@example.com"),
                    ..draft()
                },
                "deliver[1].channel",
            ),
        ];
        for (d, field) in cases {
            assert_eq!(
                param_of(definition(&d, false, NOW).expect_err(field)),
                field
            );
        }
        let bad_mail = ScheduleDraft {
            deliver: dest("email", "not-an-address"),
            ..draft()
        };
        assert_eq!(
            param_of(definition(&bad_mail, true, NOW).expect_err("address")),
            "deliver[1].target"
        );
    }
}
