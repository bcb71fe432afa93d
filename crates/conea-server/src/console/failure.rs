//! How a console [`Failure`] looks: an HTML page in the member's language with the status
//! of the error's code (the API's one table of codes), the request id, and no internals (a
//! 500 logs its cause).

use super::ctx::{html, see_other, Ctx, Failure};
use super::i18n::T;
use super::layout;
use crate::http::request_id;
use axum::response::{IntoResponse, Response};
use conea_core::CoreError;

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, _) = crate::http::error::classify(&self.error);
        let lang = self.lang;
        match &self.error {
            CoreError::Unauthenticated(_) => return see_other("/console/login"),
            CoreError::Internal(cause) => tracing::error!(error = %cause, "console page failed"),
            _ => {}
        }
        let message = super::i18n::error_message(lang, &self.error);
        let ctx = Ctx {
            lang,
            member: None,
            secure: false,
            path: String::new(),
            tz: jiff::tz::TimeZone::UTC,
            tz_name: "UTC".to_owned(),
            tz_source: super::ctx::TzSource::Default,
        };
        let mut detail = message;
        if let Some(id) = request_id::current() {
            detail = format!("{detail} ({}: {id})", lang.t(T::RequestId));
        }
        html(status, layout::bare(&ctx, lang.t(T::ErrorTitle), &detail))
    }
}
