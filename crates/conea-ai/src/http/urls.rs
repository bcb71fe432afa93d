//! Parsed provider URLs, kept. A provider's request URL is one of a handful of strings
//! (its base URL and path, with the model for Gemini); parsing it again for every call
//! (IDNA host processing included) was about 3 % of the instructions of a proxied
//! completion. A plain map under a lock, not moka (already a dependency): moka's reads
//! record each access for its eviction policy, and a handful of configured URLs needs only
//! a bound.

use reqwest::Url;
use std::collections::HashMap;
use std::sync::RwLock;

/// More distinct URLs than this (many Gemini models) start the map again.
const MAX_URLS: usize = 256;

#[derive(Default)]
pub struct UrlCache {
    parsed: RwLock<HashMap<String, Url, foldhash::fast::RandomState>>,
}

impl UrlCache {
    /// `url` parsed, or `None` when it does not parse (the caller lets the HTTP client
    /// report that, as it would any bad URL).
    pub fn get(&self, url: &str) -> Option<Url> {
        if let Some(u) = self.parsed.read().ok().and_then(|m| m.get(url).cloned()) {
            return Some(u);
        }
        let parsed = Url::parse(url).ok()?;
        if let Ok(mut m) = self.parsed.write() {
            if m.len() >= MAX_URLS {
                m.clear();
            }
            m.insert(url.to_owned(), parsed.clone());
        }
        Some(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_parsed_once_and_the_map_stays_bounded() {
        let cache = UrlCache::default();
        let u = cache
            .get("http://127.0.0.1:8080/v1/chat/completions")
            .unwrap();
        assert_eq!(u.path(), "/v1/chat/completions");
        assert_eq!(cache.parsed.read().unwrap().len(), 1);
        assert_eq!(
            cache.get("http://127.0.0.1:8080/v1/chat/completions"),
            Some(u)
        );
        assert_eq!(
            cache.parsed.read().unwrap().len(),
            1,
            "the second call is a hit"
        );
        assert_eq!(cache.get("not a url"), None);
        for i in 0..MAX_URLS + 10 {
            cache.get(&format!("http://h/{i}")).unwrap();
        }
        assert!(cache.parsed.read().unwrap().len() <= MAX_URLS);
    }
}
