//! The sled backend's own tests: what only sled has (its trees, its files, damage written
//! under the store).

use crate::server::store::audit::tests::world;
#[allow(unused_imports)]
use crate::server::store::sled::test_prelude::*;

/// The migration's build gives exactly the entries the writes gave, and agrees with the check.
#[test]
fn the_index_is_rebuilt_from_the_trail() {
    let (_d, s) = sled_temp_store();
    world(&s);
    let before: Vec<_> = s.sled().audit_index.iter().map(|kv| kv.unwrap()).collect();
    assert_eq!(before.len(), 2 * 62, "by time and by actor, no more");
    s.sled().audit_index.clear().unwrap();
    assert_eq!(build_index(s.sled()).unwrap(), 62);
    assert_eq!(build_index(s.sled()).unwrap(), 62, "again: the same");
    let after: Vec<_> = s.sled().audit_index.iter().map(|kv| kv.unwrap()).collect();
    assert_eq!(after, before);
    assert_eq!(s.check().unwrap().violations, vec![]);
}

#[test]
fn index_keys_are_pinned() {
    let rec = AuditRecord {
        at: 0x0102,
        actor: 7,
        action: AuditKind::KeyRefused,
        detail: "x".into(),
    };
    let (keys, value) = index_entries(3, 0x0a0b, &rec);
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let end = "0000000000000102000000000000 0a0b0000000000000003".replace(' ', "");
    assert_eq!(hex(&keys[0]), format!("54{end}"));
    assert_eq!(hex(&keys[1]), format!("410000000000000007{end}"));
    assert_eq!(hex(&value), "000000000000000709");
    for k in &keys {
        let hit = read_entry(k, &value).unwrap();
        assert_eq!(
            hit,
            AuditHit {
                place: Place {
                    at: 0x0102,
                    event: 0x0a0b
                },
                group: 3,
                actor: 7,
                kind: AuditKind::KeyRefused
            }
        );
    }
    for (i, k) in AuditKind::ALL.iter().enumerate() {
        assert_eq!(usize::from(k.code()), i, "kinds keep their codes");
    }
    assert!(read_entry(b"Tshort", &value).is_err());
    assert!(read_entry(&keys[0], b"short").is_err());
    assert!(read_entry(&[b"X"[..].to_vec(), vec![0; 24]].concat(), &value).is_err());
    // Schema 5's families by group and by kind are no longer read (the migration deletes them).
    let by_group = [&[b'G'][..], &3u64.to_be_bytes(), &keys[0][1..]].concat();
    assert!(read_entry(&by_group, &value).is_err());
    assert!(read_entry(&[&[b'K', 9][..], &keys[0][1..]].concat(), &value).is_err());
}
