//! Building the read API's statements: the clauses of the filters that are set, the keyset
//! condition and the order. The text is built at run time (only the filters in use, so each
//! combination gets a plan for itself), portable, with `$n` placeholders.

use crate::query::{q_built, Query, Value};
use conea_core::ids::ShopId;
use conea_shopdata::reads::query::{prefix_pattern, Keyset, ReadScope, Sort};

/// A `SELECT … WHERE …` being built, with its binds.
pub(super) struct Select<'q> {
    sql: String,
    binds: Vec<Value<'q>>,
}

impl<'q> Select<'q> {
    /// `head` ends before `WHERE`; `alias` prefixes the scope's columns (`""` or `"o."`).
    pub(super) fn new(head: &str, scope: &'q ReadScope) -> Select<'q> {
        let mut s = Select {
            sql: String::with_capacity(512),
            binds: Vec::with_capacity(12),
        };
        s.sql.push_str(head);
        s.sql.push_str(" WHERE organization_id = ");
        s.push_bind(Value::from(scope.org_id.as_str()));
        if let Some(shop) = &scope.shop_id {
            s.sql.push_str(" AND shop_id = ");
            s.push_bind(Value::from(shop.as_str()));
        }
        s
    }

    /// Appends the placeholder of a new bind.
    pub(super) fn push_bind(&mut self, v: Value<'q>) {
        self.binds.push(v);
        self.sql.push('$');
        self.sql.push_str(&self.binds.len().to_string());
    }

    pub(super) fn push(&mut self, text: &str) {
        self.sql.push_str(text);
    }

    /// ` AND <column> <op> $n` when the value is set.
    pub(super) fn and<V: Into<Value<'q>>>(&mut self, column: &str, op: &str, v: Option<V>) {
        if let Some(v) = v {
            self.sql.push_str(" AND ");
            self.sql.push_str(column);
            self.sql.push(' ');
            self.sql.push_str(op);
            self.sql.push(' ');
            self.push_bind(v.into());
        }
    }

    /// ` AND (LOWER(c1) LIKE $n ESCAPE '\' OR …)`: any of `columns` starts with `text`
    /// (case-insensitive), or with one of `patterns` built from it.
    pub(super) fn prefix(&mut self, columns: &[&str], patterns: &[String]) {
        if patterns.is_empty() {
            return;
        }
        self.sql.push_str(" AND (");
        let mut first = true;
        for p in patterns {
            self.binds.push(Value::from(p.clone()));
            let n = self.binds.len();
            for c in columns {
                if !first {
                    self.sql.push_str(" OR ");
                }
                first = false;
                self.sql
                    .push_str(&format!("LOWER({c}) LIKE ${n} ESCAPE '\\'"));
            }
        }
        self.sql.push(')');
    }

    /// The keyset condition after `page.after` and the order, then `LIMIT`. `key` is the
    /// sort key's expression.
    pub(super) fn page<S: Sort>(&mut self, key: &str, page: &Keyset<S>) {
        let (cmp, dir) = if page.sort.descending() {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        if let Some(after) = &page.after {
            self.sql
                .push_str(&format!(" AND ({key}, shop_id, source_id) {cmp} ("));
            self.push_bind(Value::Int(Some(after.key)));
            self.sql.push_str(", ");
            self.push_bind(Value::from(after.shop_id.as_str().to_owned()));
            self.sql.push_str(", ");
            self.push_bind(Value::Int(Some(after.id)));
            self.sql.push(')');
        }
        self.sql.push_str(&format!(
            " ORDER BY {key} {dir}, shop_id {dir}, source_id {dir} LIMIT "
        ));
        self.push_bind(Value::Int(Some(i64::from(page.limit))));
    }

    pub(super) fn query(self, name: &'static str, logged: &'static str) -> Query<'q> {
        let mut q = q_built(name, logged, self.sql);
        for b in self.binds {
            q = q.bind(b);
        }
        q
    }
}

/// The patterns of a search text: its prefix, and for an order name also `#` + it.
pub(super) fn patterns(text: Option<&str>, hash_too: bool) -> Vec<String> {
    match text {
        None => Vec::new(),
        Some(t) => {
            let mut out = vec![prefix_pattern(t)];
            if hash_too && !t.starts_with('#') {
                out.push(prefix_pattern(&format!("#{t}")));
            }
            out
        }
    }
}

/// Source ids grouped by shop, in first-seen order (a page's children are read per shop,
/// on the tables' primary keys).
pub(super) fn by_shop(keys: impl IntoIterator<Item = (ShopId, i64)>) -> Vec<(ShopId, Vec<i64>)> {
    let mut out: Vec<(ShopId, Vec<i64>)> = Vec::new();
    for (shop, id) in keys {
        match out.iter_mut().find(|(s, _)| *s == shop) {
            Some((_, ids)) => ids.push(id),
            None => out.push((shop, vec![id])),
        }
    }
    out
}

/// `$first, $first+1, …` for `n` binds.
pub(super) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
