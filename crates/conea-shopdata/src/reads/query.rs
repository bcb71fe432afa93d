//! What a read asks for: the filters of each list, its sort, and the keyset position
//! (cursor) it continues from. Every sort key is an integer (a time or an amount in
//! ten-thousandths), and ties are broken by (shop id, source id), so a position is
//! `(key, shop, id)` and a page is "the next `limit` rows after it" in that order: rows
//! inserted while a client pages never shift the rows it has not seen yet.

use crate::model::{Customer, Order, Product};
use conea_core::clock::EpochMs;
use conea_core::ids::{OrgId, ShopId};

/// Default and greatest page size of the shop data lists.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 250;
/// Rows read per statement while exporting.
pub const EXPORT_PAGE: u32 = 1000;

/// Whose data a read covers: one organization, and one of its shops or all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadScope {
    pub org_id: OrgId,
    pub shop_id: Option<ShopId>,
}

/// A sort order of a list: which integer key, and which direction.
pub trait Sort: Copy + Send + Sync + 'static {
    type Record;
    /// Every accepted spelling, for messages and docs.
    const NAMES: &'static [&'static str];
    fn parse(text: &str) -> Option<Self>;
    fn as_str(self) -> &'static str;
    fn descending(self) -> bool;
    /// The record's sort key.
    fn key(self, record: &Self::Record) -> i64;
}

/// Orders: by creation time (default newest first) or total price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderSort {
    CreatedAt,
    #[default]
    CreatedAtDesc,
    TotalPrice,
    TotalPriceDesc,
}

impl Sort for OrderSort {
    type Record = Order;
    const NAMES: &'static [&'static str] =
        &["created_at", "-created_at", "total_price", "-total_price"];

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "created_at" => OrderSort::CreatedAt,
            "-created_at" => OrderSort::CreatedAtDesc,
            "total_price" => OrderSort::TotalPrice,
            "-total_price" => OrderSort::TotalPriceDesc,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            OrderSort::CreatedAt => "created_at",
            OrderSort::CreatedAtDesc => "-created_at",
            OrderSort::TotalPrice => "total_price",
            OrderSort::TotalPriceDesc => "-total_price",
        }
    }

    fn descending(self) -> bool {
        matches!(self, OrderSort::CreatedAtDesc | OrderSort::TotalPriceDesc)
    }

    fn key(self, o: &Order) -> i64 {
        match self {
            OrderSort::CreatedAt | OrderSort::CreatedAtDesc => o.created_at,
            OrderSort::TotalPrice | OrderSort::TotalPriceDesc => o.total_price.units(),
        }
    }
}

/// Products and customers: by creation time (a record without one sorts as 0, i.e. first
/// ascending) or by the source's last change. Default newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecordSort {
    CreatedAt,
    #[default]
    CreatedAtDesc,
    UpdatedAt,
    UpdatedAtDesc,
}

impl RecordSort {
    fn parse_name(text: &str) -> Option<Self> {
        Some(match text {
            "created_at" => RecordSort::CreatedAt,
            "-created_at" => RecordSort::CreatedAtDesc,
            "updated_at" => RecordSort::UpdatedAt,
            "-updated_at" => RecordSort::UpdatedAtDesc,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            RecordSort::CreatedAt => "created_at",
            RecordSort::CreatedAtDesc => "-created_at",
            RecordSort::UpdatedAt => "updated_at",
            RecordSort::UpdatedAtDesc => "-updated_at",
        }
    }

    pub fn is_descending(self) -> bool {
        matches!(self, RecordSort::CreatedAtDesc | RecordSort::UpdatedAtDesc)
    }

    /// Whether the key is the creation time (else the last change).
    pub fn by_created(self) -> bool {
        matches!(self, RecordSort::CreatedAt | RecordSort::CreatedAtDesc)
    }

    fn pick(self, created_at: Option<EpochMs>, updated_at: EpochMs) -> i64 {
        if self.by_created() {
            created_at.unwrap_or(0)
        } else {
            updated_at
        }
    }
}

macro_rules! record_sort {
    ($name:ident, $record:ty) => {
        /// [`RecordSort`] over one record type.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name(pub RecordSort);

        impl Sort for $name {
            type Record = $record;
            const NAMES: &'static [&'static str] =
                &["created_at", "-created_at", "updated_at", "-updated_at"];

            fn parse(text: &str) -> Option<Self> {
                RecordSort::parse_name(text).map($name)
            }

            fn as_str(self) -> &'static str {
                self.0.name()
            }

            fn descending(self) -> bool {
                self.0.is_descending()
            }

            fn key(self, r: &$record) -> i64 {
                self.0.pick(r.created_at, r.updated_at)
            }
        }
    };
}

record_sort!(ProductSort, Product);
record_sort!(CustomerSort, Customer);

/// A position in a list: the last row of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub key: i64,
    pub shop_id: ShopId,
    pub id: i64,
}

impl Cursor {
    /// `sort~key~shop~id`: the sort's name is inside, so a cursor continues the sort it
    /// came from whatever `sort` the next request names. Plain text (every part is a
    /// number, an id or a sort's name), so the API's document can state its shape.
    pub fn encode(&self, sort: &str) -> String {
        format!("{sort}~{}~{}~{}", self.key, self.shop_id.as_str(), self.id)
    }

    /// The sort's name and the position; `None` when the text is not a cursor.
    pub fn decode(text: &str) -> Option<(&str, Cursor)> {
        let mut parts = text.trim().split('~');
        let (s, key, shop, id) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let cursor = Cursor {
            key: key.parse().ok()?,
            shop_id: ShopId::parse(shop).ok()?,
            id: id.parse().ok()?,
        };
        Some((s, cursor))
    }

    /// The pattern of a cursor of a list whose sorts are `sorts` (for the API's document):
    /// keys and ids of at most 18 digits always fit an `i64`.
    pub fn pattern(sorts: &[&str]) -> String {
        format!(
            "^({})~-?[0-9]{{1,18}}~shop_[0-9a-f]{{32}}~-?[0-9]{{1,18}}$",
            sorts.join("|")
        )
    }
}

/// Which page: the sort, where to continue, how many rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset<S> {
    pub sort: S,
    pub after: Option<Cursor>,
    pub limit: u32,
}

/// Filters of the order list; every one that is set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// `created_at >= created_from`
    pub created_from: Option<EpochMs>,
    /// `created_at < created_to`
    pub created_to: Option<EpochMs>,
    /// `updated_at >= updated_since` (the source's last change)
    pub updated_since: Option<EpochMs>,
    pub financial_status: Option<String>,
    pub fulfillment_status: Option<String>,
    pub customer_id: Option<i64>,
    /// Orders with a line item of this product.
    pub product_id: Option<i64>,
    /// Order name or e-mail starting with this text (case-insensitive; `1001` also finds
    /// `#1001`).
    pub q: Option<String>,
}

/// Filters of the product list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductFilter {
    pub created_from: Option<EpochMs>,
    pub created_to: Option<EpochMs>,
    pub updated_since: Option<EpochMs>,
    /// `active`, `draft`, `archived`
    pub status: Option<String>,
    pub vendor: Option<String>,
    pub product_type: Option<String>,
    /// Title, or a variant's SKU, starting with this text (case-insensitive).
    pub q: Option<String>,
}

/// Filters of the customer list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerFilter {
    pub created_from: Option<EpochMs>,
    pub created_to: Option<EpochMs>,
    pub updated_since: Option<EpochMs>,
    /// E-mail, first or last name starting with this text (case-insensitive).
    pub q: Option<String>,
    /// Only the customers of this RFM segment (as `rfm_segments` names them today).
    pub segment: Option<SegmentFilter>,
}

pub use crate::segments::{SegmentCell, SegmentFilter};

/// A list request as the typed functions take it. `shop` is a shop id (`shop_…`) or
/// domain of the caller's organization, resolved by the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery<F, S> {
    pub shop: Option<String>,
    pub filter: F,
    pub sort: S,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    pub limit: u32,
}

impl<F: Default, S: Default> Default for ListQuery<F, S> {
    fn default() -> Self {
        ListQuery {
            shop: None,
            filter: F::default(),
            sort: S::default(),
            cursor: None,
            limit: DEFAULT_LIMIT,
        }
    }
}

pub type OrderQuery = ListQuery<OrderFilter, OrderSort>;
pub type ProductQuery = ListQuery<ProductFilter, ProductSort>;
pub type CustomerQuery = ListQuery<CustomerFilter, CustomerSort>;

/// A record as read back, with the shop it belongs to (source ids are unique per shop).
#[derive(Debug, Clone, PartialEq)]
pub struct Listed<T> {
    pub shop_id: ShopId,
    pub record: T,
}

/// Orders of one customer in one currency (orders that are not cancelled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerOrders {
    pub shop_id: ShopId,
    pub customer_id: i64,
    pub currency: String,
    pub orders: i64,
    pub total: crate::money::Money,
    pub first_at: EpochMs,
    pub last_at: EpochMs,
}

/// `text` as a case-insensitive LIKE prefix pattern (lower case, `\` escapes `%`, `_`, `\`).
pub fn prefix_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_with_its_sort_and_matches_its_documented_pattern() {
        let c = Cursor {
            key: -1_990_000,
            shop_id: ShopId::generate(),
            id: 820_982_911_946_154_508,
        };
        let text = c.encode("-total_price");
        assert_eq!(Cursor::decode(&text), Some(("-total_price", c)));
        assert_eq!(
            Cursor::pattern(&["created_at", "-created_at"]),
            "^(created_at|-created_at)~-?[0-9]{1,18}~shop_[0-9a-f]{32}~-?[0-9]{1,18}$"
        );
        assert_eq!(Cursor::decode("not a cursor"), None);
        assert_eq!(Cursor::decode(""), None);
        assert_eq!(Cursor::decode("created_at~1~shop_x~2"), None);
    }

    #[test]
    fn sorts_parse_their_names_and_nothing_else() {
        for name in OrderSort::NAMES {
            assert_eq!(OrderSort::parse(name).map(OrderSort::as_str), Some(*name));
        }
        for name in ProductSort::NAMES {
            assert_eq!(ProductSort::parse(name).map(Sort::as_str), Some(*name));
        }
        assert_eq!(OrderSort::parse("price"), None);
        assert_eq!(CustomerSort::parse("total_price"), None);
        assert!(OrderSort::default().descending());
    }

    #[test]
    fn search_text_is_a_lower_case_prefix_with_wildcards_escaped() {
        assert_eq!(prefix_pattern("Ann"), "ann%");
        assert_eq!(prefix_pattern("50%_a\\"), "50\\%\\_a\\\\%");
    }
}
