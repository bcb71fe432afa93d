//! Property-based fuzzing of list cursors (proptest, stable toolchain; `PROPTEST_CASES`
//! cases per property, 256 by default in the normal test suite): any text a client sends as
//! `cursor` is decoded or refused without panicking, a cursor decodes only under the sort it
//! was made for, and every position survives its round trip.

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
    fn any_text_is_a_cursor_or_refused_without_panicking(
        text in "\\PC{0,80}",
        sort in prop::sample::select(SORTS),
    ) {
        let _ = Cursor::decode(&text, sort);
    }

    #[test]
    fn base64_of_anything_is_a_cursor_or_refused_without_panicking(
        plain in "[a-z_|0-9-]{0,40}|\\PC{0,40}",
        sort in prop::sample::select(SORTS),
    ) {
        use base64::Engine;
        let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(plain);
        let _ = Cursor::decode(&text, sort);
    }

    #[test]
    fn a_cursor_round_trips_under_its_sort_only(
        key in any::<i64>(),
        id in any::<i64>(),
        sort in prop::sample::select(SORTS),
        other in prop::sample::select(SORTS),
    ) {
        let cursor = Cursor { key, shop_id: ShopId::generate(), id };
        let text = cursor.encode(sort);
        prop_assert_eq!(Cursor::decode(&text, sort), Some(cursor.clone()));
        prop_assert_eq!(Cursor::decode(&format!(" {text}\n"), sort), Some(cursor));
        if other != sort {
            prop_assert_eq!(Cursor::decode(&text, other), None);
        }
    }
}
