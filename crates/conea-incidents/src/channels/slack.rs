//! Slack incoming-webhook messages (Block Kit): `text` is the notification fallback,
//! `blocks` the rendered message. User text in `mrkdwn` is escaped (`&`, `<`, `>`).

use super::{headline, truncate, IncidentMessage, Notice};
use crate::policy::Commander;
use conea_core::clock::rfc3339;
use conea_core::config::duration;
use serde_json::{json, Value};
use std::time::Duration;

const HEADER_MAX: usize = 150;
const SECTION_MAX: usize = 3000;

/// The message for a notice about an incident.
pub fn message(m: &IncidentMessage, notice: &Notice) -> Value {
    let head = headline(m);
    let (prefix, line) = match notice {
        Notice::Opened => ("", format!("New incident for *{}*.", escape(&m.responder))),
        Notice::Escalated { role, contact } => (
            "Escalated: ",
            format!(
                "Not acknowledged in time. Paging *{}* ({}).",
                escape(role),
                escape(contact)
            ),
        ),
        Notice::CommanderSummoned { name, contact } => (
            "Commander summoned: ",
            match contact {
                Some(c) => format!(
                    "Unresolved in time. Incident commander *{}* ({}) is summoned.",
                    escape(name),
                    escape(c)
                ),
                None => format!(
                    "Unresolved in time. Incident commander *{}* is summoned.",
                    escape(name)
                ),
            },
        ),
        Notice::StakeholderUpdate => (
            "Stakeholder update: ",
            "A critical incident is being handled; follow the timeline for updates.".to_string(),
        ),
        Notice::Acknowledged { by, at } => (
            "Acknowledged: ",
            format!("Acknowledged by *{}* at {}.", escape(by), rfc3339(*at)),
        ),
        Notice::Resolved { by, at } => (
            "Resolved: ",
            format!("Resolved by *{}* at {}.", escape(by), rfc3339(*at)),
        ),
    };
    let title = format!("{prefix}{head}");
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&title, HEADER_MAX), "emoji": true}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": line}}),
        json!({"type": "section", "fields": [
            {"type": "mrkdwn", "text": format!("*Severity*\n{}", m.severity.title())},
            {"type": "mrkdwn", "text": format!("*Responder*\n{}", escape(&m.responder))},
            {"type": "mrkdwn", "text": format!("*Opened*\n{}", rfc3339(m.opened_at))},
            {"type": "mrkdwn", "text": format!("*Incident*\n<{}|{}>", m.links.timeline, escape(&m.incident_id))},
        ]}),
    ];
    if !m.summary.trim().is_empty() {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&escape(m.summary.trim()), SECTION_MAX)}}));
    }
    let mut buttons = Vec::new();
    if notice.is_open() {
        if let Some(url) = &m.links.acknowledge {
            buttons.push(button("acknowledge", "Acknowledge", url, Some("primary")));
        }
    }
    if !matches!(notice, Notice::Resolved { .. }) {
        if let Some(url) = &m.links.resolve {
            buttons.push(button("resolve", "Resolve", url, None));
        }
    }
    buttons.push(button("timeline", "Timeline", &m.links.timeline, None));
    blocks.push(json!({"type": "actions", "elements": buttons}));
    json!({"text": title, "blocks": blocks})
}

/// The war-room message for a critical incident still unresolved after `unresolved_for`:
/// the timeline link and the commander; the discussion continues in its thread.
pub fn war_room(
    m: &IncidentMessage,
    commander: Option<&Commander>,
    unresolved_for: Duration,
) -> Value {
    let title = format!("War room: {}", headline(m));
    let who = match commander {
        Some(c) => match c.phone.as_deref().or(c.email.as_deref()) {
            Some(contact) => format!("*{}* ({})", escape(&c.name), escape(contact)),
            None => format!("*{}*", escape(&c.name)),
        },
        None => "not configured".to_string(),
    };
    let text = format!(
        "<{}|{}> is unresolved after {}. Incident commander: {}. Coordinate in this thread; the timeline is the record.",
        m.links.timeline,
        escape(&m.incident_id),
        duration::format(unresolved_for),
        who
    );
    json!({
        "text": title,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": truncate(&title, HEADER_MAX), "emoji": true}},
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "actions", "elements": [button("timeline", "Timeline", &m.links.timeline, None)]},
        ]
    })
}

fn button(action_id: &str, label: &str, url: &str, style: Option<&str>) -> Value {
    let mut b = json!({
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "url": url,
    });
    if let (Some(style), Some(obj)) = (style, b.as_object_mut()) {
        obj.insert("style".into(), Value::String(style.into()));
    }
    b
}

/// Slack's three control characters in message text.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::fixtures::{message as fixture, OPENED};
    use crate::severity::Severity;

    #[test]
    fn opened_message_has_header_fields_summary_and_action_buttons() {
        let m = fixture(Severity::Critical);
        assert_eq!(
            message(&m, &Notice::Opened),
            json!({
                "text": "[CRITICAL] Checkout API down",
                "blocks": [
                    {"type": "header", "text": {"type": "plain_text", "text": "[CRITICAL] Checkout API down", "emoji": true}},
                    {"type": "section", "text": {"type": "mrkdwn", "text": "New incident for *on_call_sre*."}},
                    {"type": "section", "fields": [
                        {"type": "mrkdwn", "text": "*Severity*\nCritical"},
                        {"type": "mrkdwn", "text": "*Responder*\non_call_sre"},
                        {"type": "mrkdwn", "text": "*Opened*\n2026-06-03T01:00:00Z"},
                        {"type": "mrkdwn", "text": "*Incident*\n<https://conea.example/incidents/inc_01|inc_01>"}
                    ]},
                    {"type": "section", "text": {"type": "mrkdwn", "text": "5xx rate above 50% for 5 minutes"}},
                    {"type": "actions", "elements": [
                        {"type": "button", "action_id": "acknowledge", "text": {"type": "plain_text", "text": "Acknowledge"}, "url": "https://conea.example/l/ack-token", "style": "primary"},
                        {"type": "button", "action_id": "resolve", "text": {"type": "plain_text", "text": "Resolve"}, "url": "https://conea.example/l/resolve-token"},
                        {"type": "button", "action_id": "timeline", "text": {"type": "plain_text", "text": "Timeline"}, "url": "https://conea.example/incidents/inc_01"}
                    ]}
                ]
            })
        );
    }

    #[test]
    fn resolved_message_keeps_only_the_timeline_button() {
        let m = fixture(Severity::High);
        let v = message(
            &m,
            &Notice::Resolved {
                by: "alice".into(),
                at: OPENED + 60_000,
            },
        );
        assert_eq!(v["text"], "Resolved: [HIGH] Checkout API down");
        assert_eq!(
            v["blocks"][1]["text"]["text"],
            "Resolved by *alice* at 2026-06-03T01:01:00Z."
        );
        let actions = v["blocks"][4]["elements"].as_array().expect("buttons");
        assert_eq!(actions.len(), 1);
        assert_eq!(actions[0]["action_id"], "timeline");
    }

    #[test]
    fn acknowledged_message_drops_the_acknowledge_button() {
        let m = fixture(Severity::High);
        let v = message(
            &m,
            &Notice::Acknowledged {
                by: "bob".into(),
                at: OPENED,
            },
        );
        let ids: Vec<&str> = v["blocks"][4]["elements"]
            .as_array()
            .expect("buttons")
            .iter()
            .filter_map(|b| b["action_id"].as_str())
            .collect();
        assert_eq!(ids, ["resolve", "timeline"]);
    }

    #[test]
    fn user_text_is_escaped_and_the_header_is_truncated() {
        let mut m = fixture(Severity::Medium);
        m.title = "x".repeat(200);
        m.summary = "<!channel> & <https://evil|click>".into();
        let v = message(&m, &Notice::Opened);
        assert_eq!(
            v["blocks"][0]["text"]["text"]
                .as_str()
                .expect("header")
                .chars()
                .count(),
            150
        );
        assert_eq!(
            v["blocks"][3]["text"]["text"],
            "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;"
        );
    }

    #[test]
    fn escalation_message_names_who_is_paged() {
        let m = fixture(Severity::Critical);
        let v = message(
            &m,
            &Notice::Escalated {
                role: "On-call SRE (primary)".into(),
                contact: "+1-555-0100".into(),
            },
        );
        assert_eq!(
            v["blocks"][1]["text"]["text"],
            "Not acknowledged in time. Paging *On-call SRE (primary)* (+1-555-0100)."
        );
    }

    #[test]
    fn war_room_message_links_the_timeline_and_names_the_commander() {
        let m = fixture(Severity::Critical);
        let commander = Commander {
            name: "John Doe".into(),
            phone: Some("+1-555-0200".into()),
            email: None,
            slack: None,
        };
        assert_eq!(
            war_room(&m, Some(&commander), Duration::from_secs(900)),
            json!({
                "text": "War room: [CRITICAL] Checkout API down",
                "blocks": [
                    {"type": "header", "text": {"type": "plain_text", "text": "War room: [CRITICAL] Checkout API down", "emoji": true}},
                    {"type": "section", "text": {"type": "mrkdwn", "text": "<https://conea.example/incidents/inc_01|inc_01> is unresolved after 15m. Incident commander: *John Doe* (+1-555-0200). Coordinate in this thread; the timeline is the record."}},
                    {"type": "actions", "elements": [
                        {"type": "button", "action_id": "timeline", "text": {"type": "plain_text", "text": "Timeline"}, "url": "https://conea.example/incidents/inc_01"}
                    ]}
                ]
            })
        );
    }
}
