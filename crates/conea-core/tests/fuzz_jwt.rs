//! Property-based fuzzing of JWT headers (proptest, stable toolchain): `PROPTEST_CASES`
//! generated tokens per property (256 by default: the bounded run of the normal test suite),
//! after the committed corpus `tests/corpus/jwt_headers.txt` (one header JSON a line: `alg`
//! none in its spellings, algorithm confusion, `kid`/`jku`/`jwk`/`crit` tricks).
//!
//! What must hold: no text makes verification panic; a token is accepted only when its
//! header's `alg` is the configured one and its signature is the server's over exactly its
//! header and payload, whatever else the header carries; an issued token verifies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use conea_core::auth::jwt::{decode_unverified, issue, verify, JwtSettings};
use jsonwebtoken::{Algorithm, EncodingKey};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::time::Duration;

const NOW_MS: i64 = 1_800_000_000_000;
const SECRET: &[u8] = b"the-server-secret-of-at-least-32-bytes!!";

fn settings() -> JwtSettings {
    JwtSettings {
        secret: SECRET.to_vec(),
        algorithms: vec![Algorithm::HS256],
        issuer: None,
        audience: None,
        ttl: Duration::from_secs(3600),
        leeway: Duration::from_secs(60),
    }
}

fn claims() -> Value {
    json!({"sub": "usr_01", "org": "org_01", "iat": NOW_MS / 1000, "exp": NOW_MS / 1000 + 600,
           "jti": "j"})
}

/// How the token is signed.
#[derive(Debug, Clone)]
enum Signature {
    /// HS256 with the server's secret, over the token's own header and payload.
    Server,
    /// With another key, or under another algorithm.
    Other(Algorithm, Vec<u8>),
    Empty,
    Text(String),
}

fn token(header: &Value, payload: &Value, signature: &Signature) -> String {
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let p = URL_SAFE_NO_PAD.encode(payload.to_string());
    let message = format!("{h}.{p}");
    let sig = match signature {
        Signature::Server => jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &EncodingKey::from_secret(SECRET),
            Algorithm::HS256,
        )
        .unwrap(),
        Signature::Other(alg, key) => {
            jsonwebtoken::crypto::sign(message.as_bytes(), &EncodingKey::from_secret(key), *alg)
                .unwrap()
        }
        Signature::Empty => String::new(),
        Signature::Text(t) => t.clone(),
    };
    format!("{message}.{sig}")
}

/// Whether verification may accept: the configured algorithm, signed by the server.
fn may_accept(header: &Value, signature: &Signature) -> bool {
    header.get("alg") == Some(&json!("HS256")) && matches!(signature, Signature::Server)
}

fn check(header: &Value, payload: &Value, signature: &Signature) {
    let t = token(header, payload, signature);
    let result = verify(&settings(), &t, NOW_MS);
    if result.is_ok() {
        assert!(
            may_accept(header, signature),
            "accepted a forged token: header {header}, signature {signature:?}"
        );
    }
    let _ = decode_unverified(&t);
}

fn headers() -> impl Strategy<Value = Value> {
    let alg = prop::sample::select(vec![
        json!("HS256"),
        json!("HS384"),
        json!("HS512"),
        json!("none"),
        json!("None"),
        json!("NONE"),
        json!("nOnE"),
        json!("RS256"),
        json!("ES256"),
        json!("PS256"),
        json!("EdDSA"),
        json!("hs256"),
        json!("HS256 "),
        json!(""),
        json!(null),
        json!(256),
        json!(["HS256"]),
    ]);
    let member = prop::sample::select(vec![
        ("typ", json!("JWT")),
        ("typ", json!("at+jwt")),
        ("kid", json!("../../../../dev/null")),
        ("kid", json!("' OR 1=1 --")),
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        ("jwk", json!({"kty": "oct", "k": "YXR0YWNrZXI"})),
        ("crit", json!(["exp"])),
        ("cty", json!("JWT")),
        ("zip", json!("DEF")),
        ("b64", json!(false)),
    ]);
    (
        proptest::option::weighted(0.9, alg),
        proptest::collection::vec(member, 0..4),
    )
        .prop_map(|(alg, members)| {
            let mut h = serde_json::Map::new();
            if let Some(a) = alg {
                h.insert("alg".into(), a);
            }
            for (k, v) in members {
                h.insert(k.into(), v);
            }
            Value::Object(h)
        })
}

fn signatures() -> impl Strategy<Value = Signature> {
    prop_oneof![
        3 => Just(Signature::Server),
        1 => (
            prop::sample::select(vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512]),
            proptest::collection::vec(any::<u8>(), 0..40),
        )
            .prop_map(|(a, k)| Signature::Other(a, k)),
        1 => Just(Signature::Empty),
        1 => "[A-Za-z0-9_=+/-]{0,90}".prop_map(Signature::Text),
    ]
}

#[test]
fn header_corpus_is_refused_unless_signed_by_the_server_under_hs256() {
    for line in include_str!("corpus/jwt_headers.txt").lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let header: Value = serde_json::from_str(line).unwrap();
        for signature in [
            Signature::Server,
            Signature::Empty,
            Signature::Other(
                Algorithm::HS256,
                b"the-public-key-as-an-hmac-secret".to_vec(),
            ),
        ] {
            check(&header, &claims(), &signature);
        }
    }
}

#[test]
fn an_issued_token_verifies_and_shows_its_algorithm() {
    let issued = issue(&settings(), "usr_01", "org_01", NOW_MS, None).unwrap();
    assert_eq!(
        verify(&settings(), &issued.token, NOW_MS).unwrap(),
        issued.claims
    );
    let (header, _) = decode_unverified(&issued.token).unwrap();
    assert_eq!(header["alg"], "HS256");
    // Built here the same way the forged ones are: the server's own token is accepted.
    let own = token(
        &json!({"alg": "HS256", "typ": "JWT"}),
        &claims(),
        &Signature::Server,
    );
    assert!(verify(&settings(), &own, NOW_MS).is_ok());
}

proptest! {
    #[test]
    fn any_text_is_refused_without_panicking(text in "\\PC{0,120}") {
        prop_assert!(verify(&settings(), &text, NOW_MS).is_err());
        let _ = decode_unverified(&text);
    }

    #[test]
    fn three_parts_of_anything_are_refused_without_panicking(
        parts in proptest::collection::vec("[A-Za-z0-9_=+/.-]{0,40}", 3..4),
    ) {
        prop_assert!(verify(&settings(), &parts.join("."), NOW_MS).is_err());
    }

    #[test]
    fn a_token_is_accepted_only_under_hs256_with_the_servers_signature(
        header in headers(),
        signature in signatures(),
    ) {
        check(&header, &claims(), &signature);
    }
}
