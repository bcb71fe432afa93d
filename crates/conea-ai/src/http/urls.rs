//! Provider URLs, parsed once, and whether each goes through a proxy. A provider's request
//! URL is one of a handful of strings (its base URL and path, with the model for Gemini);
//! parsing it again for every call was about 3 % of the instructions of a proxied
//! completion. A plain map under a lock, not moka (already a dependency): moka's reads
//! record each access for its eviction policy, and a handful of configured URLs needs only
//! a bound.

use hyper_util::client::proxy::matcher::Matcher;
use std::collections::HashMap;
use std::sync::RwLock;

/// More distinct URLs than this (many Gemini models) start the map again.
const MAX_URLS: usize = 256;

/// Where a request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub uri: http::Uri,
    /// The proxy settings of the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
    /// `NO_PROXY`) send this URL through a proxy.
    pub proxied: bool,
}

pub struct UrlCache {
    parsed: RwLock<HashMap<String, Target, foldhash::fast::RandomState>>,
    proxies: Matcher,
}

impl UrlCache {
    pub fn new(proxies: Matcher) -> Self {
        Self {
            parsed: RwLock::default(),
            proxies,
        }
    }

    /// `url` parsed, or `None` when it is not an `http` or `https` URL that parses as a
    /// request target (the caller lets reqwest parse and report it, as it would any URL).
    pub fn get(&self, url: &str) -> Option<Target> {
        if let Some(t) = self.parsed.read().ok().and_then(|m| m.get(url).cloned()) {
            return Some(t);
        }
        let uri: http::Uri = url.parse().ok()?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return None;
        }
        let target = Target {
            proxied: self.proxies.intercept(&uri).is_some(),
            uri,
        };
        if let Ok(mut m) = self.parsed.write() {
            if m.len() >= MAX_URLS {
                m.clear();
            }
            m.insert(url.to_owned(), target.clone());
        }
        Some(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_proxies() -> UrlCache {
        UrlCache::new(Matcher::builder().build())
    }

    #[test]
    fn a_url_is_parsed_once_and_the_map_stays_bounded() {
        let cache = no_proxies();
        let t = cache
            .get("http://127.0.0.1:8080/v1/chat/completions")
            .unwrap();
        assert_eq!(t.uri.path(), "/v1/chat/completions");
        assert!(!t.proxied);
        assert_eq!(cache.parsed.read().unwrap().len(), 1);
        assert_eq!(
            cache.get("http://127.0.0.1:8080/v1/chat/completions"),
            Some(t)
        );
        assert_eq!(
            cache.parsed.read().unwrap().len(),
            1,
            "the second call is a hit"
        );
        assert_eq!(cache.get("not a url"), None);
        assert_eq!(cache.get("ftp://h/x"), None, "only http and https");
        for i in 0..MAX_URLS + 10 {
            cache.get(&format!("http://h/{i}")).unwrap();
        }
        assert!(cache.parsed.read().unwrap().len() <= MAX_URLS);
    }

    #[test]
    fn the_proxy_settings_decide_which_urls_are_proxied() {
        let cache = UrlCache::new(
            Matcher::builder()
                .https("http://proxy.internal:3128")
                .no("localhost")
                .build(),
        );
        assert!(
            cache
                .get("https://api.openai.com/v1/models")
                .unwrap()
                .proxied
        );
        assert!(
            !cache
                .get("http://api.openai.com/v1/models")
                .unwrap()
                .proxied,
            "only https is proxied here"
        );
        assert!(
            !cache
                .get("https://localhost:11434/api/tags")
                .unwrap()
                .proxied,
            "NO_PROXY"
        );
    }
}
