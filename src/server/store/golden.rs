//! Golden bytes: each record kind encoded by this version, pinned byte for byte. A value
//! written today must decode the same in every later version, so a change that alters any of
//! these encodings fails here, and must come with a new record `VERSION` and a migration
//! (`migrations.rs`) or a reader of the old version (`Record::decode_older`, with the old bytes
//! kept here as a decoding test) instead of an edit to the expected bytes.

use super::backup::{BackupVia, LastBackupRecord};
use super::branches::BranchRecord;
use super::codec::{self, Record};
use super::courses::{CourseRecord, LessonRecord};
use super::curricula::CurriculumRecord;
use super::enrolments::{EnrolmentRecord, ProgressRecord, Source};
use super::groups::{
    AuditKind, AuditRecord, BulkOutcomeRecord, BulkResultRecord, BulkRowRecord, GroupLinksRecord,
    GroupRecord, JoinedVia, KeyRecord, MemberRecord,
};
use super::imports::{
    ImportRecord, ImportRowRecord, StoredCounts, StoredImportState, StoredOutcome, TokenRecord,
};
use super::jobs::{JobCounts, JobKind, JobRecord, JobState, Lease};
use super::sessions::SessionRecord;
use super::users::{StoredRole, UserRecord};
use std::fmt::Debug;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// `value` encodes to exactly `expected`, and `expected` decodes to exactly `value`.
fn pinned<T: Record + PartialEq + Debug>(value: T, expected: &str) {
    let bytes = codec::encode(&value).unwrap();
    assert_eq!(
        hex(&bytes),
        expected,
        "the stored layout of {} changed: bump its VERSION and migrate instead",
        T::TREE
    );
    let back: T = codec::decode(b"golden", &unhex(expected)).unwrap();
    assert_eq!(back, value);
}

#[test]
fn users_and_sessions() {
    pinned(
        UserRecord {
            id: 7,
            login: "ada".into(),
            email: "ada@x.org".into(),
            display_name: "Ada L".into(),
            role: StoredRole::Learner,
            active: true,
            created_at: 1_700_000_000_000,
            auth_epoch: 2,
        },
        "0107036164610961646140782e6f726705416461204c010180d095ffbc3102",
    );
    pinned(
        SessionRecord {
            expires_at: 1_700_000_000,
            data: b"{}".to_vec(),
        },
        "0180c49fd50c027b7d",
    );
}

/// The keys of bearer secrets (session ids since schema 4, set-password tokens): BLAKE2b-256 of
/// the secret's text. A change here would lose every stored session and link, so it is pinned
/// like a record.
#[test]
fn secret_keys() {
    let key = "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319";
    assert_eq!(hex(&super::sessions::session_key("abc")), key);
    assert_eq!(hex(&codec::secret_key(b"abc")), key);
}

#[test]
fn catalog() {
    pinned(
        BranchRecord {
            id: 3,
            name: "North".into(),
            description: "d".into(),
            parent: Some(2),
            created_at: 5,
        },
        "0103054e6f7274680164010205",
    );
    pinned(
        CourseRecord {
            id: 4,
            code: "PHY".into(),
            title: "Physics".into(),
            description: String::new(),
            archived: false,
            lessons: vec![LessonRecord {
                id: 9,
                title: "One".into(),
                text: "t".into(),
            }],
            created_at: 6,
        },
        "010403504859075068797369637300000109034f6e65017406",
    );
    pinned(
        CurriculumRecord {
            id: 10,
            name: "Path".into(),
            description: String::new(),
            courses: vec![4, 5],
            created_at: 7,
        },
        "010a04506174680002040507",
    );
    pinned(
        EnrolmentRecord {
            enrolled_at: 8,
            sources: vec![
                Source::Manual,
                Source::Curriculum(10),
                Source::GroupSync(11),
                Source::GroupKey(12),
                Source::DefaultGroup(13),
                Source::Import,
            ],
        },
        "02080600010a020b030c040d05",
    );
    pinned(
        EnrolmentRecord {
            enrolled_at: 8,
            sources: vec![Source::ImportGroup(14)],
        },
        "020801060e",
    );
    pinned(
        ProgressRecord {
            done: vec![(9, 100)],
            history: vec![90],
        },
        "01010964015a",
    );
}

#[test]
fn groups() {
    pinned(
        GroupRecord {
            id: 11,
            name: "Year 7".into(),
            description: "First".into(),
            branch: Some(3),
            key: KeyRecord {
                key: Some("ABCD-EFGH".into()),
                max_uses: 5,
                valid_from: Some(1),
                valid_until: None,
                enabled: true,
            },
            key_uses: 2,
            is_default: true,
            members: 300,
            courses: 1,
            curricula: 1,
            created_at: 12,
            managers_regenerate_key: true,
        },
        "020b0659656172203705466972737401030109414243442d4546474805010100010201ac0201010c01",
    );
    pinned(
        GroupLinksRecord {
            courses: vec![4],
            curricula: vec![10],
        },
        "010104010a",
    );
    pinned(
        MemberRecord {
            joined_at: 13,
            how: JoinedVia::Key,
        },
        "010d01",
    );
    // Appended after `Import`: members added in bulk; older records keep their bytes.
    pinned(
        MemberRecord {
            joined_at: 13,
            how: JoinedVia::Bulk,
        },
        "010d04",
    );
    pinned(
        AuditRecord {
            at: 14,
            actor: 1,
            action: AuditKind::MassEnrolment,
            detail: "x".into(),
        },
        "010e010a0178",
    );
    pinned(
        BulkResultRecord {
            rows: vec![
                BulkRowRecord {
                    line: 1,
                    input: "ada".into(),
                    outcome: BulkOutcomeRecord::Added,
                },
                BulkRowRecord {
                    line: 2,
                    input: "?".into(),
                    outcome: BulkOutcomeRecord::Invalid("bad".into()),
                },
            ],
            added: 1,
            already: 0,
            unknown: 0,
            invalid: 1,
        },
        "010201036164610002013f030362616401000001",
    );
}

/// A group as version 1 wrote it (before "managers may regenerate the key" was appended)
/// still decodes, with the setting off: groups are not migrated, they read as they are.
#[test]
fn groups_of_version_1_still_decode() {
    let v1 = "010b0659656172203705466972737401030109414243442d4546474805010100010201ac0201010c";
    let g: GroupRecord = codec::decode(b"golden", &unhex(v1)).unwrap();
    assert_eq!(
        g,
        GroupRecord {
            id: 11,
            name: "Year 7".into(),
            description: "First".into(),
            branch: Some(3),
            key: KeyRecord {
                key: Some("ABCD-EFGH".into()),
                max_uses: 5,
                valid_from: Some(1),
                valid_until: None,
                enabled: true,
            },
            key_uses: 2,
            is_default: true,
            members: 300,
            courses: 1,
            curricula: 1,
            created_at: 12,
            managers_regenerate_key: false,
        }
    );
    // Rewritten in the current layout the next time it is saved.
    assert_eq!(
        hex(&codec::encode(&g).unwrap()),
        "020b0659656172203705466972737401030109414243442d4546474805010100010201ac0201010c00"
    );
    // A truncated version-1 record is still an error naming the key, never a panic.
    let err = codec::decode::<GroupRecord>(b"k", &unhex(&v1[..v1.len() - 2])).unwrap_err();
    assert!(err.to_string().contains("version 1"), "{err}");
    // A version this build does not know is refused.
    assert!(codec::decode::<GroupRecord>(b"k", &unhex("03")).is_err());
}

#[test]
fn jobs() {
    pinned(
        JobRecord {
            id: 20,
            kind: JobKind::LessonsAdded {
                course: 4,
                old_lessons: vec![9],
            },
            state: JobState::Failed("x".into()),
            cursor: 21,
            done: 22,
            total: 25,
            counts: JobCounts {
                enrolled: 1,
                already: 2,
                skipped_archived: 3,
                skipped_inactive: 4,
                failed: 5,
            },
            failures: vec!["y".into()],
            started_by: 6,
            created_at: 23,
            finished_at: Some(24),
            lease: Some(Lease {
                holder: 7,
                until: 300,
            }),
        },
        "0214030401090201781516190102030405010179061701180107ac02",
    );
    // Version 1 (before leases) still reads, held by nobody.
    let v1: JobRecord = codec::decode(
        b"k",
        &unhex("011403040109020178151619010203040501017906170118"),
    )
    .unwrap();
    assert_eq!((v1.id, v1.cursor, v1.lease), (20, 21, None));
    assert_eq!(v1.finished_at, Some(24));
    for kind in [
        JobKind::SweepGroup { group: 1 },
        JobKind::CourseDeleted { course: 2 },
        JobKind::CurriculumDeleted { curriculum: 3 },
        JobKind::MassEnrol { group: 4 },
        JobKind::ImportUsers { import: 5 },
        JobKind::DeliverMessage { message: 6 },
    ] {
        let rec = JobRecord::new(1, kind, 0, 0, 0);
        let bytes = codec::encode(&rec).unwrap();
        let back: JobRecord = codec::decode(b"golden", &bytes).unwrap();
        assert_eq!(back, rec);
    }
}

#[test]
fn imports() {
    pinned(
        JobRecord::new(3, JobKind::ImportUsers { import: 5 }, 9, 2, 7),
        "020305050000000900000000000002070000",
    );
    pinned(
        ImportRecord {
            id: 1,
            by: 2,
            by_login: "ad".into(),
            file_name: "f.csv".into(),
            created_at: 3,
            state: StoredImportState::Applying,
            rows: 4,
            done: 5,
            counts: StoredCounts {
                create: 6,
                exists: 7,
                invalid: 8,
                created: 9,
                failed: 10,
            },
            finished_at: Some(11),
            links_expire_at: None,
            failure: Some("f".into()),
        },
        "01010202616405662e63737603010405060708090a010b00010166",
    );
    for (outcome, expected) in [
        (
            StoredOutcome::Create,
            "01020161016201630164010167010d01016800",
        ),
        (
            StoredOutcome::ExistsLogin,
            "01020161016201630164010167010d01016801",
        ),
        (
            StoredOutcome::ExistsEmail,
            "01020161016201630164010167010d01016802",
        ),
        (
            StoredOutcome::Invalid {
                field: "f".into(),
                message: "m".into(),
            },
            "01020161016201630164010167010d010168030166016d",
        ),
        (
            StoredOutcome::Created {
                user: 12,
                token: Some("t".into()),
            },
            "01020161016201630164010167010d010168040c010174",
        ),
        (
            StoredOutcome::Failed("e".into()),
            "01020161016201630164010167010d010168050165",
        ),
    ] {
        pinned(
            ImportRowRecord {
                line: 2,
                login: "a".into(),
                email: "b".into(),
                display_name: "c".into(),
                role: "d".into(),
                groups: vec!["g".into()],
                group_ids: vec![13],
                hash: Some("h".into()),
                outcome,
            },
            expected,
        );
    }
    pinned(
        TokenRecord {
            user: 14,
            expires_at: 15,
            epoch: 16,
        },
        "010e0f10",
    );
}

#[test]
fn key_redemptions() {
    pinned(
        super::groups::keys::RedemptionRecord {
            user: 3,
            key: "K-1".into(),
            at: 4,
            client: Some("::1".into()),
        },
        "0103034b2d310401033a3a31",
    );
}

#[test]
fn messages() {
    use super::messages::{BodyRecord, InboxRecord, MessageRecord, OutboxRecord};
    pinned(
        MessageRecord {
            group: 1,
            group_name: "G".into(),
            sender: 2,
            sender_name: "S".into(),
            subject: "s".into(),
            sent_at: 3,
            recipients: 4,
            mail: true,
            delivering: true,
        },
        "01010147020153017303040101",
    );
    pinned(BodyRecord { body: "b".into() }, "010162");
    pinned(InboxRecord { read: true }, "0101");
    pinned(
        OutboxRecord {
            to: "a@b.c".into(),
            name: "A".into(),
            queued_at: 5,
            attempts: 2,
            last_error: "e".into(),
        },
        "01056140622e63014105020165",
    );
}

#[test]
fn last_backup() {
    pinned(
        LastBackupRecord {
            at_ms: 1,
            bytes: 2,
            via: BackupVia::Download { by: 3 },
        },
        "0101020003",
    );
    pinned(
        LastBackupRecord {
            at_ms: 300,
            bytes: 2,
            via: BackupVia::Command,
        },
        "01ac020201",
    );
}
