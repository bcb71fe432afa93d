//! Jira Cloud REST v3 "create issue" (`POST {base_url}/rest/api/3/issue`, basic auth with
//! the account e-mail and an API token). The description is an Atlassian Document Format
//! (ADF) document.

use super::{headline, truncate, IncidentMessage};
use base64::Engine;
use conea_core::clock::rfc3339;
use serde_json::{json, Value};
use url::Url;

const SUMMARY_MAX: usize = 255;

/// The create-issue request body.
pub fn create_issue(project_key: &str, issue_type: &str, m: &IncidentMessage) -> Value {
    let mut content = Vec::new();
    for line in m.summary.lines().map(str::trim).filter(|l| !l.is_empty()) {
        content.push(adf::paragraph(vec![adf::text(line)]));
    }
    content.push(adf::bullet_list(vec![
        format!("Severity: {}", m.severity.title()),
        format!("Incident: {}", m.incident_id),
        format!("Opened: {}", rfc3339(m.opened_at)),
        format!("Responder: {}", m.responder),
        format!("Source: {}", m.source),
    ]));
    content.push(adf::paragraph(vec![adf::link(
        "Incident timeline",
        &m.links.timeline,
    )]));
    json!({
        "fields": {
            "project": {"key": project_key},
            "issuetype": {"name": issue_type},
            "summary": truncate(&headline(m), SUMMARY_MAX),
            "labels": ["conea-incident", format!("severity-{}", m.severity)],
            "description": adf::doc(content),
        }
    })
}

/// `{base_url}/rest/api/3/issue`, keeping a path prefix of the base URL.
pub fn create_issue_url(base_url: &Url) -> Result<Url, url::ParseError> {
    let mut base = base_url.clone();
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base.join("rest/api/3/issue")
}

/// The `Authorization` header value: `Basic base64(email:api_token)`.
pub fn authorization(email: &str, api_token: &str) -> String {
    let raw = format!("{email}:{api_token}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// The few ADF nodes the description uses.
pub mod adf {
    use serde_json::{json, Value};

    pub fn doc(content: Vec<Value>) -> Value {
        json!({"type": "doc", "version": 1, "content": content})
    }

    pub fn paragraph(content: Vec<Value>) -> Value {
        json!({"type": "paragraph", "content": content})
    }

    /// A text node; ADF rejects empty text, so callers skip empty strings.
    pub fn text(text: &str) -> Value {
        json!({"type": "text", "text": text})
    }

    pub fn link(text: &str, href: &str) -> Value {
        json!({"type": "text", "text": text, "marks": [{"type": "link", "attrs": {"href": href}}]})
    }

    pub fn bullet_list(items: Vec<String>) -> Value {
        let items: Vec<Value> = items
            .iter()
            .map(|i| json!({"type": "listItem", "content": [paragraph(vec![text(i)])]}))
            .collect();
        json!({"type": "bulletList", "content": items})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::fixtures::message;
    use crate::severity::Severity;

    #[test]
    fn create_issue_body_has_project_type_summary_and_adf_description() {
        let mut m = message(Severity::Low);
        m.responder = "support_team".into();
        assert_eq!(
            create_issue("OPS", "Bug", &m),
            json!({
                "fields": {
                    "project": {"key": "OPS"},
                    "issuetype": {"name": "Bug"},
                    "summary": "[LOW] Checkout API down",
                    "labels": ["conea-incident", "severity-low"],
                    "description": {
                        "type": "doc",
                        "version": 1,
                        "content": [
                            {"type": "paragraph", "content": [{"type": "text", "text": "5xx rate above 50% for 5 minutes"}]},
                            {"type": "bulletList", "content": [
                                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Severity: Low"}]}]},
                                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Incident: inc_01"}]}]},
                                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Opened: 2026-06-03T01:00:00Z"}]}]},
                                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Responder: support_team"}]}]},
                                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Source: alertmanager"}]}]}
                            ]},
                            {"type": "paragraph", "content": [{"type": "text", "text": "Incident timeline", "marks": [{"type": "link", "attrs": {"href": "https://conea.example/incidents/inc_01"}}]}]}
                        ]
                    }
                }
            })
        );
    }

    #[test]
    fn empty_summary_lines_produce_no_empty_text_nodes() {
        let mut m = message(Severity::Low);
        m.summary = "first\n\n  \nsecond".into();
        let body = create_issue("OPS", "Bug", &m);
        let content = body["fields"]["description"]["content"]
            .as_array()
            .expect("content");
        assert_eq!(content[0]["content"][0]["text"], "first");
        assert_eq!(content[1]["content"][0]["text"], "second");
        assert_eq!(content.len(), 4);
    }

    #[test]
    fn issue_url_keeps_a_base_path_prefix() {
        let cloud = Url::parse("https://example.atlassian.net").expect("url");
        assert_eq!(
            create_issue_url(&cloud).expect("join").as_str(),
            "https://example.atlassian.net/rest/api/3/issue"
        );
        let fake = Url::parse("http://127.0.0.1:9999/jira").expect("url");
        assert_eq!(
            create_issue_url(&fake).expect("join").as_str(),
            "http://127.0.0.1:9999/jira/rest/api/3/issue"
        );
    }

    #[test]
    fn authorization_is_basic_email_and_token() {
        assert_eq!(
            authorization("ops@example.com", "tok"),
            "Basic b3BzQGV4YW1wbGUuY29tOnRvaw=="
        );
    }
}
