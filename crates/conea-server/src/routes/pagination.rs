//! `?limit=&cursor=` lists answering `{"data": [...], "next_cursor": …}`. The cursor is
//! the id of the last item of the previous page; items come ordered by creation.

use crate::http::error::ApiError;
use conea_core::CoreError;
use serde::{Deserialize, Serialize};

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PageParams {
    /// Items per page, 1 to 500 (default 50).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
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

/// Pages an ordered list in memory (for the small administrative lists).
pub fn page<T, F: Fn(&T) -> String>(
    items: Vec<T>,
    params: &PageParams,
    id: F,
) -> Result<Page<T>, ApiError> {
    let limit = params.limit()?;
    let start = match &params.cursor {
        None => 0,
        Some(c) => match items.iter().position(|i| &id(i) == c) {
            Some(pos) => pos + 1,
            None => {
                return Err(ApiError(CoreError::invalid(
                    "cursor",
                    "`cursor` does not come from this list.",
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
        let first = page(items.clone(), &p(None), |i| i.to_string()).expect("page");
        assert_eq!(
            (first.data.clone(), first.next_cursor.as_deref()),
            (vec![1, 2], Some("2"))
        );
        let second = page(items.clone(), &p(Some("2")), |i| i.to_string()).expect("page");
        assert_eq!(second.data, vec![3, 4]);
        let last = page(items.clone(), &p(Some("4")), |i| i.to_string()).expect("page");
        assert_eq!((last.data, last.next_cursor), (vec![5], None));
        assert!(page(items, &p(Some("zz")), |i| i.to_string()).is_err());
    }
}
