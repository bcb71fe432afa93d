//! Property-based fuzzing of list cursors (proptest, stable toolchain; `PROPTEST_CASES`
//! cases per property, 256 by default in the normal test suite): any text a client sends as
//! `cursor` is decoded or refused without panicking, and every position survives its round
//! trip with the sort it was made for.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use conea_core::ids::ShopId;
use conea_shopdata::reads::query::Cursor;
use proptest::prelude::*;

const SORTS: &[&str] = &[
    "created_at",
    "-created_at",
    "total_price",
    "-updated_at",
    "email",
];

proptest! {
    #[test]
    fn any_text_is_a_cursor_or_refused_without_panicking(text in "\\PC{0,80}") {
        let _ = Cursor::decode(&text);
    }

    #[test]
    fn text_in_the_cursor_alphabet_is_a_cursor_or_refused_without_panicking(
        text in "[a-z_~0-9-]{0,80}",
        parts in ("[a-z_-]{0,12}", "-?[0-9]{0,22}", "shop_[0-9a-f]{0,34}", "-?[0-9]{0,22}"),
    ) {
        let _ = Cursor::decode(&text);
        let (s, k, shop, i) = parts;
        let _ = Cursor::decode(&format!("{s}~{k}~{shop}~{i}"));
    }

    #[test]
    fn a_cursor_round_trips_with_its_sort(
        key in any::<i64>(),
        id in any::<i64>(),
        sort in prop::sample::select(SORTS),
    ) {
        let cursor = Cursor { key, shop_id: ShopId::generate(), id };
        let text = cursor.encode(sort);
        prop_assert_eq!(Cursor::decode(&text), Some((sort, cursor.clone())));
        let padded = format!(" {text}\n");
        prop_assert_eq!(Cursor::decode(&padded), Some((sort, cursor)));
    }
}
