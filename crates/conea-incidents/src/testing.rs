//! Shared test data: the issue's example policy with contacts and channels filled in.

use crate::policy::Policy;

pub const ISSUE_YAML: &str = r#"
business_hours: {timezone: Asia/Tokyo, days: [mon, tue, wed, thu, fri], start: "09:00", end: "18:00"}
severities:
  critical: {definition: "Whole service down", responder: on_call_sre, notify: [pagerduty, slack], escalate_if_unacknowledged_after: 0s, escalate_if_unresolved_after: 15m}
  high:     {definition: "Major feature failure", responder: platform_team, notify: [slack, email], escalate_if_unacknowledged_after: 30m}
  medium:   {definition: "Partial malfunction", responder: dev_team, notify: [slack], escalate_if_unacknowledged_after: 2h}
  low:      {definition: "UX problem", responder: support_team, notify: [jira], business_hours_only: true}
contacts:
  on_call_sre: {primary: "+1-555-0100", secondary: "+1-555-0101", slack: "@oncall-sre"}
  incident_commander: {name: "John Doe", phone: "+1-555-0200", email: "john.doe@conea.io"}
  escalation_chain: [{role: "SRE Lead", contact: "+1-555-0300"}, {role: "Engineering Director", contact: "+1-555-0400"}, {role: "CTO", contact: "+1-555-0500"}]
  stakeholders: ["exec@conea.io"]
channels:
  slack: {webhook_url: "https://hooks.slack.com/services/T000/B000/XXXX"}
  pagerduty: {routing_key: "R0UTINGKEY"}
  email: {smtp_url: "smtp://mailer:secret@mail.example.com:587", from: "Conea <incidents@conea.io>", to: ["oncall@conea.io"]}
  jira: {base_url: "https://example.atlassian.net", email: "ops@conea.io", api_token: "tok", project_key: "OPS", issue_type: "Bug"}
  webhook: {url: "https://hooks.example.com/conea", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
"#;

pub fn issue_policy() -> Policy {
    match Policy::from_yaml(ISSUE_YAML) {
        Ok(p) => p,
        Err(e) => panic!("the issue's example policy must be valid: {e}"),
    }
}
