//! Cursors: REST `Link: <…page_info=…>; rel="next"` headers and GraphQL connections with
//! `pageInfo { hasNextPage endCursor }`.

use serde_json::Value;
use url::Url;

/// The `page_info` of the `rel="next"` link of a `Link` header, if any. Only the cursor is
/// taken: the next request is built against the client's own host, never the link's.
pub fn next_page_info(link_header: &str) -> Option<String> {
    links(link_header)
        .find(|(_, params)| has_rel(params, "next"))
        .and_then(|(target, _)| Url::parse(target).ok())
        .and_then(|url| {
            url.query_pairs()
                .find(|(k, _)| k == "page_info")
                .map(|(_, v)| v.into_owned())
        })
        .filter(|v| !v.is_empty())
}

/// `(target, parameters)` of each `<target>; params` entry. Targets are delimited by angle
/// brackets, so commas inside them (`fields=id,title`) do not split entries.
fn links(header: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = header;
    std::iter::from_fn(move || {
        let start = rest.find('<')?;
        let end = start + rest[start..].find('>')?;
        let target = &rest[start + 1..end];
        let after = &rest[end + 1..];
        let params_end = after.find('<').unwrap_or(after.len());
        let params = &after[..params_end];
        rest = &after[params_end..];
        Some((target, params))
    })
}

fn has_rel(params: &str, rel: &str) -> bool {
    params.split(';').any(|p| {
        let Some((k, v)) = p.split_once('=') else {
            return false;
        };
        k.trim().eq_ignore_ascii_case("rel")
            && v.trim()
                .trim_end_matches(',')
                .trim()
                .trim_matches('"')
                .split_ascii_whitespace()
                .any(|r| r.eq_ignore_ascii_case(rel))
    })
}

/// One page of a GraphQL connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// The `nodes`, or each `edges[].node`.
    pub nodes: Vec<Value>,
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

impl Connection {
    /// The connection at JSON pointer `pointer` of a query's `data` (such as `/products`).
    pub fn at(data: &Value, pointer: &str) -> Option<Connection> {
        let conn = data.pointer(pointer)?;
        let nodes = match (conn.get("nodes"), conn.get("edges")) {
            (Some(Value::Array(nodes)), _) => nodes.clone(),
            (_, Some(Value::Array(edges))) => edges
                .iter()
                .filter_map(|e| e.get("node").cloned())
                .collect(),
            _ => Vec::new(),
        };
        let info = conn.get("pageInfo");
        Some(Connection {
            nodes,
            has_next_page: info
                .and_then(|i| i.get("hasNextPage"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            end_cursor: info
                .and_then(|i| i.get("endCursor"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }

    /// The cursor to pass as `after` for the next page, when there is one.
    pub fn next_cursor(&self) -> Option<&str> {
        if self.has_next_page {
            self.end_cursor.as_deref()
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn next_link_is_found_among_previous_and_next() {
        let h = r#"<https://s.myshopify.com/admin/api/2025-01/products.json?limit=2&page_info=PREV>; rel="previous", <https://s.myshopify.com/admin/api/2025-01/products.json?limit=2&fields=id,title&page_info=NEXT>; rel="next""#;
        assert_eq!(next_page_info(h).as_deref(), Some("NEXT"));
        let only_prev = r#"<https://s.myshopify.com/x.json?page_info=PREV>; rel="previous""#;
        assert_eq!(next_page_info(only_prev), None);
        assert_eq!(
            next_page_info("<https://s.myshopify.com/x.json?page_info=A%3D>; rel=next").as_deref(),
            Some("A=")
        );
        assert_eq!(next_page_info(""), None);
        assert_eq!(next_page_info("garbage"), None);
    }

    #[test]
    fn connections_read_nodes_or_edges_and_page_info() {
        let data = json!({"products": {
            "edges": [{"node": {"id": 1}}, {"node": {"id": 2}}],
            "pageInfo": {"hasNextPage": true, "endCursor": "c2"}
        }});
        let c = Connection::at(&data, "/products").unwrap();
        assert_eq!(c.nodes.len(), 2);
        assert_eq!(c.next_cursor(), Some("c2"));
        let last =
            json!({"orders": {"nodes": [], "pageInfo": {"hasNextPage": false, "endCursor": null}}});
        assert_eq!(
            Connection::at(&last, "/orders").unwrap().next_cursor(),
            None
        );
        assert!(Connection::at(&last, "/missing").is_none());
    }
}
