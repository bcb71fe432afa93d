use super::*;
use crate::testing::issue_policy;
use conea_core::clock::{parse_rfc3339, Clock, FakeClock};

const MIN: i64 = 60_000;

fn at(text: &str) -> EpochMs {
    parse_rfc3339(text).expect("test time")
}

/// 2026-06-03 10:00 JST, a Wednesday inside business hours.
fn opened() -> EpochMs {
    at("2026-06-03T01:00:00Z")
}

/// (key, minutes after `from`) for compact assertions.
fn timings(steps: &[Step], from: EpochMs) -> Vec<(String, i64)> {
    steps
        .iter()
        .map(|s| (s.key.to_string(), (s.due_at - from) / MIN))
        .collect()
}

fn expect(list: &[(&str, i64)]) -> Vec<(String, i64)> {
    list.iter().map(|(k, m)| (k.to_string(), *m)).collect()
}

fn state(severity: Severity, since: EpochMs) -> IncidentState {
    IncidentState {
        severity,
        severity_since: since,
        acknowledged_at: None,
        resolved_at: None,
        done: BTreeSet::new(),
    }
}

#[test]
fn critical_pages_on_call_immediately_walks_the_chain_and_summons_the_commander_at_15m() {
    let steps = plan(&issue_policy(), Severity::Critical, opened());
    assert_eq!(
        timings(&steps, opened()),
        expect(&[
            ("notify:pagerduty", 0),
            ("notify:slack", 0),
            ("escalate:primary", 0),
            ("escalate:secondary", 5),
            ("chain:1", 10),
            ("chain:2", 15),
            ("commander", 15),
            ("war_room", 15),
            ("stakeholders", 15),
            ("chain:3", 20),
        ])
    );
    let primary = steps
        .iter()
        .find(|s| s.key == StepKey::EscalatePrimary)
        .expect("primary");
    assert_eq!(
        primary.action,
        Action::Page {
            role: "On-call SRE (primary)".into(),
            contact: "+1-555-0100".into()
        }
    );
    assert_eq!(primary.cancel_on, CancelOn::Acknowledge);
    let commander = steps
        .iter()
        .find(|s| s.key == StepKey::Commander)
        .expect("commander");
    assert!(
        matches!(&commander.action, Action::SummonCommander { commander: Some(c) } if c.name == "John Doe")
    );
    assert_eq!(commander.cancel_on, CancelOn::Resolve);
}

#[test]
fn high_notifies_slack_and_email_then_walks_the_chain_every_30_minutes() {
    let steps = plan(&issue_policy(), Severity::High, opened());
    assert_eq!(
        timings(&steps, opened()),
        expect(&[
            ("notify:slack", 0),
            ("notify:email", 0),
            ("chain:1", 30),
            ("chain:2", 60),
            ("chain:3", 90),
        ])
    );
    assert_eq!(
        steps[0].action,
        Action::Notify {
            channel: ChannelKind::Slack,
            responder: "platform_team".into()
        }
    );
    assert_eq!(
        steps[2].action,
        Action::Page {
            role: "SRE Lead".into(),
            contact: "+1-555-0300".into()
        }
    );
}

#[test]
fn medium_notifies_slack_then_escalates_every_two_hours() {
    let steps = plan(&issue_policy(), Severity::Medium, opened());
    assert_eq!(
        timings(&steps, opened()),
        expect(&[
            ("notify:slack", 0),
            ("chain:1", 120),
            ("chain:2", 240),
            ("chain:3", 360),
        ])
    );
}

#[test]
fn low_inside_business_hours_creates_the_jira_issue_at_once_and_never_escalates() {
    let steps = plan(&issue_policy(), Severity::Low, opened());
    assert_eq!(timings(&steps, opened()), expect(&[("notify:jira", 0)]));
    assert_eq!(steps[0].cancel_on, CancelOn::Resolve);
}

#[test]
fn low_opened_on_saturday_waits_for_monday_morning_in_tokyo() {
    let saturday_night = at("2026-06-06T13:00:00Z"); // Sat 22:00 JST
    let steps = plan(&issue_policy(), Severity::Low, saturday_night);
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].due_at, at("2026-06-08T00:00:00Z")); // Mon 09:00 JST
}

#[test]
fn business_hours_only_escalation_counts_from_the_opening_and_skips_the_night() {
    let yaml = r#"
severities:
  low: {escalate_if_unacknowledged_after: 8h}
contacts:
  escalation_chain: [{role: "Support Lead", contact: "lead@conea.io"}, {role: "Head of Support", contact: "head@conea.io"}]
"#;
    let policy = Policy::from_yaml(yaml).expect("valid");
    let friday_evening = at("2026-06-05T10:00:00Z"); // Fri 19:00 JST, closed
    let steps = plan(&policy, Severity::Low, friday_evening);
    let monday_nine = at("2026-06-08T00:00:00Z");
    assert_eq!(
        timings(&steps, monday_nine),
        // chain:1 at Mon 17:00 JST; chain:2 would be Tue 01:00 JST, so it waits for Tue 09:00.
        expect(&[
            ("notify:jira", 0),
            ("chain:1", 8 * 60),
            ("chain:2", 24 * 60)
        ])
    );
}

#[test]
fn configured_escalation_interval_spaces_critical_pages() {
    let yaml = r#"
severities:
  critical: {escalation_interval: 2m}
contacts:
  on_call_sre: {primary: "+1-555-0100", secondary: "+1-555-0101"}
  escalation_chain: [{role: "SRE Lead", contact: "+1-555-0300"}]
"#;
    let policy = Policy::from_yaml(yaml).expect("valid");
    let steps = plan(&policy, Severity::Critical, opened());
    let pages: Vec<(String, i64)> = timings(&steps, opened())
        .into_iter()
        .filter(|(k, _)| k.starts_with("escalate") || k.starts_with("chain"))
        .collect();
    assert_eq!(
        pages,
        expect(&[
            ("escalate:primary", 0),
            ("escalate:secondary", 2),
            ("chain:1", 4)
        ])
    );
}

#[test]
fn default_policy_without_contacts_plans_no_page_steps() {
    let steps = plan(&Policy::default(), Severity::Critical, opened());
    assert_eq!(
        timings(&steps, opened()),
        expect(&[
            ("notify:pagerduty", 0),
            ("notify:slack", 0),
            ("commander", 15),
            ("war_room", 15),
            ("stakeholders", 15),
        ])
    );
    assert!(matches!(
        &steps[2].action,
        Action::SummonCommander { commander: None }
    ));
}

#[test]
fn acknowledge_cancels_only_the_unacknowledged_escalation_steps() {
    let clock = FakeClock::new(opened());
    let pending = plan(&issue_policy(), Severity::Critical, clock.now_ms());
    let cancelled = cancelled_by_acknowledge(&pending);
    assert_eq!(
        cancelled,
        vec![
            StepKey::EscalatePrimary,
            StepKey::EscalateSecondary,
            StepKey::Chain(1),
            StepKey::Chain(2),
            StepKey::Chain(3),
        ]
    );
    clock.advance(Duration::from_secs(3 * 60));
    let mut s = state(Severity::Critical, opened());
    s.acknowledged_at = Some(clock.now_ms());
    s.done = [
        StepKey::Notify(ChannelKind::PagerDuty),
        StepKey::Notify(ChannelKind::Slack),
        StepKey::EscalatePrimary,
    ]
    .into();
    let keys: Vec<StepKey> = remaining(&issue_policy(), &s)
        .iter()
        .map(|s| s.key)
        .collect();
    assert_eq!(
        keys,
        vec![StepKey::Commander, StepKey::WarRoom, StepKey::Stakeholders],
        "an acknowledged critical incident still summons the commander if unresolved"
    );
}

#[test]
fn resolve_cancels_every_pending_step() {
    let pending = plan(&issue_policy(), Severity::Critical, opened());
    assert_eq!(cancelled_by_resolve(&pending).len(), pending.len());
    let mut s = state(Severity::Critical, opened());
    s.resolved_at = Some(opened() + 10 * MIN);
    assert!(remaining(&issue_policy(), &s).is_empty());
}

#[test]
fn replanning_after_a_restart_neither_repeats_nor_loses_steps() {
    let policy = issue_policy();
    let clock = FakeClock::new(opened());
    let mut s = state(Severity::High, clock.now_ms());
    let first = remaining(&policy, &s);
    // The notifications ran, then the process died; 40 minutes later it comes back.
    s.done = [
        StepKey::Notify(ChannelKind::Slack),
        StepKey::Notify(ChannelKind::Email),
    ]
    .into();
    clock.advance(Duration::from_secs(40 * 60));
    let after = remaining(&policy, &s);
    assert_eq!(
        timings(&after, opened()),
        expect(&[("chain:1", 30), ("chain:2", 60), ("chain:3", 90)]),
        "chain:1 is overdue and still planned at its original time; done steps are not repeated"
    );
    // The jobs still pending for those steps are untouched by a repair reconcile.
    let pending: Vec<Step> = first
        .into_iter()
        .filter(|p| !s.done.contains(&p.key))
        .collect();
    assert_eq!(reconcile(&pending, &after), Reconciled::default());
}

#[test]
fn raising_medium_to_critical_replans_from_the_change_and_keeps_done_steps_done() {
    let policy = issue_policy();
    let clock = FakeClock::new(opened());
    let mut s = state(Severity::Medium, clock.now_ms());
    s.done.insert(StepKey::Notify(ChannelKind::Slack));
    let pending = remaining(&policy, &s);
    assert_eq!(
        timings(&pending, opened()),
        expect(&[("chain:1", 120), ("chain:2", 240), ("chain:3", 360)])
    );

    clock.advance(Duration::from_secs(60 * 60)); // PATCH severity=critical an hour later
    s.severity = Severity::Critical;
    s.severity_since = clock.now_ms();
    let wanted = remaining(&policy, &s);
    let change = reconcile(&pending, &wanted);
    assert_eq!(
        change.cancel,
        vec![StepKey::Chain(1), StepKey::Chain(2), StepKey::Chain(3)],
        "the medium chain timings no longer apply"
    );
    assert_eq!(
        timings(&change.schedule, clock.now_ms()),
        expect(&[
            ("notify:pagerduty", 0),
            ("escalate:primary", 0),
            ("escalate:secondary", 5),
            ("chain:1", 10),
            ("chain:2", 15),
            ("commander", 15),
            ("war_room", 15),
            ("stakeholders", 15),
            ("chain:3", 20),
        ]),
        "slack was already notified; everything else starts from the change"
    );
}

#[test]
fn lowering_an_acknowledged_incident_to_low_cancels_its_remaining_steps() {
    let policy = issue_policy();
    let mut s = state(Severity::Critical, opened());
    s.acknowledged_at = Some(opened() + MIN);
    s.done = [
        StepKey::Notify(ChannelKind::PagerDuty),
        StepKey::Notify(ChannelKind::Slack),
    ]
    .into();
    let pending = remaining(&policy, &s);
    s.severity = Severity::Low;
    s.severity_since = opened() + 5 * MIN;
    let change = reconcile(&pending, &remaining(&policy, &s));
    assert_eq!(
        change.cancel,
        vec![StepKey::Commander, StepKey::WarRoom, StepKey::Stakeholders]
    );
    assert_eq!(
        timings(&change.schedule, s.severity_since),
        expect(&[("notify:jira", 0)])
    );
}

#[test]
fn a_job_checks_that_its_step_is_still_wanted() {
    let policy = issue_policy();
    let mut s = state(Severity::Critical, opened());
    assert!(still_wanted(&policy, &s, StepKey::EscalateSecondary).is_some());
    s.acknowledged_at = Some(opened() + 2 * MIN);
    assert!(still_wanted(&policy, &s, StepKey::EscalateSecondary).is_none());
    assert!(still_wanted(&policy, &s, StepKey::WarRoom).is_some());
    s.done.insert(StepKey::WarRoom);
    assert!(still_wanted(&policy, &s, StepKey::WarRoom).is_none());
}

#[test]
fn step_keys_have_stable_text_forms_and_job_keys() {
    let keys = [
        StepKey::Notify(ChannelKind::PagerDuty),
        StepKey::Notify(ChannelKind::Webhook),
        StepKey::EscalatePrimary,
        StepKey::EscalateSecondary,
        StepKey::Chain(1),
        StepKey::Chain(12),
        StepKey::Commander,
        StepKey::WarRoom,
        StepKey::Stakeholders,
    ];
    let texts: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    assert_eq!(
        texts,
        [
            "notify:pagerduty",
            "notify:webhook",
            "escalate:primary",
            "escalate:secondary",
            "chain:1",
            "chain:12",
            "commander",
            "war_room",
            "stakeholders"
        ]
    );
    for (k, t) in keys.iter().zip(&texts) {
        assert_eq!(t.parse::<StepKey>().as_ref(), Ok(k));
    }
    for bad in ["chain:0", "chain:01", "chain:x", "notify:fax", "page"] {
        assert!(bad.parse::<StepKey>().is_err(), "{bad}");
    }
    let id = conea_core::ids::IncidentId::generate();
    assert_eq!(
        job_key(&id, StepKey::Chain(2)),
        format!("incident:{id}:chain:2")
    );
}

#[test]
fn steps_serialize_as_job_arguments() {
    let steps = plan(&issue_policy(), Severity::High, opened());
    let json = serde_json::to_value(&steps[2]).expect("json");
    assert_eq!(
        json,
        serde_json::json!({
            "key": "chain:1",
            "due_at": opened() + 30 * MIN,
            "action": {"kind": "page", "role": "SRE Lead", "contact": "+1-555-0300"},
            "cancel_on": "acknowledge"
        })
    );
    let back: Step = serde_json::from_value(json).expect("round trip");
    assert_eq!(back, steps[2]);
}
