//! Where incident e-mail goes: `channels.email.smtp_url` parsed into [`SmtpSettings`].
//!
//! Forms (stricter than lettre's own URL rules, which send in plain text unless told
//! otherwise):
//! - `smtp://[user:pass@]host[:port]` — STARTTLS **required** (port 587 by default); the
//!   send fails if the server does not offer it.
//! - `smtps://[user:pass@]host[:port]` — TLS from the first byte (port 465 by default).
//! - `?tls=opportunistic` — STARTTLS when offered; `?tls=none` — plain text, for a local
//!   relay or a test fake only.

use super::secret::Secret;
use url::Url;

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// STARTTLS, refusing to continue without it.
    StartTlsRequired,
    /// STARTTLS when the server offers it.
    StartTlsOpportunistic,
    /// Implicit TLS (`smtps://`).
    ImplicitTls,
    /// Plain text (`?tls=none`).
    None,
}

/// A parsed `smtp_url`. `Debug` hides the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<Secret>,
}

impl SmtpSettings {
    /// Parses an `smtp://` or `smtps://` URL. Errors never echo the URL (it may hold a
    /// password).
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = Url::parse(text.trim()).map_err(|e| format!("is not a URL ({e})"))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("needs a host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let tls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.to_string());
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None | Some("required")) => (SmtpSecurity::StartTlsRequired, 587),
            ("smtp", Some("opportunistic")) => (SmtpSecurity::StartTlsOpportunistic, 587),
            ("smtp", Some("none")) => (SmtpSecurity::None, 25),
            ("smtps", None) => (SmtpSecurity::ImplicitTls, 465),
            ("smtp" | "smtps", Some(other)) => {
                return Err(format!(
                    "unknown tls=`{other}` (use required, opportunistic or none with smtp://)"
                ))
            }
            (scheme, _) => {
                return Err(format!(
                    "unknown scheme `{scheme}:` (use smtp:// for STARTTLS or smtps:// for TLS)"
                ))
            }
        };
        let decode = |s: &str| -> Result<String, String> {
            percent_decode(s)
                .ok_or_else(|| "has an invalid percent-encoding in its credentials".to_string())
        };
        let username = if url.username().is_empty() {
            None
        } else {
            Some(decode(url.username())?)
        };
        let password = url.password().map(decode).transpose()?.map(Secret::new);
        Ok(Self {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            username,
            password,
        })
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_url_requires_starttls_unless_told_otherwise() {
        let s = SmtpSettings::parse("smtp://mailer:p%40ss@mail.example.com").expect("url");
        assert_eq!(s.security, SmtpSecurity::StartTlsRequired);
        assert_eq!(s.port, 587);
        assert_eq!(s.username.as_deref(), Some("mailer"));
        assert_eq!(s.password.as_ref().map(Secret::expose), Some("p@ss"));
        assert!(!format!("{s:?}").contains("p@ss"));
    }

    #[test]
    fn smtp_url_variants_pick_port_and_security() {
        let cases = [
            ("smtps://mail.example.com", SmtpSecurity::ImplicitTls, 465),
            (
                "smtp://mail.example.com:2525?tls=opportunistic",
                SmtpSecurity::StartTlsOpportunistic,
                2525,
            ),
            ("smtp://127.0.0.1:2525?tls=none", SmtpSecurity::None, 2525),
            (
                "smtp://mail.example.com?tls=required",
                SmtpSecurity::StartTlsRequired,
                587,
            ),
        ];
        for (url, security, port) in cases {
            let s = SmtpSettings::parse(url).expect(url);
            assert_eq!((s.security, s.port), (security, port), "{url}");
        }
    }

    #[test]
    fn smtp_url_errors_name_the_problem_without_the_password() {
        let e = SmtpSettings::parse("http://user:hunter2@mail.example.com").unwrap_err();
        assert!(
            e.contains("unknown scheme `http:`") && !e.contains("hunter2"),
            "{e}"
        );
        let e = SmtpSettings::parse("smtps://mail.example.com?tls=none").unwrap_err();
        assert!(e.contains("tls=`none`"), "{e}");
        assert!(SmtpSettings::parse("not a url")
            .unwrap_err()
            .contains("not a URL"));
    }
}
