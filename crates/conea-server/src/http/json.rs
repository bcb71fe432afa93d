//! `ApiJson<T>`: the JSON body extractor. Unlike axum's, every rejection is the error body:
//! bad JSON is 400 `invalid_json`, a missing or mistyped field is 400 `invalid_parameter`
//! naming the field in `details.param`, a body over `CONEA_MAX_BODY_BYTES` is 413.

use crate::http::error::ApiError;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, BytesMut};
use conea_core::CoreError;
use conea_core::ErrorCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_json(req.headers())?;
        let ApiBytes(bytes) = ApiBytes::from_request(req, state).await?;
        parse(&bytes).map(ApiJson)
    }
}

/// The raw body, with the body limit's rejection as the error body (413).
pub struct ApiBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError(CoreError::InvalidInput {
                    code: ErrorCode::PayloadTooLarge,
                    message: "The request body is larger than this server accepts (CONEA_MAX_BODY_BYTES).".into(),
                    param: None,
                })
            } else {
                ApiError(CoreError::InvalidInput {
                    code: ErrorCode::InvalidBody,
                    message: format!("The request body could not be read: {rejection}"),
                    param: None,
                })
            }
        })?;
        Ok(ApiBytes(bytes))
    }
}

/// 415 unless the request says its body is JSON.
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            ct == "application/json" || ct.ends_with("+json")
        });
    if is_json {
        Ok(())
    } else {
        Err(ApiError(CoreError::InvalidInput {
            code: ErrorCode::UnsupportedMediaType,
            message: "Send the body as JSON with `Content-Type: application/json`.".into(),
            param: None,
        }))
    }
}

/// Parses JSON, naming the offending field on failure. Text holding U+0000 is refused
/// here for every JSON body (PostgreSQL cannot store it, and no name or note needs it): 400
/// naming the field, on both backends alike.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value = parse_typed(bytes)?;
    refuse_nul(bytes)?;
    Ok(value)
}

fn parse_typed<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // A good body parses once, without tracking the path: serde_path_to_error's wrappers
    // cost as much again as the parse itself. Only a failing body is parsed a second time,
    // to name where it failed.
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = deserialize(de)?;
    // One JSON value and nothing after it but whitespace (`{…} junk` is not JSON).
    de.end().map_err(|e| {
        ApiError(CoreError::InvalidInput {
            code: ErrorCode::InvalidJson,
            message: format!("The body is not valid JSON ({e}): nothing may follow the value."),
            param: None,
        })
    })?;
    Ok(value)
}

fn deserialize<'de, T: DeserializeOwned>(
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError(CoreError::InvalidInput {
                code: ErrorCode::InvalidJson,
                message: format!("The body is not valid JSON ({inner})."),
                param: None,
            });
        }
        let text = inner.to_string();
        let missing = text
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
            .map(str::to_owned);
        let param = match (missing, path.as_str()) {
            (Some(field), ".") => field,
            (Some(field), parent) => format!("{parent}.{field}"),
            (None, p) => p.to_owned(),
        };
        let message = match text.find(" at line ") {
            Some(i) => text[..i].to_owned(),
            None => text,
        };
        ApiError(CoreError::InvalidInput {
            code: ErrorCode::InvalidParameter,
            message: format!("`{param}`: {message}."),
            param: Some(param),
        })
    })
}

/// 400 `invalid_parameter` naming the first field (`name`, `items[0].title`) whose text
/// (a key or a string value) holds U+0000. JSON can carry it only escaped (`\u0000`), so a
/// body without that escape is not walked at all; a body that is not JSON passes (its
/// parser names what is wrong).
pub fn refuse_nul(bytes: &[u8]) -> Result<(), ApiError> {
    if !bytes.windows(6).any(|w| w == b"\\u0000") {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Ok(());
    };
    match nul_path(&value, String::new()) {
        None => Ok(()),
        Some(path) => Err(nul_error(if path.is_empty() {
            "body".into()
        } else {
            path
        })),
    }
}

/// The 400 for text with U+0000 in `param` (a JSON field or a query parameter).
pub fn nul_error(param: String) -> ApiError {
    ApiError(CoreError::InvalidInput {
        code: ErrorCode::InvalidParameter,
        message: format!("`{param}` must not contain the NUL character (U+0000)."),
        param: Some(param),
    })
}

/// Where in `value` a text holds U+0000, in serde_path_to_error's spelling.
fn nul_path(value: &serde_json::Value, at: String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) => s.contains('\0').then_some(at),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_path(v, format!("{at}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            if k.contains('\0') {
                return Some(here);
            }
            nul_path(v, here)
        }),
        _ => None,
    }
}

/// Headers a JSON answer has room for from the start: `Content-Type`, `X-Request-Id` and
/// the rate-limit headers of an authenticated response. axum's `Json` starts with room for
/// six, so the seventh made every authenticated answer reallocate and rehash its map.
const RESPONSE_HEADERS: usize = 2 + super::rate_limit::HEADERS;

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        let mut body = BytesMut::with_capacity(128).writer();
        if let Err(e) = serde_json::to_writer(&mut body, &self.0) {
            return ApiError(CoreError::Internal(format!(
                "the answer could not be written as JSON: {e}"
            )))
            .into_response();
        }
        let mut headers = HeaderMap::with_capacity(RESPONSE_HEADERS);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let mut response = Response::new(Body::from(body.into_inner().freeze()));
        *response.headers_mut() = headers;
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Login {
        email: String,
        password: String,
        nested: Option<Inner>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    fn param(e: ApiError) -> (String, Option<String>) {
        match e.0 {
            CoreError::InvalidInput { code, param, .. } => (code.as_str().to_owned(), param),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn missing_field_is_named() {
        let e = parse::<Login>(br#"{"email":"a@b.io"}"#).expect_err("missing");
        assert_eq!(
            param(e),
            ("invalid_parameter".into(), Some("password".into()))
        );
    }

    #[test]
    fn wrong_type_names_the_nested_path() {
        let e = parse::<Login>(br#"{"email":"a","password":"b","nested":{"count":"x"}}"#)
            .expect_err("type");
        assert_eq!(
            param(e),
            ("invalid_parameter".into(), Some("nested.count".into()))
        );
    }

    #[test]
    fn syntax_error_is_invalid_json() {
        let e = parse::<Login>(b"{not json").expect_err("syntax");
        assert_eq!(param(e), ("invalid_json".into(), None));
    }

    #[test]
    fn an_answer_is_json_with_room_for_every_header_it_will_carry() {
        let r = ApiJson(serde_json::json!({"ok": true})).into_response();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        assert!(
            r.headers().capacity() >= RESPONSE_HEADERS,
            "room for {RESPONSE_HEADERS} headers, has {}",
            r.headers().capacity()
        );
    }

    #[test]
    fn an_answer_that_cannot_be_json_is_the_500_error_body() {
        // serde_json refuses map keys that are not strings.
        let bad: std::collections::BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
        let r = ApiJson(bad).into_response();
        assert_eq!(r.status(), 500);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
    }
}

/// Integers in request bodies (`#[serde(deserialize_with = "integral")]`): JSON writes the
/// same number as `295` or `295.0`, and the API's document (type `integer`) admits both, so
/// a whole number written with a fraction is read as the integer; `295.5` is refused.
pub fn integral<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    use serde::de::Error;
    let n = serde_json::Number::deserialize(d)?;
    let whole = n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    });
    whole
        .and_then(|i| T::try_from(i).ok())
        .ok_or_else(|| D::Error::custom(format!("`{n}` is not an integer in range")))
}

/// [`integral`] for an optional member (`#[serde(default, deserialize_with = "integral_opt")]`).
pub fn integral_opt<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    #[derive(serde::Deserialize)]
    struct Wrap(#[serde(deserialize_with = "integral")] i64);
    match Option::<Wrap>::deserialize(d)? {
        None => Ok(None),
        Some(Wrap(i)) => T::try_from(i)
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("`{i}` is out of range"))),
    }
}

#[cfg(test)]
mod integral_tests {
    use super::integral;

    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(deserialize_with = "integral")]
        n: u32,
    }

    #[test]
    fn a_whole_number_written_with_a_fraction_is_the_integer_and_others_are_refused() {
        let n = |text: &str| serde_json::from_str::<Body>(text).map(|b| b.n).ok();
        assert_eq!(n(r#"{"n": 295}"#), Some(295));
        assert_eq!(n(r#"{"n": 295.0}"#), Some(295));
        assert_eq!(n(r#"{"n": 295.5}"#), None);
        assert_eq!(n(r#"{"n": -1}"#), None);
        assert_eq!(n(r#"{"n": "295"}"#), None);
    }
}
