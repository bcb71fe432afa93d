//! A schedule's definition as given (create or patch) checked field by field; every error
//! names its field (`report`, `params.from`, `cron`, `timezone`, `deliver[1].target`, …).

use crate::cron::CronSpec;
use crate::model::{Channel, Destination, Language, ScheduleReport};
use conea_core::clock::EpochMs;
use conea_core::error::CoreError;
use conea_shopdata::analytics::RawParams;
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
    /// `en` (default) or `ja`.
    pub language: Option<String>,
}

/// A definition that passed every check.
#[derive(Debug, Clone)]
pub struct Definition {
    pub report: ScheduleReport,
    pub params: RawParams,
    pub language: Language,
    pub cron: String,
    pub timezone: String,
    pub spec: CronSpec,
    pub deliver: Vec<Destination>,
    pub enabled: bool,
}

pub fn report(text: &str) -> Result<ScheduleReport, CoreError> {
    ScheduleReport::parse(text.trim()).ok_or_else(|| {
        let names = ScheduleReport::names().join(", ");
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

pub fn language(text: &str) -> Result<Language, CoreError> {
    Language::parse(text.trim()).ok_or_else(|| {
        CoreError::invalid(
            "language",
            format!("`{text}` is not a language of schedules; use en or ja."),
        )
    })
}

/// The digest's parameters: `granularity` is its period (`week`, the default, or `day`),
/// `timezone` its days' zone and `shop_id` its shop; the period always ends at the run's
/// slot, so `from`, `to`, `compare`, `sort` and `limit` are refused.
pub fn digest_params(raw: &RawParams) -> Result<(), CoreError> {
    for (param, given) in [
        ("from", raw.from.is_some()),
        ("to", raw.to.is_some()),
        ("compare", raw.compare.is_some()),
        ("sort", raw.sort.is_some()),
        ("limit", raw.limit.is_some()),
    ] {
        if given {
            return Err(CoreError::invalid(
                &format!("params.{param}"),
                format!("`{param}` does not apply to the digest: its period (granularity day or week) ends at each run's slot and is compared with the period before."),
            ));
        }
    }
    match raw.granularity.as_deref().map(str::trim) {
        None | Some("day") | Some("week") => Ok(()),
        Some(other) => Err(CoreError::invalid(
            "params.granularity",
            format!("`{other}` is not a digest period; use day or week."),
        )),
    }
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
    if report == ScheduleReport::Digest {
        digest_params(&params)?;
    }
    let language = match d.language.as_deref() {
        Some(l) => language(l)?,
        None => Language::default(),
    };
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
        language,
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
            language: None,
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
        assert_eq!(
            d.report,
            ScheduleReport::Analytics(conea_shopdata::analytics::Report::SalesOverTime)
        );
        assert_eq!(d.language, Language::En);
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

    #[test]
    fn a_digest_takes_a_day_or_week_period_and_a_language_and_refuses_a_fixed_range() {
        let digest = |params: Value, language: Option<&str>| ScheduleDraft {
            report: Some("digest".into()),
            params: Some(params),
            language: language.map(str::to_string),
            ..draft()
        };
        let d = definition(
            &digest(json!({"granularity": "day"}), Some("ja")),
            false,
            NOW,
        )
        .expect("valid");
        assert_eq!(
            (d.report, d.language),
            (ScheduleReport::Digest, Language::Ja)
        );
        for (params, field) in [
            (json!({"from": "2026-01-01"}), "params.from"),
            (json!({"compare": "previous_year"}), "params.compare"),
            (json!({"granularity": "month"}), "params.granularity"),
        ] {
            assert_eq!(
                param_of(definition(&digest(params, None), false, NOW).expect_err(field)),
                field
            );
        }
        assert_eq!(
            param_of(definition(&digest(json!({}), Some("fr")), false, NOW).expect_err("fr")),
            "language"
        );
    }
}
