//! The four severities of the escalation matrix.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How bad an incident is. Ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }

    /// Capitalised name for people ("Critical").
    pub fn title(self) -> &'static str {
        match self {
            Severity::Critical => "Critical",
            Severity::High => "High",
            Severity::Medium => "Medium",
            Severity::Low => "Low",
        }
    }

    /// PagerDuty Events v2 `payload.severity`.
    pub fn pagerduty(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "error",
            Severity::Medium => "warning",
            Severity::Low => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "critical" => Ok(Severity::Critical),
            "high" => Ok(Severity::High),
            "medium" => Ok(Severity::Medium),
            "low" => Ok(Severity::Low),
            _ => Err(format!(
                "unknown severity `{s}` (use critical, high, medium or low)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagerduty_severity_mapping_follows_the_issue() {
        assert_eq!(Severity::Critical.pagerduty(), "critical");
        assert_eq!(Severity::High.pagerduty(), "error");
        assert_eq!(Severity::Medium.pagerduty(), "warning");
        assert_eq!(Severity::Low.pagerduty(), "info");
    }

    #[test]
    fn parses_case_insensitively_and_names_the_choices_on_error() {
        assert_eq!("CRITICAL".parse::<Severity>(), Ok(Severity::Critical));
        let err = "urgent".parse::<Severity>().unwrap_err();
        assert!(err.contains("critical, high, medium or low"), "{err}");
    }

    #[test]
    fn critical_is_the_most_severe() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::Medium > Severity::Low);
    }
}
