//! `?limit=&cursor=` lists answering `{"data": [...], "next_cursor": …}`. The cursor is
//! the id of the last item of the previous page; items come ordered by creation.

use crate::http::error::ApiError;
use conea_core::CoreError;
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::IntoParams;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page (an id of the list).
    pub cursor: Option<String>,
}

/// The documented query of a list whose items' ids start with `prefix`.
fn params_of(prefix: &str) -> Vec<Parameter> {
    let mut params = <PageParams as IntoParams>::into_params(|| Some(ParameterIn::Query));
    for p in &mut params {
        if p.name == "cursor" {
            p.schema = Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(format!("^{prefix}_[0-9a-f]{{32}}$")))
                    .into(),
            );
        }
    }
    params
}

/// The query of a list of API keys (`key_…` cursors).
pub struct KeyPage;
/// The query of a list of members (`usr_…` cursors).
pub struct MemberPage;
/// The query of a list of schedules (`sch_…` cursors).
pub struct SchedulePage;

impl IntoParams for KeyPage {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        params_of("key")
    }
}

impl IntoParams for MemberPage {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        params_of("usr")
    }
}

impl IntoParams for SchedulePage {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        params_of("sch")
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl PageParams {
    pub fn limit(&self) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(ApiError(CoreError::invalid(
                "limit",
                "`limit` must be between 1 and 500.",
            ))),
        }
    }
}

/// Pages an ordered list in memory (for the small administrative lists) whose ids start
/// with `prefix`.
pub fn page<T, F: Fn(&T) -> String>(
    items: Vec<T>,
    params: &PageParams,
    prefix: &str,
    id: F,
) -> Result<Page<T>, ApiError> {
    let limit = params.limit()?;
    let start = match &params.cursor {
        None => 0,
        Some(c) => match items.iter().position(|i| &id(i) == c) {
            Some(pos) => pos + 1,
            // The item the cursor names is gone (deleted since): ids grow with creation,
            // so the page goes on after it all the same.
            None if is_id(prefix, c) => items
                .iter()
                .take_while(|i| id(i).as_str() <= c.as_str())
                .count(),
            None => {
                return Err(ApiError(CoreError::invalid(
                    "cursor",
                    "`cursor` is not a `next_cursor` of this list (an id).",
                )))
            }
        },
    };
    let mut data: Vec<T> = items.into_iter().skip(start).take(limit + 1).collect();
    let next_cursor = if data.len() > limit {
        data.truncate(limit);
        data.last().map(&id)
    } else {
        None
    };
    Ok(Page { data, next_cursor })
}

/// `prefix_` and 32 lowercase hex digits: the shape of a Conea id.
fn is_id(prefix: &str, text: &str) -> bool {
    text.strip_prefix(prefix)
        .and_then(|t| t.strip_prefix('_'))
        .is_some_and(|hex| {
            hex.len() == 32
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_the_cursor_to_the_end() {
        let items: Vec<u32> = (1..=5).collect();
        let p = |cursor: Option<&str>| PageParams {
            limit: Some(2),
            cursor: cursor.map(str::to_owned),
        };
        let first = page(items.clone(), &p(None), "n", |i| i.to_string()).expect("page");
        assert_eq!(
            (first.data.clone(), first.next_cursor.as_deref()),
            (vec![1, 2], Some("2"))
        );
        let second = page(items.clone(), &p(Some("2")), "n", |i| i.to_string()).expect("page");
        assert_eq!(second.data, vec![3, 4]);
        let last = page(items.clone(), &p(Some("4")), "n", |i| i.to_string()).expect("page");
        assert_eq!((last.data, last.next_cursor), (vec![5], None));
        assert!(page(items, &p(Some("zz")), "n", |i| i.to_string()).is_err());
    }

    #[test]
    fn a_cursor_whose_item_is_gone_goes_on_after_it_and_a_malformed_one_is_refused() {
        let id = |n: u32| format!("key_{n:032x}");
        let items: Vec<u32> = vec![1, 2, 4, 5];
        let p = |cursor: String| PageParams {
            limit: Some(2),
            cursor: Some(cursor),
        };
        // Item 3 was deleted after it ended a page.
        let next = page(items.clone(), &p(id(3)), "key", |i| id(*i)).expect("page");
        assert_eq!(next.data, vec![4, 5]);
        let past_the_end = page(items.clone(), &p(id(9)), "key", |i| id(*i)).expect("page");
        assert!(past_the_end.data.is_empty());
        assert!(page(items.clone(), &p("key_3".to_owned()), "key", |i| id(*i)).is_err());
        assert!(page(items, &p(format!("usr_{:032x}", 3)), "key", |i| id(*i)).is_err());
    }
}
