//! A running server's answer as the commands that call it (`analytics`, `data`,
//! `schedules`) report it: the JSON body of a success, and an error answer as one line with
//! the status, the error code, the message and the parameter it names.

use anyhow::{anyhow, Result};
use serde_json::Value;

/// The error body's fields as one line: `400 invalid_parameter: … (parameter `from`)`.
pub fn error_line(status: reqwest::StatusCode, text: &str) -> anyhow::Error {
    let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let e = &body["error"];
    let param = e["details"]["param"]
        .as_str()
        .map(|p| format!(" (parameter `{p}`)"))
        .unwrap_or_default();
    anyhow!(
        "{} {}: {}{param}",
        status.as_u16(),
        e["code"].as_str().unwrap_or("error"),
        e["message"].as_str().unwrap_or(text.trim())
    )
}

/// The error of an answer that is not a success.
pub async fn error_of(r: reqwest::Response) -> anyhow::Error {
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    error_line(status, &text)
}

/// The JSON body of a success; an error answer as its one line.
pub async fn json(url: &str, r: reqwest::Response) -> Result<Value> {
    let status = r.status();
    let text = r.text().await?;
    if !status.is_success() {
        return Err(error_line(status, &text));
    }
    serde_json::from_str(&text)
        .map_err(|_| anyhow!("{url} answered {status} without JSON: {}", text.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_is_one_line_naming_code_message_and_parameter() {
        let text = r#"{"error":{"code":"invalid_parameter","message":"`from` must be before `to`","details":{"param":"from"}}}"#;
        let line = error_line(reqwest::StatusCode::BAD_REQUEST, text).to_string();
        assert_eq!(
            line,
            "400 invalid_parameter: `from` must be before `to` (parameter `from`)"
        );
        let line = error_line(reqwest::StatusCode::BAD_GATEWAY, "upstream down\n").to_string();
        assert_eq!(line, "502 error: upstream down");
    }
}
