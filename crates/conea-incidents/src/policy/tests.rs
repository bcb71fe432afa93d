use super::*;
use crate::testing::{issue_policy, ISSUE_YAML};

fn problems(yaml: &str) -> Vec<String> {
    match Policy::from_yaml(yaml) {
        Ok(_) => panic!("expected the policy to be rejected:\n{yaml}"),
        Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
    }
}

fn has(problems: &[String], needle: &str) -> bool {
    problems.iter().any(|p| p.contains(needle))
}

#[test]
fn default_policy_is_the_operations_guide_matrix_without_channels() {
    let p = Policy::default();
    assert_eq!(p.business_hours.timezone(), "Asia/Tokyo");
    assert_eq!(
        p.business_hours.day_names(),
        ["mon", "tue", "wed", "thu", "fri"]
    );
    let c = p.severity(Severity::Critical);
    assert_eq!(c.responder, "on_call_sre");
    assert_eq!(c.notify, [ChannelKind::PagerDuty, ChannelKind::Slack]);
    assert_eq!(c.escalate_if_unacknowledged_after, Some(Duration::ZERO));
    assert_eq!(
        c.escalate_if_unresolved_after,
        Some(Duration::from_secs(900))
    );
    assert!(c.page_on_call);
    let h = p.severity(Severity::High);
    assert_eq!(
        (h.responder.as_str(), h.notify.as_slice()),
        (
            "platform_team",
            &[ChannelKind::Slack, ChannelKind::Email][..]
        )
    );
    assert_eq!(
        h.escalate_if_unacknowledged_after,
        Some(Duration::from_secs(1800))
    );
    let m = p.severity(Severity::Medium);
    assert_eq!(
        m.escalate_if_unacknowledged_after,
        Some(Duration::from_secs(7200))
    );
    let l = p.severity(Severity::Low);
    assert_eq!(l.notify, [ChannelKind::Jira]);
    assert!(l.business_hours_only && l.escalate_if_unacknowledged_after.is_none());
    for kind in ChannelKind::ALL {
        assert!(!p.channels.is_configured(kind), "{kind}");
    }
    assert!(p
        .warnings()
        .iter()
        .any(|w| w.path == "severities.critical.notify[0]" && w.message.contains("pagerduty")));
}

#[test]
fn the_issues_example_file_is_valid_and_fully_read() {
    let p = issue_policy();
    assert!(p.warnings().is_empty(), "{:?}", p.warnings());
    assert_eq!(
        p.contacts.on_call_sre.primary.as_deref(),
        Some("+1-555-0100")
    );
    assert_eq!(p.contacts.escalation_chain.len(), 3);
    assert_eq!(p.contacts.escalation_chain[2].role, "CTO");
    assert_eq!(
        p.contacts
            .incident_commander
            .as_ref()
            .map(|c| c.name.as_str()),
        Some("John Doe")
    );
    let pd = p.channels.pagerduty.as_ref().expect("pagerduty");
    assert_eq!(pd.events_url.as_str(), PAGERDUTY_EVENTS_URL);
    assert_eq!(pd.routing_key.expose(), "R0UTINGKEY");
    let email = p.channels.email.as_ref().expect("email");
    assert_eq!(email.smtp.port, 587);
    assert_eq!(email.to.len(), 1);
    assert_eq!(
        p.channels.jira.as_ref().map(|j| j.project_key.as_str()),
        Some("OPS")
    );
    assert!(p.channels.webhook.is_some() && p.channels.slack.is_some());
}

#[test]
fn empty_file_means_defaults() {
    let p = Policy::from_yaml("  \n").expect("empty is fine");
    assert_eq!(p.severities, Policy::default().severities);
}

#[test]
fn every_url_is_overridable() {
    let yaml = r#"
channels:
  slack: {webhook_url: "http://127.0.0.1:4001/slack"}
  pagerduty: {routing_key: "k", events_url: "http://127.0.0.1:4002/v2/enqueue"}
  email: {smtp_url: "smtp://127.0.0.1:2525?tls=none", from: "a@b.c", to: ["d@e.f"]}
  jira: {base_url: "http://127.0.0.1:4003/jira", email: "a@b.c", api_token: "t", project_key: "OPS"}
  webhook: {url: "http://127.0.0.1:4004/hook", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
"#;
    let p = Policy::from_yaml(yaml).expect("valid");
    let c = &p.channels;
    assert_eq!(
        c.slack.as_ref().map(|s| s.webhook_url.expose()),
        Some("http://127.0.0.1:4001/slack")
    );
    assert_eq!(
        c.pagerduty.as_ref().map(|s| s.events_url.as_str()),
        Some("http://127.0.0.1:4002/v2/enqueue")
    );
    assert_eq!(
        c.email
            .as_ref()
            .map(|e| (e.smtp.host.as_str(), e.smtp.port)),
        Some(("127.0.0.1", 2525))
    );
    assert_eq!(
        c.jira.as_ref().map(|j| j.base_url.as_str()),
        Some("http://127.0.0.1:4003/jira")
    );
    assert_eq!(c.jira.as_ref().map(|j| j.issue_type.as_str()), Some("Bug"));
    assert_eq!(
        c.webhook.as_ref().map(|w| w.url.as_str()),
        Some("http://127.0.0.1:4004/hook")
    );
}

#[test]
fn a_file_only_states_what_differs_from_the_defaults() {
    let p = Policy::from_yaml("severities:\n  high: {escalate_if_unacknowledged_after: 10m}\n")
        .expect("valid");
    let h = p.severity(Severity::High);
    assert_eq!(
        h.escalate_if_unacknowledged_after,
        Some(Duration::from_secs(600))
    );
    assert_eq!(
        h.escalation_interval,
        Duration::from_secs(600),
        "the interval follows"
    );
    assert_eq!(h.responder, "platform_team");
    assert_eq!(
        p.severity(Severity::Critical),
        Policy::default().severity(Severity::Critical)
    );
}

#[test]
fn never_switches_an_escalation_off() {
    let p = Policy::from_yaml("severities:\n  medium: {escalate_if_unacknowledged_after: never}\n")
        .expect("valid");
    assert_eq!(
        p.severity(Severity::Medium)
            .escalate_if_unacknowledged_after,
        None
    );
}

#[test]
fn unknown_channel_in_notify_names_the_index() {
    let p = problems("severities:\n  high: {notify: [slack, fax]}\n");
    assert!(
        has(&p, "severities.high.notify[1]: unknown channel `fax`"),
        "{p:?}"
    );
}

#[test]
fn unknown_responder_is_named_with_the_choices() {
    let p = problems("severities:\n  medium: {responder: qa_team}\n");
    assert!(
        has(
            &p,
            "severities.medium.responder: unknown responder `qa_team`"
        ),
        "{p:?}"
    );
    assert!(has(&p, "platform_team"), "{p:?}");
}

#[test]
fn a_team_added_under_contacts_becomes_a_valid_responder() {
    let yaml = "contacts:\n  teams:\n    qa_team: {slack: \"#qa\"}\nseverities:\n  medium: {responder: qa_team}\n";
    let p = Policy::from_yaml(yaml).expect("valid");
    assert_eq!(p.severity(Severity::Medium).responder, "qa_team");
    assert!(!p.severity(Severity::Medium).page_on_call);
}

#[test]
fn bad_duration_names_the_key() {
    let p = problems("severities:\n  critical: {escalate_if_unresolved_after: 15 minutes}\n");
    assert!(
        has(
            &p,
            "severities.critical.escalate_if_unresolved_after: `15 minutes`"
        ),
        "{p:?}"
    );
    let p = problems("severities:\n  high: {escalation_interval: 0s}\n");
    assert!(
        has(
            &p,
            "severities.high.escalation_interval: must be longer than zero"
        ),
        "{p:?}"
    );
}

#[test]
fn bad_timezone_unknown_day_and_inverted_hours_are_all_reported() {
    let yaml = "business_hours: {timezone: Asia/Osaka, days: [mon, tues], start: \"18:00\", end: \"09:00\"}\n";
    let p = problems(yaml);
    assert!(
        has(
            &p,
            "business_hours.timezone: unknown time zone `Asia/Osaka`"
        ),
        "{p:?}"
    );
    assert!(
        has(&p, "business_hours.days[1]: unknown day `tues`"),
        "{p:?}"
    );
    assert!(
        has(
            &p,
            "business_hours.start: start (18:00) must be before end (09:00)"
        ),
        "{p:?}"
    );
}

#[test]
fn unknown_severity_and_unknown_keys_are_named() {
    let p = problems("severities:\n  urgent: {responder: on_call_sre}\n");
    assert!(
        has(&p, "severities.urgent: unknown severity `urgent`"),
        "{p:?}"
    );
    let p = problems("severities:\n  high: {notfy: [slack]}\n");
    assert!(
        has(&p, "severities.high") && has(&p, "unknown field `notfy`"),
        "{p:?}"
    );
    let p = problems("chanels: {}\n");
    assert!(has(&p, "unknown field `chanels`"), "{p:?}");
}

#[test]
fn channel_problems_name_the_field_without_echoing_secrets() {
    let yaml = r#"
channels:
  slack: {webhook_url: "ftp://hooks.slack.com/services/SECRETPART"}
  pagerduty: {events_url: "https://events.pagerduty.com/v2/enqueue"}
  email: {smtp_url: "http://user:hunter2@mail", from: "not an address", to: []}
  jira: {base_url: "https://example.atlassian.net"}
  webhook: {url: "https://hooks.example.com", secret: "plain-secret"}
"#;
    let p = problems(yaml);
    for needle in [
        "channels.slack.webhook_url: must be an http(s) URL",
        "channels.pagerduty.routing_key: is required",
        "channels.email.smtp_url: unknown scheme `http:`",
        "channels.email.from: `not an address` is not an e-mail address",
        "channels.email.to: needs at least one address",
        "channels.jira.email: is required",
        "channels.jira.api_token: is required",
        "channels.jira.project_key: is required",
        "channels.webhook.secret: must start with `whsec_`",
    ] {
        assert!(has(&p, needle), "missing {needle:?} in {p:?}");
    }
    let all = p.join("\n");
    assert!(
        !all.contains("SECRETPART") && !all.contains("hunter2") && !all.contains("plain-secret"),
        "{all}"
    );
}

#[test]
fn contact_entries_need_their_fields() {
    let yaml = "contacts:\n  incident_commander: {phone: \"+1\"}\n  escalation_chain: [{role: \"SRE Lead\"}]\n";
    let p = problems(yaml);
    assert!(
        has(&p, "contacts.incident_commander.name: is required"),
        "{p:?}"
    );
    assert!(
        has(&p, "contacts.escalation_chain[0].contact: is required"),
        "{p:?}"
    );
}

#[test]
fn alertmanager_mapping_is_configurable_and_validated() {
    let yaml =
        "alertmanager: {severity_label: priority, severities: {P1: critical}, unmapped: low}\n";
    let p = Policy::from_yaml(yaml).expect("valid");
    assert_eq!(p.alertmanager.label, "priority");
    assert_eq!(p.alertmanager.map.get("p1"), Some(&Severity::Critical));
    assert_eq!(
        p.alertmanager.map.get("warning"),
        Some(&Severity::Medium),
        "defaults stay"
    );
    assert_eq!(p.alertmanager.unmapped, Severity::Low);
    let errs = problems("alertmanager: {severities: {sev1: blocker}}\n");
    assert!(
        has(
            &errs,
            "alertmanager.severities.sev1: unknown severity `blocker`"
        ),
        "{errs:?}"
    );
}

#[test]
fn load_names_the_file_in_errors_and_defaults_without_one() {
    let dir = std::env::temp_dir().join(format!("conea-incidents-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("escalation.yaml");
    std::fs::write(&path, "severities:\n  high: {notify: [pager]}\n").expect("write");
    let err = Policy::load(Some(&path)).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("escalation.yaml") && text.contains("severities.high.notify[0]"),
        "{text}"
    );
    std::fs::write(&path, ISSUE_YAML).expect("write");
    assert!(Policy::load(Some(&path)).is_ok());
    let missing = Policy::load(Some(&dir.join("missing.yaml"))).unwrap_err();
    assert!(
        missing.to_string().contains("cannot read the file"),
        "{missing}"
    );
    assert!(Policy::load(None).is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn secrets_do_not_appear_in_debug_output() {
    let p = issue_policy();
    let dbg = format!("{p:?}");
    for secret in [
        "R0UTINGKEY",
        "XXXX",
        "secret@",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ] {
        assert!(!dbg.contains(secret), "{secret} leaked in {dbg}");
    }
}
