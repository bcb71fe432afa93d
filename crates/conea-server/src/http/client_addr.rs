//! The client's address: the connection's peer, or — only when the peer is a trusted proxy
//! (`CONEA_TRUSTED_PROXIES`) — the right-most untrusted address of `X-Forwarded-For`.

use crate::http::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

pub fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> String {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let Some(peer) = peer else {
        return "unknown".into();
    };
    if !is_trusted(&peer) {
        return peer.to_string();
    }
    let chain: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect();
    chain
        .iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(chain.first())
        .copied()
        .unwrap_or(peer)
        .to_string()
}

/// The client's address, for throttling unauthenticated routes.
pub struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddr(resolve(
            peer,
            &parts.headers,
            &state.config().rate_limit.trusted_proxies,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn xff(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static(v));
        h
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let peer = "203.0.113.9".parse().ok();
        assert_eq!(resolve(peer, &xff("1.2.3.4"), &[]), "203.0.113.9");
    }

    #[test]
    fn trusted_proxy_yields_rightmost_untrusted_address() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer = "10.0.0.5".parse().ok();
        // The client can prepend anything; the right-most untrusted hop is the real client.
        assert_eq!(
            resolve(peer, &xff("6.6.6.6, 198.51.100.7, 10.1.2.3"), &trusted),
            "198.51.100.7"
        );
        assert_eq!(resolve(peer, &HeaderMap::new(), &trusted), "10.0.0.5");
    }
}
