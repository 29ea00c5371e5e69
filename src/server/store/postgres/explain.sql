-- The list pages' queries on a school of 100,000 users and 10,000 groups, with their plans:
-- each must read an index (Index Scan / Index Only Scan / Bitmap Index Scan on a bounded
-- range), never a Seq Scan of a big table.
--
-- Run it against a NEW, EMPTY database that has only the schema (it fills it with synthetic
-- rows), for example on a throwaway cluster (see the toolchain notes on PostgreSQL):
--
--   createdb -h 127.0.0.1 -p PORT tessera_explain
--   psql -h 127.0.0.1 -p PORT -U postgres -d tessera_explain -v ON_ERROR_STOP=1 \
--        -f src/server/store/postgres/migrations/V1__schema.sql
--   psql -h 127.0.0.1 -p PORT -U postgres -d tessera_explain -v ON_ERROR_STOP=1 \
--        -f src/server/store/postgres/explain.sql
--
-- The synthetic rows fold and split names as the Rust side does (`codec::fold`,
-- `search::terms`, `groups::suffixes`) for ASCII text, where lower(trim(...)) is the same.
-- Loading takes about a minute on a small machine. The queries are the ones the PostgreSQL
-- backend is to send (parameters written in).

\set ON_ERROR_STOP 1
\timing off
SELECT setseed(0.42);

-- 100,000 users: login user000001.., e-mail, a display name of two words from small lists.
INSERT INTO users (id, login, login_folded, email, email_folded, display_name, role, active,
                   created_at_ms, auth_epoch)
SELECT 1000000 + n,
       'user' || lpad(n::text, 6, '0'),
       'user' || lpad(n::text, 6, '0'),
       'User' || lpad(n::text, 6, '0') || '@School.example',
       'user' || lpad(n::text, 6, '0') || '@school.example',
       (ARRAY['Ada','Alan','Grace','Edsger','Barbara','Donald','Frances','John','Margaret','Ken',
              'Radia','Niklaus','Sophie','Tim','Katherine','Dennis'])[1 + n % 16] || ' ' ||
       (ARRAY['Lovelace','Turing','Hopper','Dijkstra','Liskov','Knuth','Allen','Backus',
              'Hamilton','Thompson','Perlman','Wirth','Wilson','Berners-Lee','Johnson',
              'Ritchie','Moore','Baker','Clarke','Evans'])[1 + (n / 16) % 20] || ' ' || (n % 997),
       CASE WHEN n <= 5 THEN 'admin' ELSE 'learner' END,
       true,
       1700000000000 + n * 1000,
       0
FROM generate_series(1, 100000) AS n;

INSERT INTO user_secrets (user_id, password_hash) SELECT id, '!unset' FROM users;

-- search::terms(login, email, display name): each folded whole, and each word.
INSERT INTO user_terms (term, user_id)
SELECT DISTINCT t, id FROM (
    SELECT id, lower(trim(f)) AS whole FROM users, LATERAL unnest(ARRAY[login, email, display_name]) AS f
) fields, LATERAL (SELECT whole UNION SELECT regexp_split_to_table(whole, '\s+')) AS w(t)
WHERE t <> '';

UPDATE totals SET n = (SELECT count(*) FROM users WHERE id % 16 = slot) WHERE name = 'users';

-- 200 courses, codes C0001.., 10 lessons each.
INSERT INTO courses (id, code, code_folded, title, description, archived, created_at_ms)
SELECT 100 + n, 'C' || lpad(n::text, 4, '0'), 'c' || lpad(n::text, 4, '0'),
       (ARRAY['Algebra','Biology','Chemistry','Drawing','English','French','Geography',
              'History'])[1 + n % 8] || ' ' || n, '', false, 1690000000000
FROM generate_series(1, 200) AS n;
INSERT INTO course_lessons (id, course_id, position, title, text)
SELECT 10000 + c.id * 10 + p, c.id, p, 'Lesson ' || p, '' FROM courses c, generate_series(0, 9) AS p;

-- 10,000 groups, names such as "Year 7 Maths 00042", some in branches.
INSERT INTO branches (id, name, name_folded, description, parent, created_at_ms)
SELECT 50 + n, 'Branch ' || n, 'branch ' || n, '', NULL, 1690000000000 FROM generate_series(1, 20) AS n;
INSERT INTO groups (id, name, name_folded, description, branch_id, key, key_folded, key_max_uses,
                    key_valid_from_ms, key_valid_until_ms, key_enabled, key_uses, is_default,
                    members, courses, curricula, created_at_ms, managers_regenerate_key)
SELECT 200000 + n, nm, lower(nm), '', CASE WHEN n % 3 = 0 THEN 50 + 1 + n % 20 END,
       'KEY-' || lpad(n::text, 5, '0') || '-X', 'KEY-' || lpad(n::text, 5, '0') || '-X', 0,
       NULL, NULL, true, 0, n = 1, 0, 0, 0, 1695000000000 + n, false
FROM (SELECT n, 'Year ' || (7 + n % 6) || ' ' ||
             (ARRAY['Maths','Physics','Art','Music','Spanish','Drama','Computing','Economics',
                    'Latin','Sport'])[1 + (n / 6) % 10] || ' ' || lpad(n::text, 5, '0') AS nm
      FROM generate_series(1, 10000) AS n) g;

-- groups::suffixes(name): each suffix of the folded name, cut to 32 characters.
INSERT INTO group_suffixes (suffix, group_id)
SELECT DISTINCT substr(name_folded, i, 32), id
FROM groups, LATERAL generate_series(1, length(name_folded)) AS i;

UPDATE totals SET n = (SELECT count(*) FROM groups WHERE id % 16 = slot) WHERE name = 'groups';

-- Memberships: everyone in the default group (200001, 100,000 members), and each user in two
-- class groups (about 20 members each).
INSERT INTO group_members (group_id, user_id, joined_at_ms, how)
SELECT 200001, id, 1700000000000, 'default' FROM users;
INSERT INTO group_members (group_id, user_id, joined_at_ms, how)
SELECT DISTINCT 200002 + (u.id * k) % 9999, u.id, 1700000000000, 'key'
FROM users u, (VALUES (7), (13)) AS m(k);
UPDATE groups g SET members = m.c FROM (SELECT group_id, count(*) AS c FROM group_members GROUP BY group_id) m
WHERE g.id = m.group_id;

-- Each group gives two courses; each user is enrolled in three.
INSERT INTO group_courses (group_id, course_id, position)
SELECT g.id, 101 + (g.id + p * 37) % 200, p FROM groups g, generate_series(0, 1) AS p;
UPDATE groups SET courses = 2;
INSERT INTO enrolments (user_id, course_id, enrolled_at_ms)
SELECT DISTINCT u.id, 101 + (u.id * k) % 200, 1700000000000
FROM users u, (VALUES (3), (11), (17)) AS m(k);
INSERT INTO enrolment_sources (user_id, course_id, position, kind, ref_id)
SELECT user_id, course_id, 0, 'manual', NULL FROM enrolments;
UPDATE courses c SET enrolled = e.c FROM (SELECT course_id, count(*) AS c FROM enrolments GROUP BY course_id) e
WHERE c.id = e.course_id;

VACUUM ANALYZE;

\echo
\echo '== sizes'
SELECT relname, n_live_tup FROM pg_stat_user_tables
WHERE relname IN ('users', 'user_terms', 'groups', 'group_suffixes', 'group_members', 'enrolments')
ORDER BY relname;
SELECT pg_size_pretty(pg_total_relation_size('group_suffixes')) AS group_suffixes_size,
       pg_size_pretty(pg_total_relation_size('user_terms')) AS user_terms_size;

\echo
\echo '== groups list, by name, first page (the total from totals)'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT id, name, branch_id, members, courses, curricula, key_uses, key_max_uses, is_default
FROM groups WHERE deleted_at_ms IS NULL
ORDER BY name_folded LIMIT 20;

EXPLAIN (ANALYZE, COSTS OFF)
SELECT sum(n) FROM totals WHERE name = 'groups';

\echo
\echo '== groups list, by name, a later page by cursor (after the last name shown)'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT id, name, members FROM groups
WHERE deleted_at_ms IS NULL AND name_folded > 'year 10 music 05000'
ORDER BY name_folded LIMIT 20;

\echo
\echo '== groups list, by name, page 50 by OFFSET (as sled skips): the index, 1,000 entries walked'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT id, name, members FROM groups WHERE deleted_at_ms IS NULL
ORDER BY name_folded LIMIT 20 OFFSET 980;

\echo '   page 400 by OFFSET: so deep into 10,000 groups the planner reads the table and sorts'
\echo '   (about 10 ms); pages after the first go by cursor, as above, to stay bounded'
-- may scan: a deep OFFSET page, shown for what it costs (the test of these plans knows it)
EXPLAIN (ANALYZE, COSTS OFF)
SELECT id, name, members FROM groups WHERE deleted_at_ms IS NULL
ORDER BY name_folded LIMIT 20 OFFSET 7980;

\echo
\echo '== groups list, by members, descending'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT id, name, members FROM groups WHERE deleted_at_ms IS NULL
ORDER BY members DESC, id DESC LIMIT 20;

\echo
\echo '== groups search "physics 000": the matching ids from the suffix index (in index order,'
\echo '   deduplicated by the caller up to MATCH_CAP + 1), then the page of those, by name'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT group_id FROM group_suffixes
WHERE starts_with(suffix, 'physics 000')
ORDER BY suffix, group_id LIMIT 5000;

EXPLAIN (ANALYZE, COSTS OFF)
SELECT id, name, members FROM groups
WHERE deleted_at_ms IS NULL
  AND id = ANY(ARRAY(SELECT group_id FROM group_suffixes WHERE starts_with(suffix, 'physics 000')))
ORDER BY name_folded, id LIMIT 20 OFFSET 0;

\echo
\echo '== groups search too common to collect ("year", > MATCH_CAP matches): the name index'
\echo '   walked in order and filtered, as sled walks it'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT id, name, members FROM groups
WHERE deleted_at_ms IS NULL AND strpos(name_folded, 'year') > 0
ORDER BY name_folded LIMIT 20 OFFSET 20;

\echo
\echo '== users list without a query (login order) and its total'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT id, login, email, display_name, role, active FROM users
ORDER BY login_folded LIMIT 20 OFFSET 40;

EXPLAIN (ANALYZE, COSTS OFF)
SELECT sum(n) FROM totals WHERE name = 'users';

\echo '   (for comparison, what count(*) of all users costs on every page)'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT count(*) FROM users;

\echo
\echo '== users search "hopp": matching ids in term order, each at its first term; total up to'
\echo '   TOTAL_CAP (1,000)'
-- The raw rows are bounded (5,000: a user has a few terms starting with one query, so this
-- covers TOTAL_CAP users; a caller that must be exact streams the range in batches and stops
-- at TOTAL_CAP distinct users, as sled does). The page's ids are chosen before users is read,
-- so users is read by primary key, 20 rows.
EXPLAIN (ANALYZE, COSTS OFF)
WITH hits AS (
    SELECT term, user_id FROM user_terms
    WHERE starts_with(term, 'hopp')
    ORDER BY term, user_id LIMIT 5000
), page AS MATERIALIZED (
    SELECT user_id, min(term) AS first FROM hits GROUP BY user_id
    ORDER BY first, user_id LIMIT 20 OFFSET 0
)
SELECT u.id, u.login, u.display_name FROM page p JOIN users u ON u.id = p.user_id
ORDER BY p.first, p.user_id;

EXPLAIN (ANALYZE, COSTS OFF)
SELECT count(*) FROM (
    SELECT DISTINCT user_id FROM (
        SELECT user_id FROM user_terms WHERE starts_with(term, 'hopp')
        ORDER BY term, user_id LIMIT 5000) h
    LIMIT 1000) c;

\echo
\echo '== log-in lookup by folded login or e-mail; group key lookup'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT u.id, s.password_hash FROM users u JOIN user_secrets s ON s.user_id = u.id
WHERE u.login_folded = 'user054321' OR u.email_folded = 'user054321';

EXPLAIN (ANALYZE, COSTS OFF)
SELECT id, key_uses, key_max_uses FROM groups WHERE key_folded = 'KEY-04242-X' FOR UPDATE;

\echo
\echo '== a group''s members page: the default group (100,000 members), by user id, by cursor'
-- The page's memberships first (MATERIALIZED: otherwise the planner may merge-join along
-- users' primary key from its start), then their users by primary key.
EXPLAIN (ANALYZE, COSTS OFF)
WITH page AS MATERIALIZED (
    SELECT user_id, joined_at_ms, how FROM group_members
    WHERE group_id = 200001 AND user_id > 1050000 ORDER BY user_id LIMIT 20)
SELECT p.user_id, p.joined_at_ms, p.how, u.login, u.display_name
FROM page p JOIN users u ON u.id = p.user_id ORDER BY p.user_id;

\echo '   (its total is groups.members)'
\echo
\echo '== a group''s members search "grace" in the default group: user terms, then each one''s'
\echo '   membership by primary key'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT t.user_id, min(t.term) AS first
FROM (SELECT term, user_id FROM user_terms WHERE starts_with(term, 'grace')
      ORDER BY term, user_id LIMIT 5000) t
JOIN group_members m ON m.group_id = 200001 AND m.user_id = t.user_id
GROUP BY t.user_id ORDER BY first, t.user_id LIMIT 20;

\echo
\echo '== a user''s groups, and a user''s enrolments with their courses'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT g.id, g.name FROM group_members m JOIN groups g ON g.id = m.group_id
WHERE m.user_id = 1054321 AND g.deleted_at_ms IS NULL;

-- (courses has 200 rows here: the planner reads it whole, as it should for so small a table.)
EXPLAIN (ANALYZE, COSTS OFF)
SELECT e.course_id, e.enrolled_at_ms, c.code, c.title, c.archived
FROM enrolments e JOIN courses c ON c.id = e.course_id
WHERE e.user_id = 1054321 ORDER BY e.course_id;

EXPLAIN (ANALYZE, COSTS OFF)
SELECT user_id, course_id, position, kind, ref_id FROM enrolment_sources
WHERE user_id = 1054321 ORDER BY course_id, position;

\echo
\echo '== a course''s learners page (course_users)'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT user_id FROM enrolments WHERE course_id = 150 AND user_id > 0 ORDER BY user_id LIMIT 20;

\echo
\echo '== messages: 20 messages to the default group delivered to all 100,000 members (2,000,000'
\echo '   inbox rows, a tenth read), 5,000 to class groups; the last one mailed, its 100,000'
\echo '   e-mails waiting in the outbox'
INSERT INTO messages (id, group_id, group_name, sender, sender_name, subject, sent_at_ms,
                      recipients, mail, delivering, delivered, mail_queued)
SELECT 3000000 + n, CASE WHEN n <= 20 THEN 200001 ELSE 200002 + n % 9999 END, 'Group', 1000001,
       'Ada', 'Subject ' || n, 1710000000000 + n * 1000, 20, n = 20, false, 20,
       CASE WHEN n = 20 THEN 100000 ELSE 0 END
FROM generate_series(1, 5020) AS n;
INSERT INTO message_bodies (message_id, body) SELECT id, 'Body' FROM messages;
INSERT INTO inbox (user_id, message_id, read)
SELECT u.id, 3000000 + n, (u.id + n) % 10 = 0 FROM users u, generate_series(1, 20) AS n;
INSERT INTO outbox (message_id, user_id, due_ms, "to", name, queued_at_ms, attempts, last_error)
SELECT 3000020, id, 1710000020000 + id % 1000, email, display_name, 1710000020000, 0, ''
FROM users;
ANALYZE messages;
ANALYZE message_bodies;
ANALYZE inbox;
ANALYZE outbox;

\echo
\echo '== a user''s unread count (the badge on every page) and inbox size'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT count(*) FROM inbox WHERE user_id = 1054321 AND NOT read AND message_id <> 9223372036854775807;
EXPLAIN (ANALYZE, COSTS OFF)
SELECT count(*) FROM inbox WHERE user_id = 1054321;

\echo
\echo '== a user''s inbox page, newest first'
EXPLAIN (ANALYZE, COSTS OFF)
WITH page AS MATERIALIZED (SELECT message_id, read FROM inbox
    WHERE user_id = 1054321 ORDER BY message_id DESC LIMIT 20 OFFSET 0)
SELECT p.message_id, p.read, m.subject, m.sender_name, m.group_name, m.sent_at_ms
FROM page p JOIN messages m ON m.id = p.message_id ORDER BY p.message_id DESC;

\echo
\echo '== a group''s sent messages page and its count'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT group_id, subject, id, delivered FROM messages WHERE group_id = 200001
ORDER BY id DESC LIMIT 20 OFFSET 0;
EXPLAIN (ANALYZE, COSTS OFF)
SELECT count(*) FROM messages WHERE group_id = 200001;

\echo
\echo '== the outbox: the mail due first, when the next is due, and how many wait'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT due_ms, message_id, user_id, "to", name FROM outbox WHERE due_ms <= 1710000020500
ORDER BY due_ms, message_id, user_id LIMIT 50;
EXPLAIN (ANALYZE, COSTS OFF)
SELECT min(due_ms) FROM outbox;
EXPLAIN (ANALYZE, COSTS OFF)
SELECT coalesce(sum(mail_queued), 0)::bigint FROM messages WHERE mail_queued > 0;

\echo
\echo '== a delivery step: the next 500 members of the default group after the cursor'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT user_id, joined_at_ms <= 1710000020000 FROM group_members
WHERE group_id = 200001 AND user_id >= 1050000 ORDER BY user_id LIMIT 500;

\echo
\echo '== the audit trail: 500,000 events over 10,000 groups, a year of them, by 1,000 people'
\echo '   and Tessera (actor 0)'
INSERT INTO audit (event_id, group_id, at_ms, actor, action, detail)
SELECT 5000000 + n, 200001 + (n * 7919) % 10000, 1690000000000 + n * 60000,
       CASE WHEN n % 5 = 0 THEN 0 ELSE 1000001 + n % 1000 END,
       (ARRAY['members_added','members_removed','group_changed','key_redeemed','key_refused',
              'courses_changed'])[1 + n % 6], 'Added someone'
FROM generate_series(1::bigint, 500000) AS n;
ANALYZE audit;

\echo
\echo '== Activity, first page (the portal reads the time index newest first; LIMIT: the budget)'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT event_id, group_id, at_ms, actor, action FROM audit
WHERE (at_ms, event_id) >= (0, 0) AND (at_ms, event_id) < (9223372036854775807, 9223372036854775807)
ORDER BY at_ms DESC, event_id DESC LIMIT 5000;

\echo
\echo '== Activity, an older page from a place, within dates'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT event_id, group_id, at_ms, actor, action FROM audit
WHERE (at_ms, event_id) >= (1700000000000, 0) AND (at_ms, event_id) < (1705000000000, 5250000)
ORDER BY at_ms DESC, event_id DESC LIMIT 5000;

\echo
\echo '== Activity, a newer page (oldest first from a place)'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT event_id, group_id, at_ms, actor, action FROM audit
WHERE (at_ms, event_id) >= (1705000000000, 5250000) AND (at_ms, event_id) < (9223372036854775807, 9223372036854775807)
ORDER BY at_ms, event_id LIMIT 5000;

\echo
\echo '== Activity of one person (the actor index)'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT event_id, group_id, at_ms, actor, action FROM audit
WHERE actor = 1000042 AND (at_ms, event_id) >= (0, 0) AND (at_ms, event_id) < (1705000000000, 5250000)
ORDER BY at_ms DESC, event_id DESC LIMIT 5000;

\echo
\echo '== Activity of one group: its size up to the budget, then its events of a kind, sorted'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT count(*) FROM (SELECT 1 FROM audit WHERE group_id = 204242 LIMIT 5001) e;
EXPLAIN (ANALYZE, COSTS OFF)
WITH trail AS MATERIALIZED (SELECT * FROM audit WHERE group_id = 204242)
SELECT event_id, group_id, at_ms, actor, action FROM trail
WHERE (at_ms, event_id) >= (0, 0) AND (at_ms, event_id) < (9223372036854775807, 9223372036854775807)
  AND action = 'key_refused'
ORDER BY at_ms DESC, event_id DESC LIMIT 51;

\echo
\echo '== the page''s rows with who did them and their group (one statement)'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT a.event_id, a.group_id, a.at_ms, a.actor, a.action, a.detail, u.login, g.name
FROM unnest(ARRAY[5400000, 5399999, 5399998]::bigint[]) WITH ORDINALITY AS p(id, n)
JOIN audit a ON a.event_id = p.id
LEFT JOIN users u ON u.id = a.actor AND a.actor <> 0
LEFT JOIN groups g ON g.id = a.group_id AND g.deleted_at_ms IS NULL
ORDER BY p.n;

\echo
\echo '== the CSV export, one batch of 1,000 of a kind (no budget: a walk, in keyset batches)'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT event_id, group_id, at_ms, actor, action FROM audit
WHERE (at_ms, event_id) >= (0, 0) AND (at_ms, event_id) < (1705000000000, 5250000)
  AND action = 'key_refused'
ORDER BY at_ms DESC, event_id DESC LIMIT 1000;
-- Progress for the reports: half the learners have their courses' first two lessons done.
INSERT INTO progress (user_id, course_id)
SELECT user_id, course_id FROM enrolments WHERE user_id % 4 < 2;
INSERT INTO progress_done (user_id, course_id, position, lesson_id, done_at_ms)
SELECT p.user_id, p.course_id, n, 10000 + p.course_id * 10 + n, 1700000000000
FROM progress p, generate_series(0, 1) AS n;
ANALYZE progress, progress_done;

\echo
\echo '== a group''s report (and its completion, and the export): the default group''s members'
\echo '   walked in batches of 500 by cursor; each batch''s enrolments and lessons done in the'
\echo '   group''s courses by primary key, one query each'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT user_id FROM group_members WHERE group_id = 200001 AND user_id > 1050000
ORDER BY user_id LIMIT 500;

EXPLAIN (ANALYZE, COSTS OFF)
SELECT user_id, course_id FROM enrolments
WHERE user_id = ANY((SELECT array_agg(u) FROM generate_series(1050001::bigint, 1050500) AS u)::bigint[])
  AND course_id = ANY('{101,138,175}'::bigint[]);

EXPLAIN (ANALYZE, COSTS OFF)
SELECT user_id, course_id, lesson_id, done_at_ms FROM progress_done
WHERE user_id = ANY((SELECT array_agg(u) FROM generate_series(1050001::bigint, 1050500) AS u)::bigint[])
  AND course_id = ANY('{101,138,175}'::bigint[])
ORDER BY user_id, course_id, position;

\echo
\echo '== one learner''s report: their groups by the user''s memberships, then their enrolments'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT g.name, g.id FROM group_members m JOIN groups g ON g.id = m.group_id
WHERE m.user_id = 1054321 AND g.deleted_at_ms IS NULL;

EXPLAIN (ANALYZE, COSTS OFF)
SELECT course_id FROM enrolments WHERE user_id = 1054321 ORDER BY course_id;

-- Imports: 200 imports of 250 rows and one of 50,000 (the largest file an upload takes), its
-- rows mostly to create, every tenth invalid, every hundredth's login taken.
INSERT INTO imports (id, by_user, by_login, file_name, created_at_ms, state, rows, done,
                     count_create, count_exists, count_invalid, count_created, count_failed)
SELECT 3000000 + n, 1000001, 'user000001', 'people' || n || '.csv', 1700000000000 + n, 'done',
       250, 250, 0, 0, 0, 250, 0
FROM generate_series(1, 200) AS n;
INSERT INTO imports (id, by_user, by_login, file_name, created_at_ms, state, rows, done,
                     count_create, count_exists, count_invalid, count_created, count_failed)
VALUES (3000999, 1000001, 'user000001', 'everyone.csv', 1700000999000, 'preview', 50000, 0,
        44550, 500, 4950, 0, 0);
INSERT INTO import_rows (import_id, row_index, line, login, email, display_name, role, groups,
                         group_ids, hash, outcome, outcome_field, outcome_message)
SELECT 3000999, n, n + 2, 'new' || n, 'new' || n || '@school.example', 'New ' || n, '',
       '{}', '{}', NULL,
       CASE WHEN n % 100 = 0 THEN 'exists_login' WHEN n % 10 = 0 THEN 'invalid' ELSE 'create' END,
       CASE WHEN n % 100 <> 0 AND n % 10 = 0 THEN 'email' END,
       CASE WHEN n % 100 <> 0 AND n % 10 = 0 THEN 'Enter an e-mail address.' END
FROM generate_series(0, 49999) AS n;
ANALYZE imports, import_rows;

\echo
\echo '== the imports page: the newest imports (the primary key walked backwards)'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT id, by_user, by_login, file_name, state, rows, done FROM imports ORDER BY id DESC LIMIT 20;

\echo
\echo '== an import''s rows, a page deep in the file (every row: a range of the primary key)'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT line, login, email, outcome FROM import_rows
WHERE import_id = 3000999 AND row_index >= 40000 ORDER BY row_index LIMIT 50;

\echo '   the invalid rows, page 20 (one outcome: a range of import_rows_outcome)'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT line, login, email, outcome FROM import_rows
WHERE import_id = 3000999 AND outcome = ('{invalid}'::text[])[1]
ORDER BY row_index OFFSET 950 LIMIT 50;

\echo '   the rows whose user exists, page 5 (two outcomes: the index''s two ranges, merged)'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT line, login, email, outcome FROM import_rows
WHERE import_id = 3000999 AND outcome = ANY('{exists_login,exists_email}'::text[])
ORDER BY row_index OFFSET 200 LIMIT 50;
