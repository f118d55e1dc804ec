//! Checks every cell makes beyond its snapshot: the gateway key never goes
//! upstream, the provider key goes only in the upstream's auth header and
//! never back to the caller, and no prompt text lands in a header.

use crate::case::GATEWAY_KEY;
use crate::exchange::Exchange;
use crate::render::AUTH_HEADERS;

/// The provider key of `common::provider_config`.
const PROVIDER_KEY: &str = "sk-upstream-secret";

/// Fails `cell` when a key or a prompt went where it must not.
pub fn check(cell: &str, ex: &Exchange) {
    // Prompt texts: the request's strings that read like sentences.
    let request_strings = ex.request.strings();
    let prompts: Vec<&str> = request_strings
        .into_iter()
        .filter(|s| s.len() >= 8 && s.contains(' '))
        .collect();
    let header_ok = |where_: &str, name: &str, value: &str| {
        for p in &prompts {
            assert!(
                !value.contains(p),
                "{cell}: prompt text in {where_} header {name}"
            );
        }
    };
    for r in &ex.upstream {
        for (name, value) in &r.headers {
            assert!(
                !value.contains(GATEWAY_KEY),
                "{cell}: gateway key upstream in {name}"
            );
            if AUTH_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                let bare = value.strip_prefix("Bearer ").unwrap_or(value);
                assert_eq!(bare, PROVIDER_KEY, "{cell}: {name} is not the provider key");
            } else {
                assert!(
                    !value.contains(PROVIDER_KEY),
                    "{cell}: provider key in {name}"
                );
                header_ok("an upstream", name, value);
            }
        }
        let rest = format!("{}?{}{}", r.path, r.query, String::from_utf8_lossy(&r.body));
        for key in [GATEWAY_KEY, PROVIDER_KEY] {
            assert!(
                !rest.contains(key),
                "{cell}: a key in the upstream URL or body"
            );
        }
    }
    for (name, value) in &ex.headers {
        for key in [GATEWAY_KEY, PROVIDER_KEY] {
            assert!(
                !value.contains(key),
                "{cell}: a key in response header {name}"
            );
        }
        header_ok("a response", name, value);
    }
    let body = String::from_utf8_lossy(&ex.body);
    for key in [GATEWAY_KEY, PROVIDER_KEY] {
        assert!(!body.contains(key), "{cell}: a key in the response body");
    }
}
