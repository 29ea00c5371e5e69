//! How records and keys are laid out in bytes: in the embedded store, and in backups whatever
//! the backend.
//!
//! Values: a versioned envelope, `[format version: u8][postcard bytes]`. A record kind bumps its
//! version when its layout changes, and either a start-up migration rewrites old records or,
//! when the change only appends a field with a default, the kind reads its older version as it
//! is ([`Record::decode_older`]); decoding a version it does not know is a `Corrupt` error
//! naming the key, never a panic.
//! Keys: integers big-endian and fixed width, so that byte order is numeric order.

use super::StoreError;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A record kind stored in its own tree.
pub trait Record: Serialize + DeserializeOwned {
    /// The tree holding this kind.
    const TREE: &'static str;
    /// The envelope version this build writes and reads.
    const VERSION: u8;

    /// Decodes the body of a record an older `version` of this kind wrote, for kinds whose
    /// change was only a field appended with its default, so old records read as they are and
    /// need no migration (rewritten in the new layout the next time they are saved). `None`:
    /// this kind reads no older version.
    fn decode_older(version: u8, body: &[u8]) -> Option<Result<Self, postcard::Error>> {
        let _ = (version, body);
        None
    }
}

pub fn encode<T: Record>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![T::VERSION];
    let body = postcard::to_allocvec(value).map_err(|e| StoreError::Corrupt {
        tree: T::TREE,
        key: String::new(),
        reason: format!("cannot encode: {e}"),
    })?;
    out.extend_from_slice(&body);
    Ok(out)
}

pub fn decode<T: Record>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        tree: T::TREE,
        key: show_key(key),
        reason,
    };
    match bytes.split_first() {
        Some((&v, body)) if v == T::VERSION => {
            postcard::from_bytes(body).map_err(|e| corrupt(format!("cannot decode: {e}")))
        }
        Some((&v, body)) => match T::decode_older(v, body) {
            Some(r) => r.map_err(|e| corrupt(format!("cannot decode version {v}: {e}"))),
            None => Err(corrupt(format!("unknown record version {v}"))),
        },
        None => Err(corrupt("empty value".into())),
    }
}

/// An id key: `u64` big-endian.
pub fn id_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// The key a bearer secret (a session id, a set-password token) is stored under: its
/// BLAKE2b-256. The secret itself is never a key or a value, so reading the database gives no
/// session and no link that works; a lookup hashes what the client sent. The secrets are 128
/// random bits, so a fast unsalted hash is enough: there is nothing to guess.
pub fn secret_key(secret: &[u8]) -> [u8; 32] {
    use blake2::digest::{consts::U32, Digest};
    let mut h = blake2::Blake2b::<U32>::new();
    h.update(secret);
    h.finalize().into()
}

/// Reads an 8-byte big-endian id (a key, an index value or a key suffix).
pub fn read_id(tree: &'static str, key: &[u8], bytes: &[u8]) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt {
            tree,
            key: show_key(key),
            reason: format!("expected an 8-byte id, found {} bytes", bytes.len()),
        })
}

/// A key as text for error messages: UTF-8 when it is, hex otherwise.
pub fn show_key(key: &[u8]) -> String {
    match std::str::from_utf8(key) {
        Ok(s) if !s.chars().any(char::is_control) => s.to_string(),
        _ => key.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// The case-insensitive form under which names are indexed and compared.
pub fn fold(s: &str) -> String {
    s.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::server::store::tests::prelude::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Thing {
        a: u32,
        b: String,
    }
    impl Record for Thing {
        const TREE: &'static str = "things";
        const VERSION: u8 = 3;
    }

    #[test]
    fn round_trip_and_version_check() {
        let t = Thing {
            a: 7,
            b: "x".into(),
        };
        let bytes = encode(&t).unwrap();
        assert_eq!(bytes[0], 3);
        assert_eq!(decode::<Thing>(b"k", &bytes).unwrap(), t);
        let mut old = bytes.clone();
        old[0] = 2;
        let err = decode::<Thing>(b"k", &old).unwrap_err().to_string();
        assert!(
            err.contains("things") && err.contains("unknown record version 2"),
            "{err}"
        );
        assert!(decode::<Thing>(&[0, 1], &[3, 0xff])
            .unwrap_err()
            .to_string()
            .contains("0001"));
    }

    #[test]
    fn ids_sort_numerically() {
        assert!(id_key(255) < id_key(256));
        assert_eq!(read_id("t", b"k", &id_key(42)).unwrap(), 42);
        assert!(read_id("t", b"k", b"short").is_err());
    }
}
