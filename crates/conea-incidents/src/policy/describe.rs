//! A human summary of the effective policy for `conea incidents check-config`: every
//! value that matters, secrets redacted (`***`), the Slack webhook URL shown without its
//! path (the path is the credential).

use super::*;
use conea_core::config::duration;
use std::fmt::Write;

impl Policy {
    /// Multi-line summary of the effective policy, followed by the warnings.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let h = &self.business_hours;
        let (start, end) = h.window_text();
        let _ = writeln!(
            out,
            "business_hours: {} {} {start}-{end}",
            h.timezone(),
            h.day_names().join(",")
        );
        for sev in Severity::ALL {
            let r = self.severity(sev);
            let dur = |d: Option<Duration>| d.map(human).unwrap_or_else(|| "never".into());
            let notify: Vec<&str> = r.notify.iter().map(|c| c.as_str()).collect();
            let _ = writeln!(
                out,
                "severity {sev}: responder={} notify=[{}] unacknowledged={} unresolved={} interval={} page_on_call={} business_hours_only={}",
                r.responder,
                notify.join(","),
                dur(r.escalate_if_unacknowledged_after),
                dur(r.escalate_if_unresolved_after),
                human(r.escalation_interval),
                r.page_on_call,
                r.business_hours_only
            );
        }
        let c = &self.contacts;
        let _ = writeln!(
            out,
            "contacts: on_call primary={} secondary={} commander={} chain={} stakeholders={}",
            set(c.on_call_sre.primary.is_some()),
            set(c.on_call_sre.secondary.is_some()),
            c.incident_commander
                .as_ref()
                .map(|x| x.name.as_str())
                .unwrap_or("not set"),
            c.escalation_chain.len(),
            c.stakeholders.len()
        );
        let ch = &self.channels;
        let line = |name: &str, detail: Option<String>| match detail {
            Some(d) => format!("channel {name}: {d}\n"),
            None => format!("channel {name}: not configured\n"),
        };
        out.push_str(&line(
            "slack",
            ch.slack
                .as_ref()
                .map(|s| format!("webhook_url={}", url_origin(s.webhook_url.expose()))),
        ));
        out.push_str(&line(
            "pagerduty",
            ch.pagerduty
                .as_ref()
                .map(|p| format!("events_url={} routing_key=***", p.events_url)),
        ));
        out.push_str(&line(
            "email",
            ch.email.as_ref().map(|e| {
                format!(
                    "smtp={}:{} security={:?} auth={} from={} to={}",
                    e.smtp.host,
                    e.smtp.port,
                    e.smtp.security,
                    if e.smtp.password.is_some() {
                        "***"
                    } else {
                        "none"
                    },
                    e.from,
                    e.to.len()
                )
            }),
        ));
        out.push_str(&line(
            "jira",
            ch.jira.as_ref().map(|j| {
                format!(
                    "base_url={} project={} issue_type={} api_token=***",
                    j.base_url, j.project_key, j.issue_type
                )
            }),
        ));
        out.push_str(&line(
            "webhook",
            ch.webhook
                .as_ref()
                .map(|w| format!("url={} secret=***", w.url)),
        ));
        let _ = writeln!(
            out,
            "alertmanager: label={} mapped_values={} unmapped={}",
            self.alertmanager.label,
            self.alertmanager.map.len(),
            self.alertmanager.unmapped
        );
        for w in self.warnings() {
            let _ = writeln!(out, "warning: {w}");
        }
        out
    }
}

fn human(d: Duration) -> String {
    if d.is_zero() {
        "0s".into()
    } else {
        duration::format(d)
    }
}

fn set(b: bool) -> &'static str {
    if b {
        "set"
    } else {
        "not set"
    }
}

fn url_origin(text: &str) -> String {
    match Url::parse(text) {
        Ok(u) => format!("{}/***", u.origin().ascii_serialization()),
        Err(_) => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::issue_policy;

    #[test]
    fn description_shows_the_effective_policy_and_redacts_secrets() {
        let text = issue_policy().describe();
        assert!(
            text.contains("business_hours: Asia/Tokyo mon,tue,wed,thu,fri 09:00-18:00"),
            "{text}"
        );
        assert!(text.contains("severity critical: responder=on_call_sre notify=[pagerduty,slack] unacknowledged=0s unresolved=15m interval=5m page_on_call=true"), "{text}");
        assert!(
            text.contains("channel slack: webhook_url=https://hooks.slack.com/***"),
            "{text}"
        );
        assert!(text.contains("channel pagerduty: events_url=https://events.pagerduty.com/v2/enqueue routing_key=***"), "{text}");
        for secret in [
            "R0UTINGKEY",
            "T000/B000",
            "mailer:secret",
            "MfKQ9r8G",
            "api_token=tok",
        ] {
            assert!(!text.contains(secret), "{secret} leaked:\n{text}");
        }
    }
}
