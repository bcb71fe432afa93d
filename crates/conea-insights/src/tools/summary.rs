//! What the model is shown of a tool result: bounded in size. Long arrays keep their first
//! rows and say how many there were (`{"first_rows": [...], "total_rows": n}`); when that
//! is still too large, fewer rows; past that, the JSON text cut at the limit. The full
//! result is kept apart (the answer's `figures`).

use serde_json::{json, Value};

/// Largest tool result sent to the model, in bytes of JSON.
pub const MAX_RESULT_BYTES: usize = 12_000;
/// Rows of an array shown before it is summarised.
pub const SHOWN_ROWS: usize = 20;

fn shorten(v: &Value, rows: usize) -> Value {
    match v {
        Value::Array(items) if items.len() > rows => json!({
            "first_rows": items.iter().take(rows).map(|i| shorten(i, rows)).collect::<Vec<_>>(),
            "total_rows": items.len(),
        }),
        Value::Array(items) => Value::Array(items.iter().map(|i| shorten(i, rows)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), shorten(v, rows)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The result as the model sees it, at most `max_bytes` of JSON.
pub fn for_model(result: &Value, max_bytes: usize) -> String {
    let mut rows = SHOWN_ROWS;
    loop {
        let text = shorten(result, rows).to_string();
        if text.len() <= max_bytes {
            return text;
        }
        if rows == 1 {
            // Escaping grows the text: cut shorter until the wrapper fits.
            let mut cut = max_bytes.min(text.len());
            loop {
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                let wrapped = json!({"truncated_json": &text[..cut], "note": "cut to fit; ask for fewer rows or a narrower range"}).to_string();
                if wrapped.len() <= max_bytes || cut == 0 {
                    return wrapped;
                }
                cut = cut * 3 / 4;
            }
        }
        rows /= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_results_are_sent_whole() {
        let v = json!({"totals": [{"revenue": "10.00"}], "series": [1, 2, 3]});
        assert_eq!(for_model(&v, MAX_RESULT_BYTES), v.to_string());
    }

    #[test]
    fn long_arrays_keep_their_first_rows_and_their_count() {
        let rows: Vec<Value> = (0..365)
            .map(|d| json!({"day": d, "revenue": "1.00"}))
            .collect();
        let v = json!({"series": rows});
        let shown: Value = serde_json::from_str(&for_model(&v, MAX_RESULT_BYTES)).unwrap();
        assert_eq!(shown["series"]["total_rows"], 365);
        assert_eq!(
            shown["series"]["first_rows"].as_array().unwrap().len(),
            SHOWN_ROWS
        );
        assert_eq!(shown["series"]["first_rows"][0]["day"], 0);
    }

    #[test]
    fn every_result_fits_the_bound() {
        let wide: Vec<Value> = (0..100)
            .map(|i| json!({"title": "x".repeat(2000), "i": i}))
            .collect();
        for v in [
            json!(wide),
            json!({"blob": "y".repeat(50_000)}),
            json!("日本語".repeat(10_000)),
        ] {
            let text = for_model(&v, MAX_RESULT_BYTES);
            assert!(text.len() <= MAX_RESULT_BYTES, "{}", text.len());
            assert!(serde_json::from_str::<Value>(&text).is_ok());
        }
    }
}
