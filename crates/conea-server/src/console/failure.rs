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
        let message = match &self.error {
            CoreError::Unauthenticated(_) => return see_other("/console/login"),
            CoreError::Forbidden { required, .. } if lang == super::i18n::Lang::En => {
                format!("{} ({required})", lang.t(T::Forbidden))
            }
            CoreError::NotFound { .. } => lang.t(T::NotFound).to_owned(),
            CoreError::Internal(cause) => {
                tracing::error!(error = %cause, "console page failed");
                super::i18n::error_message(lang, &self.error)
            }
            e => super::i18n::error_message(lang, e),
        };
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
