//! Raw file → validated [`Policy`], collecting every problem with its key path.

use super::raw::*;
use super::*;
use crate::business_hours::{HoursProblem, DAY_NAMES};
use conea_core::config::duration;

pub(super) fn build(raw: RawPolicy) -> Result<Policy, Vec<Problem>> {
    let mut problems = Vec::new();
    let business_hours = business_hours(raw.business_hours.unwrap_or_default(), &mut problems);
    let contacts = contacts(raw.contacts.unwrap_or_default(), &mut problems);
    let channels = channels(raw.channels.unwrap_or_default(), &mut problems);
    let severities = severities(raw.severities, &contacts, &mut problems);
    let alertmanager = alertmanager(raw.alertmanager.unwrap_or_default(), &mut problems);
    match business_hours {
        Some(business_hours) if problems.is_empty() => {
            let mut policy = Policy {
                business_hours,
                severities,
                contacts,
                channels,
                alertmanager,
                warnings: Vec::new(),
            };
            policy.warnings = warnings(&policy);
            Ok(policy)
        }
        _ => Err(problems),
    }
}

pub(super) fn warnings(policy: &Policy) -> Vec<Problem> {
    let mut out = Vec::new();
    for (sev, row) in &policy.severities {
        for (i, kind) in row.notify.iter().enumerate() {
            if !policy.channels.is_configured(*kind) {
                out.push(Problem::new(
                    format!("severities.{sev}.notify[{i}]"),
                    format!("channel `{kind}` is not configured under `channels`; these notifications will be skipped"),
                ));
            }
        }
        let escalates = row.escalate_if_unacknowledged_after.is_some();
        if escalates && row.page_on_call && policy.contacts.on_call_sre.primary.is_none() {
            out.push(Problem::new(
                format!("severities.{sev}.page_on_call"),
                "contacts.on_call_sre.primary is not set; the on-call page steps are left out",
            ));
        }
    }
    out
}

fn business_hours(raw: RawBusinessHours, problems: &mut Vec<Problem>) -> Option<BusinessHours> {
    let timezone = raw.timezone.unwrap_or_else(|| "Asia/Tokyo".into());
    let days = raw
        .days
        .unwrap_or_else(|| DAY_NAMES[..5].iter().map(|d| d.to_string()).collect());
    let start = raw.start.unwrap_or_else(|| "09:00".into());
    let end = raw.end.unwrap_or_else(|| "18:00".into());
    match BusinessHours::new(&timezone, &days, &start, &end) {
        Ok(hours) => Some(hours),
        Err(found) => {
            for p in found {
                problems.push(match p {
                    HoursProblem::Timezone(m) => Problem::new("business_hours.timezone", m),
                    HoursProblem::Day { index, message } => {
                        Problem::new(format!("business_hours.days[{index}]"), message)
                    }
                    HoursProblem::NoDays => {
                        Problem::new("business_hours.days", "needs at least one day")
                    }
                    HoursProblem::Start(m) => Problem::new("business_hours.start", m),
                    HoursProblem::End(m) => Problem::new("business_hours.end", m),
                    HoursProblem::StartNotBeforeEnd => Problem::new(
                        "business_hours.start",
                        format!("start ({start}) must be before end ({end})"),
                    ),
                });
            }
            None
        }
    }
}

fn text(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn required(value: Option<String>, path: &str, problems: &mut Vec<Problem>) -> String {
    match text(value) {
        Some(v) => v,
        None => {
            problems.push(Problem::new(path, "is required"));
            String::new()
        }
    }
}

fn contacts(raw: RawContacts, problems: &mut Vec<Problem>) -> Contacts {
    let mut contacts = super::defaults::contacts();
    if let Some(on_call) = raw.on_call_sre {
        contacts.on_call_sre = OnCall {
            primary: text(on_call.primary),
            secondary: text(on_call.secondary),
            slack: text(on_call.slack),
        };
    }
    if let Some(c) = raw.incident_commander {
        contacts.incident_commander = Some(Commander {
            name: required(c.name, "contacts.incident_commander.name", problems),
            phone: text(c.phone),
            email: text(c.email),
            slack: text(c.slack),
        });
    }
    if let Some(chain) = raw.escalation_chain {
        contacts.escalation_chain = chain
            .into_iter()
            .enumerate()
            .map(|(i, c)| ChainContact {
                role: required(
                    c.role,
                    &format!("contacts.escalation_chain[{i}].role"),
                    problems,
                ),
                contact: required(
                    c.contact,
                    &format!("contacts.escalation_chain[{i}].contact"),
                    problems,
                ),
            })
            .collect();
    }
    for (name, team) in raw.teams.unwrap_or_default() {
        contacts.teams.insert(
            name,
            Team {
                slack: text(team.slack),
                email: text(team.email),
                phone: text(team.phone),
            },
        );
    }
    if let Some(stakeholders) = raw.stakeholders {
        contacts.stakeholders = stakeholders
            .into_iter()
            .filter_map(|s| text(Some(s)))
            .collect();
    }
    contacts
}

fn http_url(value: Option<String>, path: &str, problems: &mut Vec<Problem>) -> Option<Url> {
    let value = text(value);
    let Some(value) = value else {
        problems.push(Problem::new(path, "is required"));
        return None;
    };
    match Url::parse(&value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Some(u),
        Ok(u) => {
            problems.push(Problem::new(
                path,
                format!("must be an http(s) URL, not `{}:`", u.scheme()),
            ));
            None
        }
        Err(e) => {
            // The value can carry a credential (Slack), so it is not echoed.
            problems.push(Problem::new(path, format!("is not a URL ({e})")));
            None
        }
    }
}

fn mailbox(value: &str, path: &str, problems: &mut Vec<Problem>) -> Option<Mailbox> {
    match value.trim().parse::<Mailbox>() {
        Ok(m) => Some(m),
        Err(e) => {
            problems.push(Problem::new(
                path,
                format!("`{value}` is not an e-mail address ({e})"),
            ));
            None
        }
    }
}

fn channels(raw: RawChannels, problems: &mut Vec<Problem>) -> Channels {
    let mut out = Channels::default();
    if let Some(s) = raw.slack {
        let url = http_url(s.webhook_url, "channels.slack.webhook_url", problems);
        out.slack = url.map(|u| SlackChannel {
            webhook_url: Secret::new(u.to_string()),
        });
    }
    if let Some(p) = raw.pagerduty {
        let key = required(p.routing_key, "channels.pagerduty.routing_key", problems);
        let url = http_url(
            Some(
                p.events_url
                    .unwrap_or_else(|| PAGERDUTY_EVENTS_URL.to_string()),
            ),
            "channels.pagerduty.events_url",
            problems,
        );
        out.pagerduty = url.map(|events_url| PagerDutyChannel {
            routing_key: Secret::new(key),
            events_url,
        });
    }
    if let Some(e) = raw.email {
        let smtp = match text(e.smtp_url) {
            None => {
                problems.push(Problem::new("channels.email.smtp_url", "is required"));
                None
            }
            Some(u) => SmtpSettings::parse(&u)
                .map_err(|m| problems.push(Problem::new("channels.email.smtp_url", m)))
                .ok(),
        };
        let from = required(e.from, "channels.email.from", problems);
        let from = if from.is_empty() {
            None
        } else {
            mailbox(&from, "channels.email.from", problems)
        };
        let to_raw = e.to.unwrap_or_default();
        if to_raw.is_empty() {
            problems.push(Problem::new(
                "channels.email.to",
                "needs at least one address",
            ));
        }
        let to: Vec<Mailbox> = to_raw
            .iter()
            .enumerate()
            .filter_map(|(i, t)| mailbox(t, &format!("channels.email.to[{i}]"), problems))
            .collect();
        if let (Some(smtp), Some(from)) = (smtp, from) {
            out.email = Some(EmailChannel { smtp, from, to });
        }
    }
    if let Some(j) = raw.jira {
        let base_url = http_url(j.base_url, "channels.jira.base_url", problems);
        let email = required(j.email, "channels.jira.email", problems);
        let token = required(j.api_token, "channels.jira.api_token", problems);
        let project_key = required(j.project_key, "channels.jira.project_key", problems);
        let issue_type = text(j.issue_type).unwrap_or_else(|| "Bug".into());
        out.jira = base_url.map(|base_url| JiraChannel {
            base_url,
            email,
            api_token: Secret::new(token),
            project_key,
            issue_type,
        });
    }
    if let Some(w) = raw.webhook {
        let url = http_url(w.url, "channels.webhook.url", problems);
        let secret = match text(w.secret) {
            None => {
                problems.push(Problem::new("channels.webhook.secret", "is required"));
                None
            }
            Some(s) => WebhookSecret::parse(&s)
                .map_err(|m| problems.push(Problem::new("channels.webhook.secret", m)))
                .ok(),
        };
        if let (Some(url), Some(secret)) = (url, secret) {
            out.webhook = Some(WebhookChannel { url, secret });
        }
    }
    out
}

/// `None` for `never`/`off`; the problem names `path`.
fn duration_opt(
    value: &DurationText,
    path: &str,
    problems: &mut Vec<Problem>,
) -> Option<Option<Duration>> {
    let t = value.0.trim();
    if matches!(t, "never" | "off") {
        return Some(None);
    }
    match duration::parse(t) {
        Ok(d) => Some(Some(d)),
        Err(m) => {
            problems.push(Problem::new(path, m));
            None
        }
    }
}

fn severities(
    raw: BTreeMap<String, RawSeverity>,
    contacts: &Contacts,
    problems: &mut Vec<Problem>,
) -> BTreeMap<Severity, SeverityPolicy> {
    let mut out = super::defaults::severities();
    for (name, r) in raw {
        let sev = match name.parse::<Severity>() {
            Ok(s) => s,
            Err(m) => {
                problems.push(Problem::new(format!("severities.{name}"), m));
                continue;
            }
        };
        let base = super::defaults::severity(sev);
        let at = |field: &str| format!("severities.{sev}.{field}");
        let mut row = base.clone();
        if let Some(d) = text(r.definition) {
            row.definition = d;
        }
        if let Some(responder) = &r.responder {
            row.responder = responder.trim().to_string();
        }
        if let Some(notify) = r.notify {
            row.notify = notify
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    c.parse::<ChannelKind>()
                        .map_err(|m| problems.push(Problem::new(at(&format!("notify[{i}]")), m)))
                        .ok()
                })
                .collect();
        }
        let unack = r
            .escalate_if_unacknowledged_after
            .as_ref()
            .and_then(|d| duration_opt(d, &at("escalate_if_unacknowledged_after"), problems));
        if let Some(unack) = unack {
            row.escalate_if_unacknowledged_after = unack;
        }
        if let Some(d) = &r.escalate_if_unresolved_after {
            if let Some(v) = duration_opt(d, &at("escalate_if_unresolved_after"), problems) {
                row.escalate_if_unresolved_after = v;
            }
        }
        row.escalation_interval = match &r.escalation_interval {
            Some(d) => match duration_opt(d, &at("escalation_interval"), problems) {
                Some(Some(i)) if !i.is_zero() => i,
                Some(_) => {
                    problems.push(Problem::new(
                        at("escalation_interval"),
                        "must be longer than zero",
                    ));
                    base.escalation_interval
                }
                None => base.escalation_interval,
            },
            None => match unack {
                Some(Some(u)) if !u.is_zero() => u,
                Some(_) => DEFAULT_ESCALATION_INTERVAL,
                None => base.escalation_interval,
            },
        };
        row.page_on_call = r.page_on_call.unwrap_or(if r.responder.is_some() {
            row.responder == ON_CALL_SRE
        } else {
            base.page_on_call
        });
        if let Some(b) = r.business_hours_only {
            row.business_hours_only = b;
        }
        let known = row.responder == ON_CALL_SRE
            || row.responder == INCIDENT_COMMANDER
            || contacts.teams.contains_key(&row.responder);
        if !known {
            let mut names: Vec<&str> = vec![ON_CALL_SRE, INCIDENT_COMMANDER];
            names.extend(contacts.teams.keys().map(String::as_str));
            problems.push(Problem::new(
                at("responder"),
                format!(
                    "unknown responder `{}` (use {}, or add it under contacts.teams)",
                    row.responder,
                    names.join(", ")
                ),
            ));
        }
        out.insert(sev, row);
    }
    out
}

fn alertmanager(raw: RawAlertmanager, problems: &mut Vec<Problem>) -> SeverityMap {
    let mut map = SeverityMap::default();
    if let Some(label) = text(raw.severity_label) {
        map.label = label;
    }
    for (label, sev) in raw.severities.unwrap_or_default() {
        match sev.parse::<Severity>() {
            Ok(s) => {
                map.map.insert(label.trim().to_ascii_lowercase(), s);
            }
            Err(m) => problems.push(Problem::new(format!("alertmanager.severities.{label}"), m)),
        }
    }
    if let Some(u) = raw.unmapped {
        match u.parse::<Severity>() {
            Ok(s) => map.unmapped = s,
            Err(m) => problems.push(Problem::new("alertmanager.unmapped", m)),
        }
    }
    map
}
