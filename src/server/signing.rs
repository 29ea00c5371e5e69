//! Keyed BLAKE2b signatures with the server's secret, one key per purpose, and the cookies they
//! sign.
//!
//! The server has one secret (`AppState::url_key`, 32 random bytes made at start). Each use
//! gets its own key derived from it with a purpose label (domain separation), so a signature
//! made for one purpose (a form error in a URL) can never pass for another (a device cookie).

use axum::http::HeaderMap;
use blake2::digest::consts::{U16, U32};
use blake2::digest::{FixedOutput, KeyInit, Update};

/// The key for `purpose`, derived from the server's secret.
pub fn derive_key(secret: &[u8; 32], purpose: &str) -> [u8; 32] {
    let mut mac =
        blake2::Blake2bMac::<U32>::new_from_slice(secret).expect("a 32-byte key suits BLAKE2b");
    mac.update(b"tessera key derivation\0");
    mac.update(purpose.as_bytes());
    mac.finalize_fixed().into()
}

/// A 128-bit keyed BLAKE2b MAC of `parts` as 32 hex digits. Each part is preceded by its
/// length, so no two different lists of parts are signed alike.
pub fn mac_hex(key: &[u8; 32], parts: &[&[u8]]) -> String {
    let mut mac =
        blake2::Blake2bMac::<U16>::new_from_slice(key).expect("a 32-byte key suits BLAKE2b");
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize_fixed()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether two signatures are equal, compared without an early exit.
pub fn same_signature(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// 128 random bits as 32 hex digits (a nonce, a browser's mark value).
pub fn random_hex() -> String {
    rand::random::<[u8; 16]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The value of the cookie `name` the request carries (the first, when a browser sends it
/// twice); `None` when it carries none.
pub fn request_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
}

/// A `Set-Cookie` value: HttpOnly, for the whole site, Secure when cookies are marked secure;
/// `max_age` in seconds, or none for a cookie that ends with the browser session.
pub fn set_cookie(
    name: &str,
    value: &str,
    same_site: &str,
    max_age: Option<u64>,
    secure: bool,
) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
    if let Some(secs) = max_age {
        c.push_str(&format!("; Max-Age={secs}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn keys_differ_by_purpose_and_macs_by_parts() {
        let secret = [7u8; 32];
        let a = derive_key(&secret, "form error marks");
        let b = derive_key(&secret, "device cookies");
        assert_ne!(a, b);
        assert_ne!(a, derive_key(&[8u8; 32], "form error marks"));
        let m = mac_hex(&a, &[b"ab", b"c"]);
        assert_eq!(m.len(), 32);
        assert_ne!(m, mac_hex(&a, &[b"a", b"bc"]));
        assert_ne!(m, mac_hex(&b, &[b"ab", b"c"]));
        assert!(same_signature(&m, &mac_hex(&a, &[b"ab", b"c"])));
        assert!(!same_signature(&m, &m[1..]));
    }

    #[test]
    fn request_cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.append(
            axum::http::header::COOKIE,
            HeaderValue::from_static("tessera_device_x=1; tessera_device=abc"),
        );
        assert_eq!(request_cookie(&h, "tessera_device").as_deref(), Some("abc"));
        assert_eq!(request_cookie(&h, "other"), None);
    }
}
