-- Tessera's PostgreSQL schema, version 1 (refinery migration V1).
--
-- One table per record kind of `store/*.rs` (the sled backend's trees, `sled/mod.rs`), typed
-- columns per field, child tables for the records' lists. Each table says which sled tree and
-- record it holds; each index which sled index tree it stands for.
--
-- Conventions (the Rust side maps by them):
-- - Ids, counts and `u64` fields are `bigint` with CHECK (>= 0): `u64` values above 2^63 do not
--   occur (ids come from the `ids` sequence, times are milliseconds). The one `u64` that is
--   random, a job runner's lease holder, is stored bit for bit (`u64 as i64`); see `jobs`.
--   `u32` fields are `bigint` with CHECK (0 .. 4294967295) where they can wrap or grow (an auth
--   epoch, a key's limit), `integer` where they are small (a line number, a position).
-- - Times are `bigint` milliseconds since the Unix epoch, named `<record field>_ms`, except the
--   session expiry, which the record keeps in seconds (`expires_at_s`).
-- - Enums are `text` with a CHECK listing their variants in snake_case (the variant names of
--   the store's enums: `StoredRole::Admin` is 'admin'); variants with a payload have typed
--   columns beside the kind. New variants are a new migration (the records only ever append).
-- - Case-insensitive names are kept twice: as typed, and folded by the Rust side (`codec::fold`:
--   trim + Unicode lower case; group keys `model::group::fold_key`: trim + upper case) in a
--   `*_folded` column with a unique index. Not an index on `lower(...)`: PostgreSQL's lower()
--   follows the database's LC_CTYPE (under "C" it folds ASCII only; under ICU or glibc it
--   differs from Rust's `to_lowercase` in corner cases such as 'İ' or final sigma), so two
--   databases, or a database and sled, could disagree on which names collide. A stored
--   folded column folds exactly as sled does, whatever the database's locale.
-- - Folded names and search terms are `COLLATE "C"`: byte order, which is sled's key order
--   (UTF-8 byte order is code point order), so name order, paging and prefix ranges give the
--   rows sled gives, and a btree on them serves `starts_with(col, $q)` / `col LIKE 'q%'`
--   prefix scans (PostgreSQL 15 uses a "C" btree for `^@` / starts_with).
-- - Lists keep their order in a `position` column (0, 1, ...), so a record read back is the
--   record written, element for element (a backup round trip sled -> PostgreSQL -> sled gives
--   the same bytes).
-- - `text` cannot hold U+0000 (sled's strings can): the Rust side refuses or strips NUL in
--   what it writes (see the report on this schema).
--
-- Operations: SERIALIZABLE transactions (retrying SQLSTATE 40001 / 40P01), as the store's
-- contract asks (`store/mod.rs`); the unique indexes below are the last word on uniqueness
-- (a 23505 on `users_login_folded` is `Invalid` on `login`, and so on).

-- ---------------------------------------------------------------------------------------------
-- Store-wide: ids, schema, settings, secrets, last backup, totals.
-- ---------------------------------------------------------------------------------------------

-- `Core::new_id` (sled: `Db::generate_id`): one increasing id space for every record kind,
-- drawn with nextval('ids') before the transaction that uses it (a retried transaction keeps
-- its ids). CACHE 1 (the default) on purpose: with a per-connection cache two servers would
-- hand out ids out of creation order, and sorting by id must be sorting by creation. A backup
-- header's `id_mark` is `SELECT last_value FROM ids` (+1 when is_called); a restore calls
-- `SELECT setval('ids', <id_mark>)` so ids continue past every restored id.
CREATE SEQUENCE ids AS bigint MINVALUE 0 START WITH 1 NO CYCLE;

-- sled `meta` `schema_version`: the store schema (`store::SCHEMA_VERSION`) the rows are in,
-- which the backup header carries. Distinct from refinery's own history table, which records
-- which of these SQL migrations ran. One row.
CREATE TABLE store_info (
    only_row        boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    schema_version  integer NOT NULL CHECK (schema_version > 0),
    created_at_ms   bigint  NOT NULL CHECK (created_at_ms >= 0)
);

-- sled `meta` `setting/<name>` (`settings.rs`, `StoredSettings`): one row, a column per
-- setting; NULL = never changed by an administrator (the configured default applies).
CREATE TABLE settings (
    only_row           boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    self_registration  boolean NULL
);
INSERT INTO settings (only_row) VALUES (true);

-- sled tree `secrets` (`settings.rs`): the signing secret, made once (INSERT ... ON CONFLICT
-- DO NOTHING, then read back: the first server to insert wins, every server signs alike).
-- Left out of backups, like sessions.
CREATE TABLE secrets (
    name   text  PRIMARY KEY CHECK (name IN ('signing')),
    value  bytea NOT NULL CHECK (octet_length(value) = 32)
);

-- sled `meta` `backup/last` (`backup.rs`, `LastBackupRecord`): the newest backup made. One row
-- at most. `via` is `BackupVia`: 'download' (by an administrator, `by_user`) or 'command'.
CREATE TABLE last_backup (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    at_ms     bigint  NOT NULL CHECK (at_ms >= 0),
    bytes     bigint  NOT NULL CHECK (bytes >= 0),
    via       text    NOT NULL CHECK (via IN ('download', 'command')),
    by_user   bigint  NULL CHECK (by_user >= 0),
    CHECK ((via = 'download') = (by_user IS NOT NULL))
);

-- List totals that can reach 100,000 (sled `meta` `count/users`, `count/groups`). Counting
-- them with count(*) costs a walk of the whole index on every page of the list (about 10 ms
-- at 100,000, and growing), and one counter row would be written by every sign-up (a hot row
-- that serializes them). So each total is 16 slot rows: a writer adds to one slot (any; the
-- record's id % 16 spreads them), a reader sums the 16 rows. Written in the transaction that
-- creates or deletes the record (a group counts as gone when it is tombstoned, see `groups`).
-- A restore recomputes them from the rows.
-- Totals kept elsewhere (decided per total):
--   branches, courses, curricula (`count/branches` ...): count(*) over the primary key; a
--     catalogue holds hundreds to a few thousand rows.
--   active administrators (`count/active_admins`): count(*) over `users_active_admins`.
--   a branch's groups and sub-branches (`count/branch_groups/<b>`, `count/children/<b>`):
--     count(*) / EXISTS over `groups_branch`, `branches_parent` (and the foreign keys refuse
--     the delete anyway).
--   a group's members, key uses, courses, curricula: columns of the group's row (the record's
--     own fields), changed with the memberships and links.
--   a course's learners (`count/course_users/<c>`): `courses.enrolled`, changed with the
--     enrolments (a course page lists 20 courses with their learners: 20 counts of up to
--     100,000 would not do).
--   a user's inbox and unread messages (`count/inbox/<u>`, `count/unread/<u>`): count(*) over
--     `inbox`'s primary key and `inbox_unread` (one user's messages: hundreds).
--   a group's sent messages (`count/group_messages/<g>`): count(*) over `messages_group`.
--   a message's delivered / queued / sent / failed e-mails (`count/msg/<m>/...`): columns of
--     the message's row; "mail waiting" is the sum of `mail_queued` over `messages_mail_queued`.
--   search totals: counted from the term index up to TOTAL_CAP (1,000), as on sled.
CREATE TABLE totals (
    name  text     NOT NULL CHECK (name IN ('users', 'groups')),
    slot  smallint NOT NULL CHECK (slot BETWEEN 0 AND 15),
    n     bigint   NOT NULL DEFAULT 0,
    PRIMARY KEY (name, slot)
);
INSERT INTO totals (name, slot)
SELECT t, s FROM unnest(ARRAY['users', 'groups']) AS t, generate_series(0, 15) AS s;

-- ---------------------------------------------------------------------------------------------
-- Users and sessions.
-- ---------------------------------------------------------------------------------------------

-- sled tree `users` (`users.rs`, `UserRecord`), with `login_user` and `email_user` as the
-- unique folded columns. Users are never deleted (there is no delete operation), so other
-- tables refer to them with plain foreign keys.
CREATE TABLE users (
    id             bigint  PRIMARY KEY CHECK (id >= 0),
    login          text    NOT NULL,
    -- codec::fold(login); sled `login_user` key. Unique: login names are unique ignoring case.
    login_folded   text    COLLATE "C" NOT NULL,
    email          text    NOT NULL,
    -- codec::fold(email); sled `email_user` key.
    email_folded   text    COLLATE "C" NOT NULL,
    display_name   text    NOT NULL,
    role           text    NOT NULL CHECK (role IN ('admin', 'learner')),
    active         boolean NOT NULL,
    created_at_ms  bigint  NOT NULL CHECK (created_at_ms >= 0),
    -- u32, bumped (wrapping) to end every session of the user.
    auth_epoch     bigint  NOT NULL CHECK (auth_epoch BETWEEN 0 AND 4294967295)
);
-- login_user: uniqueness, find_for_login, and the user list without a query (login order).
CREATE UNIQUE INDEX users_login_folded ON users (login_folded);
-- email_user: uniqueness and find_for_login by e-mail.
CREATE UNIQUE INDEX users_email_folded ON users (email_folded);
-- count/active_admins: the last active administrator is protected.
CREATE INDEX users_active_admins ON users (id) WHERE role = 'admin' AND active;

-- sled tree `user_secrets`: user id -> the password hash (PHC string; '!unset' for an account
-- imported without one). Apart from `users` as on sled, so no listing can read a hash (and a
-- deployment may grant a reporting role `users` without this table).
CREATE TABLE user_secrets (
    user_id        bigint PRIMARY KEY REFERENCES users (id),
    password_hash  text   NOT NULL
);

-- sled tree `search_user` (`sled/search.rs`): the terms a user is found by, `search::terms`
-- of login, e-mail and display name (each folded whole, and each word), computed by the Rust
-- side. A search is a prefix range over `term` (starts_with(term, $q)), rows in (term,
-- user_id) order, each user at its first term: exactly sled's `term 0x00 id` prefix scan.
-- No extension needed; pg_trgm would match inside words too (different results) and needs a
-- contrib module a managed database may not offer. Rewritten with the user's row.
CREATE TABLE user_terms (
    term     text   COLLATE "C" NOT NULL,
    user_id  bigint NOT NULL REFERENCES users (id),
    PRIMARY KEY (term, user_id)
);
-- A user's terms, to replace them when the user is edited.
CREATE INDEX user_terms_user ON user_terms (user_id);

-- sled tree `sessions` (`sessions.rs`, `SessionRecord`): shared by every server, so a session
-- made on one is honoured by another. Keyed by BLAKE2b-256 of the session id (`session_key`),
-- never the id itself. Not in backups.
CREATE TABLE sessions (
    key_hash      bytea  PRIMARY KEY CHECK (octet_length(key_hash) = 32),
    -- Unix SECONDS (the record's `expires_at: i64`), not milliseconds.
    expires_at_s  bigint NOT NULL,
    -- The session layer's own bytes (the store does not look inside): opaque, so bytea.
    data          bytea  NOT NULL
);
-- delete_expired_sessions.
CREATE INDEX sessions_expiry ON sessions (expires_at_s);

-- Login, sign-up and group-key throttles (`server/throttle.rs`), shared by every server so a
-- guesser gains nothing by spreading requests over them. Not a sled tree: on one server the
-- buckets live in memory (governor). One row per bucket holding governor's own state, the
-- GCRA "theoretical arrival time": an attempt is allowed while tat_ms - now <= burst * refill
-- - refill; a failure sets tat_ms = greatest(tat_ms, now) + refill, in one
-- INSERT ... ON CONFLICT (family, key_hash) DO UPDATE. That is exactly the token bucket the
-- single server applies (a burst, then one per refill), where fixed windows of counters would
-- let a guesser spend two bursts across a window's edge. Rows whose tat_ms has passed are
-- full buckets and may be deleted (`throttles_spent`). Not in backups.
CREATE TABLE throttles (
    -- Which allowance: the constants of throttle.rs.
    family    text   NOT NULL CHECK (family IN (
                  'login_account', 'login_ip', 'login_device',
                  'signup_ip', 'signup_name', 'key_user', 'key_ip')),
    -- BLAKE2b-256 (codec::secret_key) of the bucket's key (a folded login name, an address
    -- group, a device nonce): equality is all a bucket needs, and the table then keeps no list
    -- of the names and addresses that were tried.
    key_hash  bytea  NOT NULL CHECK (octet_length(key_hash) = 32),
    tat_ms    bigint NOT NULL,
    PRIMARY KEY (family, key_hash)
);
CREATE INDEX throttles_spent ON throttles (tat_ms);

-- ---------------------------------------------------------------------------------------------
-- Catalogue: branches, courses, curricula.
-- ---------------------------------------------------------------------------------------------

-- sled tree `branches` (`branches.rs`, `BranchRecord`); `branch_name` is `name_folded`,
-- `branch_children` is `branches_parent`. delete_branch refuses a branch with sub-branches or
-- groups, as the RESTRICT foreign keys do (`branches.parent`, `groups.branch_id`); the Rust
-- side checks first to give its own message.
CREATE TABLE branches (
    id             bigint PRIMARY KEY CHECK (id >= 0),
    name           text   NOT NULL,
    name_folded    text   COLLATE "C" NOT NULL,
    description    text   NOT NULL,
    parent         bigint NULL REFERENCES branches (id) ON DELETE RESTRICT,
    created_at_ms  bigint NOT NULL CHECK (created_at_ms >= 0),
    CHECK (parent IS DISTINCT FROM id)
);
-- branch_name: uniqueness, name order (list without a query, branch_options).
CREATE UNIQUE INDEX branches_name_folded ON branches (name_folded);
-- branch_children: sub_branches, and refusing to delete a parent.
CREATE INDEX branches_parent ON branches (parent, id) WHERE parent IS NOT NULL;

-- sled tree `search_branch`: `search::terms(name)`, as `user_terms`.
CREATE TABLE branch_terms (
    term       text   COLLATE "C" NOT NULL,
    branch_id  bigint NOT NULL REFERENCES branches (id) ON DELETE CASCADE,
    PRIMARY KEY (term, branch_id)
);
CREATE INDEX branch_terms_branch ON branch_terms (branch_id);

-- sled tree `courses` (`courses.rs`, `CourseRecord`; its lessons in `course_lessons`);
-- `course_code` is `code_folded`. delete_course refuses a course with learners (`enrolled` >
-- 0, and the RESTRICT key of `enrolments`), then removes the row; the groups that link it
-- are detached by its CourseDeleted job (see `group_courses`).
CREATE TABLE courses (
    id             bigint  PRIMARY KEY CHECK (id >= 0),
    code           text    NOT NULL,
    code_folded    text    COLLATE "C" NOT NULL,
    title          text    NOT NULL,
    description    text    NOT NULL,
    archived       boolean NOT NULL,
    created_at_ms  bigint  NOT NULL CHECK (created_at_ms >= 0),
    -- sled `meta` `count/course_users/<id>`: learners enrolled, changed in the transaction
    -- that enrols or unenrols (not a record field; CourseView.enrolled / CourseRow.enrolled).
    enrolled       bigint  NOT NULL DEFAULT 0 CHECK (enrolled >= 0)
);
-- course_code: uniqueness and code order (the course list without a query).
CREATE UNIQUE INDEX courses_code_folded ON courses (code_folded);

-- `CourseRecord.lessons`, in order. A lesson's id comes from `ids` and is stable across edits
-- and moves (progress refers to it). Positions are unique per course, checked at commit so a
-- move can swap two.
CREATE TABLE course_lessons (
    id         bigint  PRIMARY KEY CHECK (id >= 0),
    course_id  bigint  NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    position   integer NOT NULL CHECK (position >= 0),
    title      text    NOT NULL,
    text       text    NOT NULL,
    CONSTRAINT course_lessons_order UNIQUE (course_id, position) DEFERRABLE INITIALLY DEFERRED
);

-- sled tree `course_suffix`: every suffix of the folded code and of the folded title, cut to
-- SUFFIX_MAX (32) characters (`courses::course_terms`, computed by the Rust side). A query
-- (cut to 32 characters) is a prefix of a suffix exactly when it is a part of the code or
-- title: a substring search as a prefix range, the same results as sled (a longer query is
-- then checked against the row with strpos, as sled checks it against the record).
CREATE TABLE course_suffixes (
    suffix     text   COLLATE "C" NOT NULL,
    course_id  bigint NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    PRIMARY KEY (suffix, course_id)
);
CREATE INDEX course_suffixes_course ON course_suffixes (course_id);

-- sled tree `curricula` (`curricula.rs`, `CurriculumRecord`; its courses in
-- `curriculum_courses`); `curriculum_name` is `name_folded`. Deleting one removes the row;
-- its CurriculumDeleted job detaches it from groups (see `group_curricula`).
CREATE TABLE curricula (
    id             bigint PRIMARY KEY CHECK (id >= 0),
    name           text   NOT NULL,
    name_folded    text   COLLATE "C" NOT NULL,
    description    text   NOT NULL,
    created_at_ms  bigint NOT NULL CHECK (created_at_ms >= 0)
);
CREATE UNIQUE INDEX curricula_name_folded ON curricula (name_folded);

-- sled tree `search_curriculum`: `search::terms(name)`, as `user_terms`.
CREATE TABLE curriculum_terms (
    term           text   COLLATE "C" NOT NULL,
    curriculum_id  bigint NOT NULL REFERENCES curricula (id) ON DELETE CASCADE,
    PRIMARY KEY (term, curriculum_id)
);
CREATE INDEX curriculum_terms_curriculum ON curriculum_terms (curriculum_id);

-- `CurriculumRecord.courses`, in order; the reverse index is sled's `course_curricula`.
-- delete_course takes the course out of its curricula in its own transaction (and its job
-- again), so CASCADE here does what sled does.
CREATE TABLE curriculum_courses (
    curriculum_id  bigint  NOT NULL REFERENCES curricula (id) ON DELETE CASCADE,
    course_id      bigint  NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    position       integer NOT NULL CHECK (position >= 0),
    PRIMARY KEY (curriculum_id, course_id),
    CONSTRAINT curriculum_courses_order UNIQUE (curriculum_id, position) DEFERRABLE INITIALLY DEFERRED
);
-- course_curricula: the curricula holding a course.
CREATE INDEX curriculum_courses_course ON curriculum_courses (course_id, curriculum_id);

-- ---------------------------------------------------------------------------------------------
-- Enrolments and progress.
-- ---------------------------------------------------------------------------------------------

-- sled tree `enrolments` (`enrolments.rs`, `EnrolmentRecord`; its sources in
-- `enrolment_sources`): user id ++ course id. The primary key is "a user's courses"; sled's
-- `course_users` is `enrolments_course`.
CREATE TABLE enrolments (
    user_id         bigint NOT NULL REFERENCES users (id),
    course_id       bigint NOT NULL REFERENCES courses (id) ON DELETE RESTRICT,
    enrolled_at_ms  bigint NOT NULL CHECK (enrolled_at_ms >= 0),
    PRIMARY KEY (user_id, course_id)
);
-- course_users: a course's learners (reports, checks).
CREATE INDEX enrolments_course ON enrolments (course_id, user_id);

-- `EnrolmentRecord.sources`: every way the enrolment was given, first first, never empty (the
-- Rust side deletes the enrolment with its last source). `kind` is `enrolments::Source`;
-- `ref_id` its group or curriculum. No foreign key on `ref_id`: a source outlives its group or
-- curriculum (a deleted group's enrolments stay, as on sled).
CREATE TABLE enrolment_sources (
    user_id    bigint  NOT NULL,
    course_id  bigint  NOT NULL,
    position   integer NOT NULL CHECK (position >= 0),
    kind       text    NOT NULL CHECK (kind IN (
                   'manual', 'curriculum', 'group_sync', 'group_key', 'default_group',
                   'import', 'import_group')),
    ref_id     bigint  NULL CHECK (ref_id >= 0),
    PRIMARY KEY (user_id, course_id, position),
    FOREIGN KEY (user_id, course_id) REFERENCES enrolments (user_id, course_id) ON DELETE CASCADE,
    CHECK ((kind IN ('manual', 'import')) = (ref_id IS NULL))
);

-- sled tree `progress` (`ProgressRecord`): user id ++ course id, kept apart from the enrolment
-- so unenrolling keeps it. No foreign key to `courses`: on sled a deleted course's progress
-- stays (delete_course refuses only while learners are enrolled), and a round trip must keep
-- it. A row with no lessons done and no history is an empty record, as on sled.
CREATE TABLE progress (
    user_id    bigint NOT NULL REFERENCES users (id),
    course_id  bigint NOT NULL CHECK (course_id >= 0),
    PRIMARY KEY (user_id, course_id)
);

-- `ProgressRecord.done`: (lesson id, when), in the record's order. No foreign key to the
-- lesson: a removed lesson's entry stays, and status is derived from the current lessons.
CREATE TABLE progress_done (
    user_id    bigint  NOT NULL,
    course_id  bigint  NOT NULL,
    position   integer NOT NULL CHECK (position >= 0),
    lesson_id  bigint  NOT NULL CHECK (lesson_id >= 0),
    done_at_ms bigint  NOT NULL CHECK (done_at_ms >= 0),
    PRIMARY KEY (user_id, course_id, position),
    FOREIGN KEY (user_id, course_id) REFERENCES progress (user_id, course_id) ON DELETE CASCADE
);

-- `ProgressRecord.history`: completion times a later new lesson undid, in order.
CREATE TABLE progress_history (
    user_id          bigint  NOT NULL,
    course_id        bigint  NOT NULL,
    position         integer NOT NULL CHECK (position >= 0),
    completed_at_ms  bigint  NOT NULL CHECK (completed_at_ms >= 0),
    PRIMARY KEY (user_id, course_id, position),
    FOREIGN KEY (user_id, course_id) REFERENCES progress (user_id, course_id) ON DELETE CASCADE
);

-- ---------------------------------------------------------------------------------------------
-- Jobs (before groups, which refer to their mass enrolment jobs).
-- ---------------------------------------------------------------------------------------------

-- sled tree `jobs` (`jobs.rs`, `JobRecord`). Shared by every server through the lease: a runner
-- takes a job with UPDATE ... SET lease_holder = $me, lease_until_ms = $now + LEASE_MS WHERE
-- id = $id AND (lease_holder IS NULL OR lease_until_ms <= $now OR lease_holder = $me), and
-- every step's transaction re-reads the row FOR UPDATE and writes nothing unless it still holds
-- the lease with the cursor it read. A dead server's job is taken over when its lease runs out.
-- Finished message-delivery jobs are deleted (as on sled); the others stay, done.
CREATE TABLE jobs (
    id              bigint  PRIMARY KEY CHECK (id >= 0),
    -- `JobKind`; `target_id` is its one id: the group (sweep_group, mass_enrol), course
    -- (course_deleted, lessons_added), curriculum, import or message. No foreign key: a job
    -- outlives what it is about (a sweep's group, a deleted course).
    kind            text    NOT NULL CHECK (kind IN (
                        'sweep_group', 'course_deleted', 'curriculum_deleted', 'lessons_added',
                        'mass_enrol', 'import_users', 'deliver_message')),
    target_id       bigint  NOT NULL CHECK (target_id >= 0),
    -- `JobKind::LessonsAdded.old_lessons`, in order (NULL for every other kind). An array, not
    -- a child table: written once with the job, read whole by its one step, never searched.
    old_lessons     bigint[] NULL CHECK ((kind = 'lessons_added') = (old_lessons IS NOT NULL)),
    -- `JobState`: pending, done, or failed with `failure` (its reason).
    state           text    NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    failure         text    NULL CHECK ((state = 'failed') = (failure IS NOT NULL)),
    -- Where the next step starts (its meaning is the kind's: a user id, a row index); 0 = the
    -- beginning.
    cursor          bigint  NOT NULL CHECK (cursor >= 0),
    done            bigint  NOT NULL CHECK (done >= 0),
    total           bigint  NOT NULL CHECK (total >= 0),
    -- `JobCounts`.
    enrolled          bigint NOT NULL CHECK (enrolled >= 0),
    already           bigint NOT NULL CHECK (already >= 0),
    skipped_archived  bigint NOT NULL CHECK (skipped_archived >= 0),
    skipped_inactive  bigint NOT NULL CHECK (skipped_inactive >= 0),
    failed            bigint NOT NULL CHECK (failed >= 0),
    -- `JobRecord.failures`: the first few reasons (at most 20), in order. An array for the
    -- same reason as old_lessons: shown whole on the job's page, never searched.
    failures        text[]  NOT NULL DEFAULT '{}',
    -- 0 = Tessera itself, hence no foreign key.
    started_by      bigint  NOT NULL CHECK (started_by >= 0),
    created_at_ms   bigint  NOT NULL CHECK (created_at_ms >= 0),
    finished_at_ms  bigint  NULL CHECK (finished_at_ms >= 0),
    -- `JobRecord.lease` (`Lease`): the runner's random u64 id, stored as `u64 as i64` (any
    -- sign), and until when it holds the job. Both NULL: held by nobody.
    lease_holder    bigint  NULL,
    lease_until_ms  bigint  NULL CHECK (lease_until_ms >= 0),
    CHECK ((lease_holder IS NULL) = (lease_until_ms IS NULL))
);
-- pending_jobs (sled scans `jobs`; here only the pending ones are indexed).
CREATE INDEX jobs_pending ON jobs (id) WHERE state = 'pending';

-- ---------------------------------------------------------------------------------------------
-- Groups.
-- ---------------------------------------------------------------------------------------------

-- sled tree `groups` (`groups/records.rs`, `GroupRecord` with its `KeyRecord` inline as key_*
-- columns); `group_name`, `group_key`, `group_by_members` and `meta` `default_group` are
-- indexes on it.
--
-- Deleting a group is a tombstone, then a sweep: delete_group sets `deleted_at_ms` (and clears
-- `branch_id`, `is_default` and the key) in one small transaction; the partial indexes below
-- leave tombstones out, so the group is gone from every list and lookup at once and its name
-- and key are free again. Its SweepGroup job then deletes its memberships and managers in
-- bounded batches and deletes the row last. Deleting the row at once is what sled does, but a
-- foreign key from `group_members` would then either cascade over every membership in that
-- one transaction (100,000 rows: the long transaction the job exists to avoid) or refuse the
-- delete; dropping the foreign key would lose the integrity it gives. Every read of a group
-- says `deleted_at_ms IS NULL` (get_group of a tombstone is None, as on sled); the
-- `live_groups` view below does it for the Rust side.
CREATE TABLE groups (
    id                       bigint  PRIMARY KEY CHECK (id >= 0),
    name                     text    NOT NULL,
    -- codec::fold(name); sled `group_name` key.
    name_folded              text    COLLATE "C" NOT NULL,
    description              text    NOT NULL,
    branch_id                bigint  NULL REFERENCES branches (id) ON DELETE RESTRICT,
    -- KeyRecord.key: the key as typed (trimmed), NULL = no key.
    key                      text    NULL,
    -- model::group::fold_key(key) (trim incl. zero-width, UPPER case); sled `group_key` key.
    key_folded               text    COLLATE "C" NULL,
    -- KeyRecord.max_uses: u32, 0 = unlimited.
    key_max_uses             bigint  NOT NULL CHECK (key_max_uses BETWEEN 0 AND 4294967295),
    -- First and last valid day (ms at 00:00 UTC), inclusive.
    key_valid_from_ms        bigint  NULL CHECK (key_valid_from_ms >= 0),
    key_valid_until_ms       bigint  NULL CHECK (key_valid_until_ms >= 0),
    key_enabled              boolean NOT NULL,
    -- Memberships the current key created (u32): the redemption limit is checked and this
    -- bumped in the redeeming transaction (SELECT ... FOR UPDATE of this row).
    key_uses                 bigint  NOT NULL CHECK (key_uses BETWEEN 0 AND 4294967295),
    is_default               boolean NOT NULL,
    -- Totals kept in the group's row (the record's fields), changed with what they count.
    members                  bigint  NOT NULL CHECK (members >= 0),
    courses                  bigint  NOT NULL CHECK (courses BETWEEN 0 AND 4294967295),
    curricula                bigint  NOT NULL CHECK (curricula BETWEEN 0 AND 4294967295),
    created_at_ms            bigint  NOT NULL CHECK (created_at_ms >= 0),
    managers_regenerate_key  boolean NOT NULL,
    -- sled `meta` `mass_enrol/<group>`: the group's running mass enrolment (at most one), and
    -- `last_mass_enrol/<group>`: its latest (shown on the group page).
    mass_enrol_running       bigint  NULL REFERENCES jobs (id) ON DELETE SET NULL,
    mass_enrol_last          bigint  NULL REFERENCES jobs (id) ON DELETE SET NULL,
    -- Not a record field: set when the group is deleted, until its sweep deletes the row.
    deleted_at_ms            bigint  NULL CHECK (deleted_at_ms >= 0),
    CHECK ((key IS NULL) = (key_folded IS NULL)),
    CHECK (deleted_at_ms IS NULL OR (branch_id IS NULL AND NOT is_default AND key IS NULL))
);
-- group_name: unique names among live groups, and the groups list sorted by name (paged by
-- keyset: name_folded > $last, or by OFFSET as sled skips).
CREATE UNIQUE INDEX groups_name_folded ON groups (name_folded) WHERE deleted_at_ms IS NULL;
-- group_key: keys are unique across groups; key_owner / redeem_key look the group up by it.
CREATE UNIQUE INDEX groups_key_folded ON groups (key_folded) WHERE key_folded IS NOT NULL;
-- meta default_group: at most one default group.
CREATE UNIQUE INDEX groups_default ON groups (is_default) WHERE is_default;
-- group_by_members: the groups list sorted by member count (ties by id).
CREATE INDEX groups_by_members ON groups (members, id) WHERE deleted_at_ms IS NULL;
-- The list sorted by creation is the primary key (ids increase); this partial copy skips
-- tombstones without reading them.
CREATE INDEX groups_live ON groups (id) WHERE deleted_at_ms IS NULL;
-- count/branch_groups/<b>: a branch's groups (delete_branch refuses while there are any).
CREATE INDEX groups_branch ON groups (branch_id) WHERE branch_id IS NOT NULL;
-- The sweep finds tombstones left by a crash (their job is in `jobs` anyway).
CREATE INDEX groups_deleted ON groups (id) WHERE deleted_at_ms IS NOT NULL;

-- Live groups: what get_group, the lists and every join by group read.
CREATE VIEW live_groups AS SELECT * FROM groups WHERE deleted_at_ms IS NULL;

-- sled tree `group_suffix`: each suffix of the folded name, cut to SUFFIX_MAX (32) characters
-- (`groups::suffixes`, computed by the Rust side). The groups search matches any part of the
-- name: a query (cut to 32 characters) is a prefix of one of the name's suffixes exactly when
-- it occurs in the name, so starts_with(suffix, $q) over this primary key finds the matching
-- groups at the cost of the matches (up to MATCH_CAP), never of all groups: sled's results,
-- including for 1- and 2-character queries, and no extension. (pg_trgm's GIN index would find
-- the same groups through `name_folded LIKE '%q%'` with a smaller index, but it cannot use
-- trigrams for queries under 3 characters, where it reads the whole index, and it is a contrib
-- extension to install.) Deleted with the tombstone, so a deleted group is never found.
CREATE TABLE group_suffixes (
    suffix    text   COLLATE "C" NOT NULL,
    group_id  bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (suffix, group_id)
);
CREATE INDEX group_suffixes_group ON group_suffixes (group_id);

-- sled tree `group_members` (`MemberRecord`): group id ++ user id; sled's `user_groups` is
-- `group_members_user`. Swept in batches after the group's tombstone (see `groups`), so the
-- CASCADE only ever meets what is left when the sweep deletes the group row: nothing.
CREATE TABLE group_members (
    group_id      bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id       bigint NOT NULL REFERENCES users (id),
    joined_at_ms  bigint NOT NULL CHECK (joined_at_ms >= 0),
    -- `JoinedVia`.
    how           text   NOT NULL CHECK (how IN ('manual', 'key', 'default', 'import', 'bulk')),
    PRIMARY KEY (group_id, user_id)
);
-- user_groups: groups_of_user, and a user's memberships when enrolling or removing.
CREATE INDEX group_members_user ON group_members (user_id, group_id);

-- sled trees `group_managers` / `manager_groups`: group id ++ user id, and the reverse.
-- Swept with the memberships.
CREATE TABLE group_managers (
    group_id  bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id   bigint NOT NULL REFERENCES users (id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_managers_user ON group_managers (user_id, group_id);

-- sled tree `group_links` (`GroupLinksRecord.courses`, in the order attached) and its reverse
-- `course_groups`. No foreign key to `courses`: as on sled, delete_course removes the course
-- at once and its CourseDeleted job detaches it from the groups later (lowering each group's
-- `courses`), in bounded steps; a foreign key would force all of that into the delete's own
-- transaction. Readers join `courses` and leave out a course deleted meanwhile, as sled does.
-- Deleted with the group's tombstone (a group delete removes its links at once on sled too).
CREATE TABLE group_courses (
    group_id   bigint  NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    course_id  bigint  NOT NULL CHECK (course_id >= 0),
    position   integer NOT NULL CHECK (position >= 0),
    PRIMARY KEY (group_id, course_id),
    CONSTRAINT group_courses_order UNIQUE (group_id, position) DEFERRABLE INITIALLY DEFERRED
);
-- course_groups: the groups giving a course (detaching a deleted course).
CREATE INDEX group_courses_course ON group_courses (course_id, group_id);

-- `GroupLinksRecord.curricula` and sled's `curriculum_groups`; as `group_courses`.
CREATE TABLE group_curricula (
    group_id       bigint  NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    curriculum_id  bigint  NOT NULL CHECK (curriculum_id >= 0),
    position       integer NOT NULL CHECK (position >= 0),
    PRIMARY KEY (group_id, curriculum_id),
    CONSTRAINT group_curricula_order UNIQUE (group_id, position) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX group_curricula_curriculum ON group_curricula (curriculum_id, group_id);

-- sled tree `bulk_results` (`BulkResultRecord`): group id ++ administrator id -> that
-- administrator's last bulk add to the group; its rows in `bulk_result_rows`. Swept with the
-- group.
CREATE TABLE bulk_results (
    group_id  bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id   bigint NOT NULL REFERENCES users (id),
    added     bigint NOT NULL CHECK (added BETWEEN 0 AND 4294967295),
    already   bigint NOT NULL CHECK (already BETWEEN 0 AND 4294967295),
    unknown   bigint NOT NULL CHECK (unknown BETWEEN 0 AND 4294967295),
    invalid   bigint NOT NULL CHECK (invalid BETWEEN 0 AND 4294967295),
    PRIMARY KEY (group_id, user_id)
);

-- `BulkResultRecord.rows` (`BulkRowRecord`), in order; `outcome` is `BulkOutcomeRecord`, with
-- `reason` the text of `Invalid(reason)`.
CREATE TABLE bulk_result_rows (
    group_id  bigint  NOT NULL,
    user_id   bigint  NOT NULL,
    position  integer NOT NULL CHECK (position >= 0),
    line      bigint  NOT NULL CHECK (line BETWEEN 0 AND 4294967295),
    input     text    NOT NULL,
    outcome   text    NOT NULL CHECK (outcome IN ('added', 'already_member', 'unknown_user', 'invalid')),
    reason    text    NULL CHECK ((outcome = 'invalid') = (reason IS NOT NULL)),
    PRIMARY KEY (group_id, user_id, position),
    FOREIGN KEY (group_id, user_id) REFERENCES bulk_results (group_id, user_id) ON DELETE CASCADE
);

-- sled tree `key_redemptions` (`groups/keys.rs`, `RedemptionRecord`): group id ++ event id ->
-- who joined with the key. Kept after the group is deleted (sled's sweep leaves them), so no
-- foreign key to `groups`. The primary key serves the group's page of redemptions, newest
-- first, and its total (count(*) over the group's part of it).
CREATE TABLE key_redemptions (
    group_id  bigint NOT NULL CHECK (group_id >= 0),
    event_id  bigint NOT NULL CHECK (event_id >= 0),
    user_id   bigint NOT NULL REFERENCES users (id),
    -- The key as it was set on the group then.
    key       text   NOT NULL,
    at_ms     bigint NOT NULL CHECK (at_ms >= 0),
    -- The client's address, when known.
    client    text   NULL,
    PRIMARY KEY (group_id, event_id)
);

-- sled tree `audit` (`AuditRecord`): group id ++ event id, with `audit_index` as the indexes
-- below. Every event names a group and is kept after the group is deleted: no foreign key to
-- `groups`. `actor` 0 is Tessera itself (or a visitor without an account): no foreign key to
-- `users` either. Written in the transaction of the change it records.
CREATE TABLE audit (
    event_id  bigint PRIMARY KEY CHECK (event_id >= 0),
    group_id  bigint NOT NULL CHECK (group_id >= 0),
    at_ms     bigint NOT NULL CHECK (at_ms >= 0),
    actor     bigint NOT NULL CHECK (actor >= 0),
    -- `AuditKind`.
    action    text   NOT NULL CHECK (action IN (
                  'group_created', 'group_changed', 'group_deleted', 'members_added',
                  'members_removed', 'default_changed', 'courses_changed', 'managers_changed',
                  'key_redeemed', 'key_refused', 'mass_enrolment', 'message_sent')),
    -- Free text written for people (names, counts), not a structure: text, not jsonb.
    detail    text   NOT NULL
);
-- The group's trail (sled `audit` key order: group ++ event).
CREATE INDEX audit_group ON audit (group_id, event_id);
-- audit_index family `T`: every event by time (the Activity page; a kind is a filter on it).
CREATE INDEX audit_time ON audit (at_ms, event_id);
-- audit_index family `A`: one actor's events by time.
CREATE INDEX audit_actor ON audit (actor, at_ms, event_id);

-- ---------------------------------------------------------------------------------------------
-- Imports and set-password tokens.
-- ---------------------------------------------------------------------------------------------

-- sled tree `imports` (`imports.rs`, `ImportRecord`, its `StoredCounts` as count_* columns).
CREATE TABLE imports (
    id                   bigint PRIMARY KEY CHECK (id >= 0),
    -- Who uploaded it, by id and by login (kept in the row, as on sled, which names the
    -- uploader by both and checks neither): no foreign key, like `jobs.started_by`.
    by_user              bigint NOT NULL CHECK (by_user >= 0),
    by_login             text   NOT NULL,
    file_name            text   NOT NULL,
    created_at_ms        bigint NOT NULL CHECK (created_at_ms >= 0),
    -- `StoredImportState`.
    state                text   NOT NULL CHECK (state IN ('preview', 'applying', 'done', 'discarded', 'failed')),
    rows                 bigint NOT NULL CHECK (rows >= 0),
    done                 bigint NOT NULL CHECK (done >= 0),
    count_create         bigint NOT NULL CHECK (count_create >= 0),
    count_exists         bigint NOT NULL CHECK (count_exists >= 0),
    count_invalid        bigint NOT NULL CHECK (count_invalid >= 0),
    count_created        bigint NOT NULL CHECK (count_created >= 0),
    count_failed         bigint NOT NULL CHECK (count_failed >= 0),
    finished_at_ms       bigint NULL CHECK (finished_at_ms >= 0),
    links_expire_at_ms   bigint NULL CHECK (links_expire_at_ms >= 0),
    failure              text   NULL
);
-- recent_imports is the primary key walked backwards (ids increase).

-- sled tree `import_rows` (`ImportRowRecord`): import id ++ row index. discard_import deletes
-- the rows with the import (CASCADE), as sled does.
CREATE TABLE import_rows (
    import_id      bigint NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    row_index      bigint NOT NULL CHECK (row_index >= 0),
    line           bigint NOT NULL CHECK (line BETWEEN 0 AND 4294967295),
    login          text   NOT NULL,
    email          text   NOT NULL,
    display_name   text   NOT NULL,
    role           text   NOT NULL,
    -- The group names as the row wrote them, and the groups found at the preview. Arrays, not
    -- child tables: the row's cells as uploaded, written once at the preview and read whole
    -- with the row; the ids are not foreign keys (a group may be deleted before the apply,
    -- which then reports it, as on sled).
    groups         text[]   NOT NULL,
    group_ids      bigint[] NOT NULL,
    -- PHC hash of the password the row gave (never the password).
    hash           text   NULL,
    -- `StoredOutcome`: `invalid` has outcome_field and outcome_message, `failed` has
    -- outcome_message, `created` has created_user and maybe token (the set-password link's
    -- secret, kept here only, for the administrator to hand out, as on sled).
    outcome          text   NOT NULL CHECK (outcome IN (
                         'create', 'exists_login', 'exists_email', 'invalid', 'created', 'failed')),
    outcome_field    text   NULL CHECK ((outcome = 'invalid') = (outcome_field IS NOT NULL)),
    outcome_message  text   NULL CHECK ((outcome IN ('invalid', 'failed')) = (outcome_message IS NOT NULL)),
    created_user     bigint NULL REFERENCES users (id),
    token            text   NULL,
    CHECK ((outcome = 'created') = (created_user IS NOT NULL)),
    CHECK (token IS NULL OR outcome = 'created'),
    PRIMARY KEY (import_id, row_index)
);
-- import_rows_page with a `show` filter: the rows of one outcome, in order, and their count.
CREATE INDEX import_rows_outcome ON import_rows (import_id, outcome, row_index);

-- sled tree `password_tokens` (`TokenRecord`): BLAKE2b-256 of a set-password token -> its user.
CREATE TABLE password_tokens (
    key_hash       bytea  PRIMARY KEY CHECK (octet_length(key_hash) = 32),
    user_id        bigint NOT NULL REFERENCES users (id),
    expires_at_ms  bigint NOT NULL CHECK (expires_at_ms >= 0),
    -- The user's auth epoch when it was made (u32).
    epoch          bigint NOT NULL CHECK (epoch BETWEEN 0 AND 4294967295)
);

-- ---------------------------------------------------------------------------------------------
-- Messages, inboxes, the e-mail outbox.
-- ---------------------------------------------------------------------------------------------

-- sled trees `messages` (`MessageRecord`) and `message_bodies` (`BodyRecord`, kept apart so
-- lists never read it: here a TOASTed column lists simply do not select, but it stays a table
-- of its own to mirror the record). `group_messages` is `messages_group`. Messages are never
-- deleted; their group may be (the names are kept in the row), so no foreign key to `groups`.
CREATE TABLE messages (
    id            bigint  PRIMARY KEY CHECK (id >= 0),
    group_id      bigint  NOT NULL CHECK (group_id >= 0),
    group_name    text    NOT NULL,
    sender        bigint  NOT NULL REFERENCES users (id),
    sender_name   text    NOT NULL,
    subject       text    NOT NULL,
    sent_at_ms    bigint  NOT NULL CHECK (sent_at_ms >= 0),
    -- Members when it was sent.
    recipients    bigint  NOT NULL CHECK (recipients >= 0),
    -- Whether members are mailed too.
    mail          boolean NOT NULL,
    -- Still being delivered by its job.
    delivering    boolean NOT NULL,
    -- sled `meta` `count/msg/<id>/delivered|queued|sent|failed` (not record fields): inbox
    -- entries made, e-mails waiting, sent, failed for good. Changed by the delivery job's
    -- steps and by settle_mail, in their transactions.
    delivered     bigint  NOT NULL DEFAULT 0 CHECK (delivered >= 0),
    mail_queued   bigint  NOT NULL DEFAULT 0 CHECK (mail_queued >= 0),
    mail_sent     bigint  NOT NULL DEFAULT 0 CHECK (mail_sent >= 0),
    mail_failed   bigint  NOT NULL DEFAULT 0 CHECK (mail_failed >= 0)
);
-- group_messages: a group's sent list (newest first) and its count.
CREATE INDEX messages_group ON messages (group_id, id);
-- mail_waiting: the sum of mail_queued over the messages with mail still waiting (few).
CREATE INDEX messages_mail_queued ON messages (id) WHERE mail_queued > 0;

CREATE TABLE message_bodies (
    message_id  bigint PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    body        text   NOT NULL
);

-- sled tree `inbox` (`InboxRecord`): user id ++ message id -> read or not. The primary key is a
-- user's inbox (newest first: walked backwards) and its size.
CREATE TABLE inbox (
    user_id     bigint  NOT NULL REFERENCES users (id),
    message_id  bigint  NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    read        boolean NOT NULL,
    PRIMARY KEY (user_id, message_id)
);
-- count/unread/<user>: a user's unread messages (the badge on every page).
CREATE INDEX inbox_unread ON inbox (user_id, message_id) WHERE NOT read;

-- sled tree `outbox` (`OutboxRecord`): e-mails waiting, keyed on sled by due time ++ message ++
-- user; here the pair is the key and the due time an indexed column. Shared by every server:
-- take_mail moves `due_ms` to now + MAIL_LEASE_MS and sets `lease_holder` in one UPDATE ...
-- WHERE message_id = $m AND user_id = $u AND due_ms = $seen (the due time the mailer saw is
-- its compare-and-swap, as sled's key is); so `due_ms` of a taken mail is its lease's expiry,
-- and a mailer that dies leaves it due again then. settle_mail checks the same pair and due
-- time. (`DueMail.key` is then the row's (due_ms, message_id, user_id).) Mailers may read due
-- rows with FOR UPDATE SKIP LOCKED to not contend.
CREATE TABLE outbox (
    message_id    bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id       bigint NOT NULL REFERENCES users (id),
    due_ms        bigint NOT NULL CHECK (due_ms >= 0),
    -- Who took it last (a runner id, `u64 as i64`); NULL when never taken. Informational: the
    -- lease is `due_ms`.
    lease_holder  bigint NULL,
    -- The address and name when the message was delivered.
    "to"          text   NOT NULL,
    name          text   NOT NULL,
    queued_at_ms  bigint NOT NULL CHECK (queued_at_ms >= 0),
    attempts      bigint NOT NULL CHECK (attempts BETWEEN 0 AND 4294967295),
    last_error    text   NOT NULL,
    PRIMARY KEY (message_id, user_id)
);
-- due_mail / next_mail_due: the first due first (sled's key order).
CREATE INDEX outbox_due ON outbox (due_ms, message_id, user_id);

-- ---------------------------------------------------------------------------------------------
-- Comments visible in the database itself (psql \d+), for whoever administers it.
-- ---------------------------------------------------------------------------------------------
COMMENT ON SEQUENCE ids IS 'Tessera Core::new_id: one increasing id space for every record kind; setval to a backup''s id_mark on restore';
COMMENT ON TABLE totals IS 'List totals as 16 slot rows each (sum them); no single hot counter row';
COMMENT ON TABLE groups IS 'GroupRecord; deleted_at_ms marks a deleted group until its sweep job deletes the row';
COMMENT ON TABLE throttles IS 'Shared login / sign-up / group-key throttles: GCRA theoretical arrival time per bucket';
