/* The store: opening the database, its schema migrations, transactions, and the records of
 * the mailbox position and of every raw message. */
#include "queue/store_internal.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* how long a statement waits for another process's lock before it fails */
#define STORE_BUSY_TIMEOUT_MS 15000

/* ---- schema -------------------------------------------------------------------------------
 * Numbered migrations: migration N takes the schema from user_version N-1 to N. Never edit
 * one that has shipped; add the next. */

/* a column of report_search: the text with "đ" and "Đ" folded to "d" (SPEC: Vietnamese
 * search without diacritics); the rest of the folding is the tokenizer's */
#define SEARCH_FOLD(x) "replace(replace(coalesce(" x ", ''), 'đ', 'd'), 'Đ', 'd')"
#define REPORT_SEARCH_COLUMNS(r)                                                                                      \
    r ".id, " SEARCH_FOLD(r ".code") ", " SEARCH_FOLD(r ".citizen_name") ", " SEARCH_FOLD(                            \
        r                                                                                                             \
        ".cit"                                                                                                        \
        "izen"                                                                                                        \
        "_pho"                                                                                                        \
        "ne") ", " SEARCH_FOLD("coalesce(" r ".citizen_email, '') || ' ' || coalesce(" r                              \
                               ".sender, '')") ", " SEARCH_FOLD(r                                                     \
                                                                ".subject") ", " SEARCH_FOLD(r                        \
                                                                                             ".bo"                    \
                                                                                             "dy") ", " SEARCH_FOLD(r \
                                                                                                                    ".location_text")
#define REPORT_SEARCH_ROW(r) "(" REPORT_SEARCH_COLUMNS(r) ")"
#define REPORT_SEARCH_NAMES  "code, name, phone, email, subject, text, place"
/* a report's entry made, or taken out: the index keeps no copy of the text (issue 18), so a
 * removal names the words to remove, folded from the row as they were indexed */
#define REPORT_SEARCH_ADD(r)                                                                       \
    "INSERT INTO report_search(rowid, " REPORT_SEARCH_NAMES ") VALUES " REPORT_SEARCH_ROW(r) ";"
#define REPORT_SEARCH_REMOVE(r)                                                                    \
    "INSERT INTO report_search(report_search, rowid, " REPORT_SEARCH_NAMES                         \
    ") VALUES ('delete', " REPORT_SEARCH_COLUMNS(r) ");"

static const char *const migrations[] = {
    /* 1: the first slice: raw messages, reports, attachments, events, outbox */
    "CREATE TABLE mailbox_state("
    "  mailbox TEXT PRIMARY KEY,"
    "  uidvalidity INTEGER NOT NULL,"
    "  uidnext INTEGER NOT NULL,"
    "  highestmodseq INTEGER NOT NULL DEFAULT 0,"
    "  updated_at INTEGER NOT NULL"
    ") STRICT;"

    "CREATE TABLE report("
    "  id INTEGER PRIMARY KEY,"
    "  code TEXT NOT NULL UNIQUE,"
    "  token TEXT NOT NULL UNIQUE,"
    "  state TEXT NOT NULL,"
    "  overdue INTEGER NOT NULL DEFAULT 0,"
    "  classification TEXT NOT NULL,"
    "  rule TEXT,"
    "  confidential INTEGER NOT NULL DEFAULT 0,"
    "  missing TEXT NOT NULL DEFAULT '',"
    "  subject TEXT,"
    "  body TEXT,"
    "  message_id TEXT,"
    "  citizen_name TEXT, citizen_address TEXT, citizen_id_number TEXT,"
    "  citizen_phone TEXT, citizen_email TEXT,"
    "  location_text TEXT, location_lat REAL, location_lon REAL,"
    "  occurred_at TEXT,"
    "  agency TEXT,"
    "  coordinators TEXT NOT NULL DEFAULT '',"
    "  received_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  raw_id INTEGER"
    ") STRICT;"
    "CREATE INDEX report_state ON report(state, received_at);"
    "CREATE INDEX report_message_id ON report(message_id);"

    "CREATE TABLE raw_message("
    "  id INTEGER PRIMARY KEY,"
    "  mailbox TEXT, uidvalidity INTEGER, uid INTEGER,"
    "  message_id TEXT,"
    "  sha256 TEXT NOT NULL,"
    "  path TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  received_at INTEGER NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN"
    "    ('fetched', 'processed', 'moved', 'unparsed', 'quarantined')),"
    "  classification TEXT,"
    "  report_id INTEGER REFERENCES report(id),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  error TEXT"
    ") STRICT;"
    "CREATE UNIQUE INDEX raw_message_uid ON raw_message(mailbox, uidvalidity, uid)"
    "  WHERE mailbox IS NOT NULL;"
    "CREATE INDEX raw_message_content ON raw_message(sha256);"
    "CREATE INDEX raw_message_message_id ON raw_message(message_id);"
    "CREATE INDEX raw_message_unfinished ON raw_message(mailbox, state)"
    "  WHERE state IN ('fetched', 'processed', 'unparsed');"

    "CREATE TABLE attachment("
    "  id INTEGER PRIMARY KEY,"
    "  report_id INTEGER NOT NULL REFERENCES report(id),"
    "  raw_id INTEGER,"
    "  filename TEXT NOT NULL,"
    "  content_type TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  content_id TEXT,"
    "  dangerous INTEGER NOT NULL DEFAULT 0,"
    "  size INTEGER NOT NULL,"
    "  sha256 TEXT NOT NULL,"
    "  path TEXT NOT NULL"
    ") STRICT;"
    "CREATE INDEX attachment_report ON attachment(report_id);"

    "CREATE TABLE event("
    "  id INTEGER PRIMARY KEY,"
    "  report_id INTEGER NOT NULL REFERENCES report(id),"
    "  at INTEGER NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  detail TEXT"
    ") STRICT;"
    "CREATE INDEX event_report ON event(report_id, id);"

    "CREATE TABLE deadline("
    "  report_id INTEGER NOT NULL REFERENCES report(id),"
    "  name TEXT NOT NULL,"
    "  due INTEGER NOT NULL,"
    "  PRIMARY KEY (report_id, name)"
    ") STRICT;"

    "CREATE TABLE code_sequence("
    "  prefix TEXT NOT NULL,"
    "  year INTEGER NOT NULL,"
    "  last INTEGER NOT NULL,"
    "  PRIMARY KEY (prefix, year)"
    ") STRICT;"

    "CREATE TABLE outbox("
    "  id INTEGER PRIMARY KEY,"
    "  dedupe_key TEXT NOT NULL UNIQUE,"
    "  kind TEXT NOT NULL,"
    "  report_id INTEGER REFERENCES report(id),"
    "  rcpt TEXT NOT NULL,"
    "  mail_from TEXT NOT NULL,"
    "  message_id TEXT NOT NULL,"
    "  message BLOB NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed')),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_at INTEGER NOT NULL,"
    "  lease_token TEXT,"
    "  lease_until INTEGER,"
    "  last_reply TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  sent_at INTEGER"
    ") STRICT;"
    "CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE state = 'queued';"
    "CREATE INDEX outbox_lease ON outbox(lease_until) WHERE state = 'sending';"
    "CREATE INDEX outbox_report ON outbox(report_id);"
    "CREATE INDEX outbox_message_id ON outbox(message_id);"
    "CREATE INDEX outbox_state ON outbox(state, id);",

    /* 2: issue 3: what the daemon must remember across restarts (a mailbox outage: since when,
     * whether the IOC was told), one small row per key */
    "CREATE TABLE daemon_state("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ") STRICT;",
    /* 3: issue 4: who sent each report (a tracking code quoted in a subject joins only its
     * sender's report, SPEC §3.5); letters by recipient (the automatic-answer rate limit,
     * SPEC §3.6) */
    "ALTER TABLE report ADD COLUMN sender TEXT;"
    "CREATE INDEX outbox_rcpt ON outbox(rcpt COLLATE NOCASE, created_at);",
    /* 4: issue 5: the lifecycle. Who owns each deadline and how far its reminders went (the
     * scheduler finds due actions through deadline_next_action, never by scanning reports);
     * the agency's result, its approval and publication, the citizen's feedback and rating;
     * the scheduler's mark in the event table. */
    "ALTER TABLE deadline ADD COLUMN owner TEXT NOT NULL DEFAULT 'agency';"
    "ALTER TABLE deadline ADD COLUMN set_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE deadline ADD COLUMN status TEXT NOT NULL DEFAULT 'open'"
    "  CHECK (status IN ('open', 'met', 'cancelled'));"
    "ALTER TABLE deadline ADD COLUMN closed_at INTEGER;"
    "ALTER TABLE deadline ADD COLUMN stage INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE deadline ADD COLUMN next_action_at INTEGER;"
    "CREATE INDEX deadline_next_action ON deadline(next_action_at)"
    "  WHERE status = 'open' AND next_action_at IS NOT NULL;"

    "CREATE TABLE report_lifecycle("
    "  report_id INTEGER PRIMARY KEY REFERENCES report(id),"
    "  category TEXT,"
    "  assigned_at INTEGER,"
    "  reject_reason TEXT,"
    "  note TEXT,"
    "  extended_until INTEGER,"
    "  extension_note TEXT,"
    "  result_text TEXT, result_by TEXT, result_at INTEGER,"
    "  approved_by TEXT, approved_at INTEGER,"
    "  letter_number TEXT,"
    "  published_at INTEGER,"
    "  publications INTEGER NOT NULL DEFAULT 0,"
    "  feedback_text TEXT, feedback_at INTEGER,"
    "  rating INTEGER CHECK (rating IN (1, 2, 3)), rated_at INTEGER"
    ") STRICT;"
    "CREATE INDEX report_received ON report(received_at);"

    "CREATE TABLE scheduler_mark("
    "  name TEXT PRIMARY KEY,"
    "  value INTEGER NOT NULL"
    ") STRICT;"
    /* reports already waiting when this version is installed keep no IOC deadline: the
     * catch-up starts from here instead of walking the whole history */
    "INSERT INTO scheduler_mark(name, value)"
    "  SELECT 'event', coalesce(max(id), 0) FROM event;",
    /* 5: issue 6: outbound mail that arrives once or says why not.
     * - letter bodies move to their own table: a claim or a completion rewrote the whole row,
     *   body included (15 KB per state change, twice per letter), which halved the send rate;
     * - the lease owner (host:pid:instance), so that a restarted pahtd takes back at once
     *   the letter a dead one held; the envelope sender used (VERP, SPEC §8 bounces); the
     *   RFC 3463 status of a failure; the start of the retry window (a resend restarts it);
     *   when a failure was reported to the IOC (the digest);
     * - addresses suspended after a permanent failure, every DSN received, and the
     *   outbound status (an SMTP outage caused by our configuration). */
    "CREATE TABLE outbox_body("
    "  id INTEGER PRIMARY KEY REFERENCES outbox(id),"
    "  message BLOB NOT NULL"
    ") STRICT;"
    "INSERT INTO outbox_body(id, message) SELECT id, message FROM outbox;"
    "ALTER TABLE outbox DROP COLUMN message;"
    "ALTER TABLE outbox ADD COLUMN lease_owner TEXT;"
    "ALTER TABLE outbox ADD COLUMN envelope_from TEXT;"
    "ALTER TABLE outbox ADD COLUMN failure_status TEXT;"
    "ALTER TABLE outbox ADD COLUMN retry_from INTEGER;"
    "ALTER TABLE outbox ADD COLUMN reported_at INTEGER;"
    "CREATE INDEX outbox_unreported ON outbox(id) WHERE state = 'failed' AND reported_at IS NULL;"

    "CREATE TABLE address_suspension("
    "  address TEXT PRIMARY KEY," /* lowercase */
    "  until INTEGER NOT NULL,"
    "  status TEXT,"
    "  reason TEXT,"
    "  outbox_id INTEGER REFERENCES outbox(id),"
    "  created_at INTEGER NOT NULL"
    ") STRICT;"

    "CREATE TABLE bounce("
    "  id INTEGER PRIMARY KEY,"
    "  raw_id INTEGER REFERENCES raw_message(id),"
    "  outbox_id INTEGER REFERENCES outbox(id),"
    "  matched_by TEXT CHECK (matched_by IN ('envelope', 'message_id')),"
    "  status TEXT,"
    "  recipient TEXT,"
    "  diagnostic TEXT,"
    "  received_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX bounce_outbox ON bounce(outbox_id);"

    "CREATE TABLE outbound_status("
    "  name TEXT PRIMARY KEY,"
    "  value INTEGER NOT NULL,"
    "  detail TEXT"
    ") STRICT;",
    /* issue 11: mail is never skipped or stuck.
     * - message_failure: a message of the inbox that could not be fetched or recorded (a
     *   refused FETCH, a dropped connection, a file that cannot be written), by its place on
     *   the server: how often and since when, when to try again, and when it was given up
     *   (moved to quarantine, or left, with the IOC told once);
     * - the same mail recognised whatever its trace headers and line ends (pahtctl ingest of
     *   a saved file, then the same mail over IMAP): the digest of what follows its header
     *   block, beside its Message-ID;
     * - moving without MOVE is UID COPY then UID EXPUNGE: the folder it is being copied to, and
     *   whether the copy is known done, so that a crash in between does not copy again. */
    "CREATE TABLE message_failure("
    "  mailbox TEXT NOT NULL,"
    "  uidvalidity INTEGER NOT NULL,"
    "  uid INTEGER NOT NULL,"
    "  failures INTEGER NOT NULL,"
    "  first_at INTEGER NOT NULL,"
    "  last_at INTEGER NOT NULL,"
    "  next_at INTEGER NOT NULL,"
    "  last_error TEXT NOT NULL,"
    "  given_up_at INTEGER,"
    "  PRIMARY KEY (mailbox, uidvalidity, uid)"
    ") STRICT;"
    "ALTER TABLE raw_message ADD COLUMN body_sha256 TEXT;"
    "CREATE INDEX raw_message_body ON raw_message(message_id, body_sha256)"
    "  WHERE body_sha256 IS NOT NULL;"
    "ALTER TABLE raw_message ADD COLUMN moving_to TEXT;"
    "ALTER TABLE raw_message ADD COLUMN copied INTEGER NOT NULL DEFAULT 0;",
    /* issue 11: who may act by mail.
     * - automatic answers counted by mailbox and domain (the rate limits of SPEC §3.6:
     *   "An+1@x.vn" and "an+2@X.vn" are one mailbox); the last day's answers are counted in
     *   from the outbox, so that an upgrade does not reset the limits;
     * - replies that matched a report only by their sender (forgeable) and its tracking code
     *   or own Message-ID, or whose sender the province's MX could not verify, wait for the
     *   IOC to confirm or discard them. */
    "CREATE TABLE auto_answer("
    "  id INTEGER PRIMARY KEY,"
    "  outbox_id INTEGER REFERENCES outbox(id),"
    "  mailbox TEXT NOT NULL,"
    "  domain TEXT NOT NULL,"
    "  at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX auto_answer_mailbox ON auto_answer(mailbox, at);"
    "CREATE INDEX auto_answer_domain ON auto_answer(domain, at);"
    "CREATE INDEX auto_answer_at ON auto_answer(at);"
    "INSERT INTO auto_answer(outbox_id, mailbox, domain, at)"
    "  SELECT id,"
    "    lower(CASE WHEN instr(substr(rcpt, 1, instr(rcpt, '@') - 1), '+') > 1"
    "      THEN substr(rcpt, 1, instr(rcpt, '+') - 1) || substr(rcpt, instr(rcpt, '@'))"
    "      ELSE rcpt END),"
    "    lower(substr(rcpt, instr(rcpt, '@') + 1)), created_at"
    "  FROM outbox WHERE kind IN ('ack', 'incomplete', 'emergency', 'too_large')"
    "    AND instr(rcpt, '@') > 1"
    "    AND created_at >= (SELECT max(created_at) FROM outbox) - 86400;"

    "CREATE TABLE pending_reply("
    "  id INTEGER PRIMARY KEY,"
    "  report_id INTEGER NOT NULL REFERENCES report(id),"
    "  raw_id INTEGER NOT NULL REFERENCES raw_message(id),"
    "  sender TEXT,"
    "  matched_by TEXT NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'pending'"
    "    CHECK (state IN ('pending', 'confirmed', 'discarded')),"
    "  created_at INTEGER NOT NULL,"
    "  decided_at INTEGER,"
    "  decided_by TEXT"
    ") STRICT;"
    "CREATE INDEX pending_reply_report ON pending_reply(report_id);"
    "CREATE UNIQUE INDEX pending_reply_raw ON pending_reply(raw_id);",
    /* issue 13: the console (pahtweb).
     * - accounts of the IOC's operators, the agencies' staff, their leaders and the
     *   administrators, with argon2id password hashes; sessions by the SHA-256 of their
     *   token (the token itself is only in the browser's cookie); login attempts, for the
     *   throttle after repeated failures; what was done to accounts, for pahtctl audit;
     * - the parser's warnings, kept with the report for the operator;
     * - duplicates: a report rejected as the duplicate of another, linked both ways, with
     *   the state it had so that a wrong merge can be undone;
     * - the files an agency attaches to its result. */
    "CREATE TABLE web_user("
    "  id INTEGER PRIMARY KEY,"
    "  login TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    "  role TEXT NOT NULL CHECK (role IN ('ioc', 'admin', 'agency', 'leader')),"
    "  agency TEXT,"
    "  name TEXT NOT NULL,"
    "  email TEXT,"
    "  password_hash TEXT NOT NULL,"
    "  disabled INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ") STRICT;"

    "CREATE TABLE web_session("
    "  id INTEGER PRIMARY KEY,"
    "  token_hash TEXT NOT NULL UNIQUE,"
    "  user_id INTEGER NOT NULL REFERENCES web_user(id),"
    "  csrf TEXT NOT NULL,"
    "  client TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  seen_at INTEGER NOT NULL,"
    "  ended_at INTEGER,"
    "  end_reason TEXT"
    ") STRICT;"
    "CREATE INDEX web_session_user ON web_session(user_id) WHERE ended_at IS NULL;"

    "CREATE TABLE login_attempt("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  login TEXT NOT NULL,"
    "  client TEXT NOT NULL,"
    "  outcome TEXT NOT NULL CHECK (outcome IN ('trying', 'ok', 'failed', 'throttled'))"
    ") STRICT;"
    "CREATE INDEX login_attempt_login ON login_attempt(login, at);"
    "CREATE INDEX login_attempt_client ON login_attempt(client, at);"

    "CREATE TABLE account_event("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  login TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  detail TEXT"
    ") STRICT;"
    "CREATE INDEX account_event_at ON account_event(at);"
    "CREATE INDEX event_at ON event(at);"

    "CREATE TABLE report_warning("
    "  report_id INTEGER NOT NULL REFERENCES report(id),"
    "  seq INTEGER NOT NULL,"
    "  text TEXT NOT NULL,"
    "  PRIMARY KEY (report_id, seq)"
    ") STRICT;"

    "CREATE TABLE report_duplicate("
    "  id INTEGER PRIMARY KEY,"
    "  report_id INTEGER NOT NULL REFERENCES report(id),"
    "  of_report_id INTEGER NOT NULL REFERENCES report(id),"
    "  prior_state TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  created_by TEXT NOT NULL,"
    "  undone_at INTEGER,"
    "  undone_by TEXT"
    ") STRICT;"
    "CREATE INDEX report_duplicate_report ON report_duplicate(report_id);"
    "CREATE INDEX report_duplicate_of ON report_duplicate(of_report_id);"

    "CREATE TABLE result_file("
    "  id INTEGER PRIMARY KEY,"
    "  report_id INTEGER NOT NULL REFERENCES report(id),"
    "  filename TEXT NOT NULL,"
    "  content_type TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  sha256 TEXT NOT NULL,"
    "  path TEXT NOT NULL,"
    "  uploaded_by TEXT NOT NULL,"
    "  uploaded_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX result_file_report ON result_file(report_id);"
    /* the console's queue: reports of an agency, and the open deadlines by report */
    "CREATE INDEX report_agency ON report(agency, state);"
    "CREATE INDEX deadline_open ON deadline(report_id, due) WHERE status = 'open';",
    /* issue 16: records the province can keep, prove and report on, and personal data kept
     * no longer than the law asks.
     * - a report under legal hold (the note says why) is never purged nor erased; purged_at
     *   says when its personal data went (retention or a citizen's request);
     * - an attachment the IOC marked public survives the purge (Điều 9.3.a: what was
     *   published with the result);
     * - files whose rows let go of them wait here until they are unlinked, after the commit
     *   and never while a backup copies them (a crash in between only delays it);
     * - a citizen's request finds their reports by e-mail, phone or ID number. */
    "ALTER TABLE report ADD COLUMN legal_hold TEXT;"
    "ALTER TABLE report ADD COLUMN purged_at INTEGER;"
    "ALTER TABLE attachment ADD COLUMN public INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE file_removal("
    "  path TEXT PRIMARY KEY,"
    "  queued_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX report_finished ON report(updated_at)"
    "  WHERE state IN ('published', 'closed', 'rejected') AND purged_at IS NULL;"
    "CREATE INDEX report_citizen_email ON report(lower(citizen_email));"
    "CREATE INDEX report_sender ON report(lower(sender));"
    "CREATE INDEX report_citizen_phone ON report(citizen_phone);"
    "CREATE INDEX report_citizen_id_number ON report(citizen_id_number);",
    /* issue 14: agencies and leaders act by answering their mail.
     * - action_address: each signed reply address a letter offers (paht+<action>-<token>@),
     *   the report, action and recipient it is valid for, when it was made and when it was
     *   used: an address acts once, from its recipient, within 30 days;
     * - the files an agency sends by mail (its result, a coordinating agency's opinion) are
     *   attachments of the report with a role of their own, never the citizen's. */
    "CREATE TABLE action_address("
    "  id INTEGER PRIMARY KEY,"
    "  token TEXT NOT NULL UNIQUE,"
    "  report_id INTEGER NOT NULL REFERENCES report(id),"
    "  action TEXT NOT NULL,"
    "  recipient TEXT NOT NULL,"
    "  letter TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  used_at INTEGER,"
    "  used_raw_id INTEGER REFERENCES raw_message(id)"
    ") STRICT;"
    "CREATE INDEX action_address_report ON action_address(report_id);"
    "ALTER TABLE attachment ADD COLUMN role TEXT NOT NULL DEFAULT 'citizen';",
    /* issue 13, phase 2: the console's search (queue/search.c). An FTS5 index of each report's
     * code, citizen's name, phone, e-mail addresses, subject, text and place, folded as the
     * IOC types: unicode61 drops the diacritics ("đường" ~ "duong"), and "đ"/"Đ", a letter of
     * its own in Unicode rather than a "d" with a mark, is folded to "d" here. Its contents
     * are derived from the report row alone and rebuilt whenever one of those columns changes
     * (a correction, a confirmed reply, an erasure of personal data: the index loses what the
     * row lost) or the row goes; the last statement builds it for the reports already kept. */
    "CREATE VIRTUAL TABLE report_search USING fts5(code, name, phone, email, subject, text,"
    "  place, tokenize = 'unicode61 remove_diacritics 2');"
    "CREATE TRIGGER report_search_insert AFTER INSERT ON report BEGIN"
    "  INSERT INTO report_search(rowid, code, name, phone, email, subject, text, place)"
    "  VALUES " REPORT_SEARCH_ROW(
        "new") ";"
               "END;"
               "CREATE TRIGGER report_search_update AFTER UPDATE OF code, citizen_name, "
               "citizen_phone,"
               "  citizen_email, sender, subject, body, location_text ON report BEGIN"
               "  DELETE FROM report_search WHERE rowid = old.id;"
               "  INSERT INTO report_search(rowid, code, name, phone, email, subject, text, place)"
               "  VALUES " REPORT_SEARCH_ROW(
                   "new") ";"
                          "END;"
                          "CREATE TRIGGER report_search_delete AFTER DELETE ON report BEGIN"
                          "  DELETE FROM report_search WHERE rowid = old.id;"
                          "END;"
                          "INSERT INTO report_search(rowid, code, name, phone, email, subject, "
                          "text, place)"
                          "  SELECT " REPORT_SEARCH_COLUMNS("report") " FROM report;",
    /* issue 13: the possible duplicates' pairs of words, folded once per report rather than
     * for each of its 200 neighbours on every report page (queue/search.c). A row is made by
     * the first page that needs it, from the report's place, subject and text, and is gone
     * as soon as one of them changes or the report goes: whatever writes the report (pahtd,
     * pahtctl, the console, the sqlite3 shell), the pairs are never older than the text. */
    "CREATE TABLE report_word_pairs("
    "  report_id INTEGER PRIMARY KEY REFERENCES report(id) ON DELETE CASCADE,"
    "  place TEXT NOT NULL,"
    "  text TEXT NOT NULL);"
    "CREATE TRIGGER report_word_pairs_update AFTER UPDATE OF location_text, subject, body"
    "  ON report BEGIN"
    "  DELETE FROM report_word_pairs WHERE report_id = old.id;"
    "END;"
    "CREATE TRIGGER report_word_pairs_delete AFTER DELETE ON report BEGIN"
    "  DELETE FROM report_word_pairs WHERE report_id = old.id;"
    "END;",
    /* the newest letter of a kind (the failures' digest, once a pass): without it every pass
     * read the whole outbox, 11 ms of CPU at 200,000 letters and growing with the history */
    "CREATE INDEX outbox_kind ON outbox(kind, created_at);",
    /* issue 18: the search index without its own copy of the texts (FTS5 content=''). The
     * index kept every report's name, phone, addresses and whole text a second time: 5.5 KB
     * a report, written in each mail's transaction (2.4 of the 57 WAL pages an ingested mail
     * wrote) and kept as long as the report, personal data twice over; only the words are
     * needed to find a report by them. A contentless index cannot read back what it indexed:
     * the triggers take an entry out by the row's old values, folded as they were indexed.
     * Same tokenizer and columns, so the same search; the last statement indexes the reports
     * already kept. */
    // clang-format off
    "DROP TRIGGER report_search_insert;"
    "DROP TRIGGER report_search_update;"
    "DROP TRIGGER report_search_delete;"
    "DROP TABLE report_search;"
    "CREATE VIRTUAL TABLE report_search USING fts5(" REPORT_SEARCH_NAMES ","
    "  content = '', tokenize = 'unicode61 remove_diacritics 2');"
    "CREATE TRIGGER report_search_insert AFTER INSERT ON report BEGIN "
    "  " REPORT_SEARCH_ADD("new")
    "END;"
    "CREATE TRIGGER report_search_update AFTER UPDATE OF code, citizen_name, citizen_phone,"
    "  citizen_email, sender, subject, body, location_text ON report BEGIN "
    "  " REPORT_SEARCH_REMOVE("old")
    "  " REPORT_SEARCH_ADD("new")
    "END;"
    "CREATE TRIGGER report_search_delete AFTER DELETE ON report BEGIN "
    "  " REPORT_SEARCH_REMOVE("old")
    "END;"
    "INSERT INTO report_search(rowid, " REPORT_SEARCH_NAMES ")"
    "  SELECT " REPORT_SEARCH_COLUMNS("report") " FROM report;",
    // clang-format on
    /* issue 18: what each mail's INSERT into report writes, read by some statement.
     * report_agency was read by none (the console's queue of an agency is an OR with its
     * coordinating agencies, which no index serves): one index page per mail for nothing. A
     * report without a phone or an ID number (most mail has no ID number) no longer writes an
     * entry for its NULL in their indexes; a person is looked up by a value, never by NULL. */
    "DROP INDEX report_agency;"
    "DROP INDEX report_citizen_phone;"
    "DROP INDEX report_citizen_id_number;"
    "CREATE INDEX report_citizen_phone ON report(citizen_phone) WHERE citizen_phone IS NOT NULL;"
    "CREATE INDEX report_citizen_id_number ON report(citizen_id_number)"
    "  WHERE citizen_id_number IS NOT NULL;",
    /* issue 18: letters by recipient (migration 3) served the first automatic-answer rate
     * limit, which counts in auto_answer now: no statement reads it, and every letter wrote
     * an entry (1.15 of the 51 pages a mail's commit writes) */
    "DROP INDEX outbox_rcpt;",
    /* issue 18: the search index is brought up to date in batches (report_search_catch_up),
     * not in each mail's transaction. FTS5 writes a new segment, and merges, at every commit
     * that touched it: indexing one report per transaction cost almost three times what
     * indexing 400 in one does (210 against 75 us a report), most of it in the parser
     * process, which an ingest waits for. A new report is listed in report_search_pending by
     * its INSERT and indexed by whoever catches up first: pahtd at the end of a pass (every 16
     * messages when this was written; issue 18's fifteenth pass left only the end, and every
     * 1,024 of a long pass), pahtctl ingest when it is done, the console before any search, so
     * a search never misses one. A report still waiting has nothing in the index to take out:
     * its corrections and deletion leave the index alone (the catch-up reads the row as it
     * is then), where an FTS5 'delete' of words never indexed would corrupt a contentless
     * index. */
    // clang-format off
    "CREATE TABLE report_search_pending(report_id INTEGER PRIMARY KEY) STRICT;"
    "DROP TRIGGER report_search_insert;"
    "DROP TRIGGER report_search_update;"
    "DROP TRIGGER report_search_delete;"
    "CREATE TRIGGER report_search_insert AFTER INSERT ON report BEGIN"
    "  INSERT INTO report_search_pending(report_id) VALUES (new.id);"
    "END;"
    "CREATE TRIGGER report_search_update AFTER UPDATE OF code, citizen_name, citizen_phone,"
    "  citizen_email, sender, subject, body, location_text ON report"
    "  WHEN NOT EXISTS (SELECT 1 FROM report_search_pending WHERE report_id = old.id) BEGIN "
    "  " REPORT_SEARCH_REMOVE("old")
    "  " REPORT_SEARCH_ADD("new")
    "END;"
    "CREATE TRIGGER report_search_delete AFTER DELETE ON report BEGIN"
    "  INSERT INTO report_search(report_search, rowid, " REPORT_SEARCH_NAMES ")"
    "    SELECT 'delete', " REPORT_SEARCH_COLUMNS("old")
    "    WHERE NOT EXISTS (SELECT 1 FROM report_search_pending WHERE report_id = old.id);"
    "  DELETE FROM report_search_pending WHERE report_id = old.id;"
    "END;",
    // clang-format on
    /* issue 18, fifteenth pass: the letter a sender reserved while it sends the one before
     * (outbox_reserve_next_for) stays queued with a lease. A sender that died leaves one behind,
     * and outbox_reclaim_leases finds it here, reading the reserved letters alone and not the
     * whole queue (thousands of letters queued behind an SMTP outage); only a reserved letter
     * has an entry. */
    "CREATE INDEX outbox_reserved ON outbox(lease_until)"
    "  WHERE state = 'queued' AND lease_until IS NOT NULL;",
};

/* ---- the search index's catch-up (migration of issue 18 above) ------------------------------ */

gboolean report_search_catch_up(Store *store, GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store, "SELECT EXISTS (SELECT 1 FROM report_search_pending)", error);
    gint64 waiting = 0;
    if (!stmt || !store_step_int64(store, stmt, &waiting, "read the search index's queue", error))
        return FALSE;
    if (!waiting)
        return TRUE; /* nothing new: a read, no write */
    if (!store_begin(store, error))
        return FALSE;
    // clang-format off
    if (!store_exec(store,
                    "INSERT INTO report_search(rowid, " REPORT_SEARCH_NAMES ")"
                    "  SELECT " REPORT_SEARCH_COLUMNS("report") " FROM report"
                    "  WHERE report.id IN (SELECT report_id FROM report_search_pending);"
                    "DELETE FROM report_search_pending;",
                    error)) {
        // clang-format on
        store_rollback(store);
        return FALSE;
    }
    return store_commit(store, error);
}

/* ---- errors and statements ----------------------------------------------------------------- */

gboolean store_fail(Store *store, GError **error, const char *what)
{
    int code = sqlite3_extended_errcode(store->db);
    int primary = code & 0xff;
    PahtErrorCode ours;
    switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_INTERRUPT:
    case SQLITE_NOMEM:
        ours = PAHT_ERROR_TEMPORARY;
        break;
    default:
        ours = PAHT_ERROR_PERMANENT;
        break;
    }
    g_set_error(error, PAHT_ERROR, ours, "database %s: %s: %s", store->path, what,
                sqlite3_errmsg(store->db));
    if (store->depth > 0 && sqlite3_get_autocommit(store->db) && !store->lost)
        store->lost = g_strdup(sqlite3_errmsg(store->db));
    return FALSE;
}

sqlite3_stmt *store_statement(Store *store, const char *sql, GError **error)
{
    sqlite3_stmt *stmt = g_hash_table_lookup(store->statements, sql);
    if (stmt) {
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
        return stmt;
    }
    /* the SQL texts are string literals (of queue/ and lifecycle/): the pointer is a stable
     * key */
    if (sqlite3_prepare_v3(store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) !=
        SQLITE_OK) {
        store_fail(store, error, "prepare");
        return NULL;
    }
    g_hash_table_insert(store->statements, (gpointer)sql, stmt);
    return stmt;
}

sqlite3 *store_connection(Store *store)
{
    return store->db;
}

gboolean store_exec(Store *store, const char *sql, GError **error)
{
    char *message = NULL;
    if (sqlite3_exec(store->db, sql, NULL, NULL, &message) != SQLITE_OK) {
        sqlite3_free(message);
        return store_fail(store, error, "execute");
    }
    return TRUE;
}

gboolean store_step_done(Store *store, sqlite3_stmt *stmt, const char *what, GError **error)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, what);
    return TRUE;
}

GPtrArray *store_report_rows(Store *store, const char *sql, gint64 report_id,
                             StoreRowReader read_row, GDestroyNotify free_item, const char *what,
                             GError **error)
{
    sqlite3_stmt *stmt = store_statement(store, sql, error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, report_id);
    return store_collect_rows(store, stmt, read_row, free_item, what, error);
}

gpointer store_row_first_text(sqlite3_stmt *stmt)
{
    return column_text(stmt, 0);
}

gboolean store_step_int64(Store *store, sqlite3_stmt *stmt, gint64 *out, const char *what,
                          GError **error)
{
    int rc = sqlite3_step(stmt);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW)
        return store_fail(store, error, what);
    return TRUE;
}

GPtrArray *store_collect_rows(Store *store, sqlite3_stmt *stmt, StoreRowReader read_row,
                              GDestroyNotify free_item, const char *what, GError **error)
{
    GPtrArray *list = g_ptr_array_new_with_free_func(free_item);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        g_ptr_array_add(list, read_row(stmt));
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        g_ptr_array_unref(list);
        store_fail(store, error, what);
        return NULL;
    }
    return list;
}

char *column_text(sqlite3_stmt *stmt, int col)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);
    return text ? g_strdup((const char *)text) : NULL;
}

void bind_text_or_null(sqlite3_stmt *stmt, int index, const char *value)
{
    if (value)
        sqlite3_bind_text(stmt, index, value, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(stmt, index);
}

/* ---- transactions --------------------------------------------------------------------------
 * BEGIN IMMEDIATE takes the write lock at once: a plain BEGIN that later writes can fail with
 * SQLITE_BUSY without waiting for the busy timeout (notes/libraries.md). */

/* one of the transaction statements, prepared once: sqlite3_exec parsed and prepared
 * "BEGIN IMMEDIATE" and "COMMIT" again for every transaction (about 5,000 instructions each
 * under callgrind; an outbox flush is one transaction per letter) */
static gboolean run_cached(Store *store, const char *sql, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store, sql, error);
    return stmt && store_step_done(store, stmt, sql, error);
}

/* SQLite rolls a whole transaction back on its own after some errors (a full disk, an I/O
 * error, no memory: SQLITE_FULL on a plain INSERT inside a savepoint does). Once it has, a
 * SAVEPOINT would quietly begin a new transaction, which its RELEASE would commit on its own,
 * and the work done before the error would be gone: every level left open fails instead,
 * until the outermost is closed. */
static gboolean transaction_lost(Store *store, GError **error)
{
    if (store->depth == 0 || !sqlite3_get_autocommit(store->db))
        return FALSE;
    g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY,
                "database %s: the transaction was rolled back after an earlier error%s%s",
                store->path, store->lost ? ": " : "", store->lost ? store->lost : "");
    return TRUE;
}

gboolean store_begin(Store *store, GError **error)
{
    if (transaction_lost(store, error))
        return FALSE;
    const char *sql = store->depth == 0 ? "BEGIN IMMEDIATE" : "SAVEPOINT nested";
    if (!run_cached(store, sql, error))
        return FALSE;
    store->depth++;
    return TRUE;
}

gboolean store_commit(Store *store, GError **error)
{
    g_return_val_if_fail(store->depth > 0, FALSE);
    const char *sql = store->depth == 1 ? "COMMIT" : "RELEASE nested";
    if (transaction_lost(store, error) || !run_cached(store, sql, error)) {
        store_rollback(store);
        return FALSE;
    }
    store->depth--;
    return TRUE;
}

gint64 store_changes(Store *store)
{
    return sqlite3_total_changes64(store->db);
}

/* While commits are not synced one by one, the WAL is also checkpointed less often (at
 * 64 MiB instead of SQLite's 4 MiB): a checkpoint syncs the WAL and the database (two
 * flushes), and copies every page changed since the last one. Each message rewrites the same
 * index pages, so one checkpoint every few hundred messages copies each of them once where
 * one every ten copied them again and again (seen: 82 page writes and one checkpoint's two
 * fdatasyncs per ten mails of an ingest). */
gboolean store_sync_each_commit(Store *store, gboolean each, GError **error)
{
    return store_exec(store,
                      each ? "PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=1000"
                           : "PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=16384",
                      error);
}

gboolean store_checkpoint_elsewhere(Store *store, GError **error)
{
    return store_exec(store, "PRAGMA wal_autocheckpoint=0", error);
}

gboolean store_checkpoint_whole(Store *store, gint64 *wal_bytes, GError **error)
{
    g_autofree char *wal = g_strconcat(store->path, "-wal", NULL);
    struct stat st;
    *wal_bytes = stat(wal, &st) == 0 ? (gint64)st.st_size : 0;
    if (sqlite3_wal_checkpoint_v2(store->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) !=
        SQLITE_OK)
        return store_fail(store, error, "checkpoint the whole WAL");
    return TRUE;
}

gboolean store_may_change_thread(void)
{
    /* opened with SQLITE_OPEN_NOMUTEX: never two threads at once, which the callers ensure */
    return sqlite3_threadsafe() != 0;
}

void store_rollback(Store *store)
{
    if (store->depth <= 0)
        return;
    if (sqlite3_get_autocommit(store->db))
        ; /* rolled back already, by SQLite (transaction_lost) */
    else if (store->depth == 1)
        sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
    else
        sqlite3_exec(store->db, "ROLLBACK TO nested; RELEASE nested", NULL, NULL, NULL);
    if (--store->depth == 0)
        g_clear_pointer(&store->lost, g_free);
}

/* ---- open and migrate ---------------------------------------------------------------------- */

int store_schema_version(Store *store)
{
    sqlite3_stmt *stmt = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(store->db, "PRAGMA user_version", -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return version;
}

int store_schema_latest(void)
{
    return (int)G_N_ELEMENTS(migrations);
}

int store_schema_first_with(const char *sql)
{
    for (gsize i = 0; i < G_N_ELEMENTS(migrations); i++)
        if (strstr(migrations[i], sql))
            return (int)i + 1; /* migration N makes version N */
    return 0;
}

int store_schema_version_found(Store *store)
{
    return store->found_version;
}

/* why a version cannot be used as it is, or NULL */
static char *schema_refusal(const Store *store, int version, StoreSchemaPolicy policy, int target)
{
    if (version > target)
        return g_strdup_printf("database %s has schema version %d, newer than this program's "
                               "(%d): it was written by a newer paht-mail; upgrade this one",
                               store->path, version, target);
    if (version > 0 && version < target && policy == STORE_SCHEMA_EXACT)
        return g_strdup_printf("database %s has schema version %d, older than this program's "
                               "(%d): pahtd upgrades it when it starts (systemctl restart "
                               "pahtd), or stop pahtd and run pahtctl migrate",
                               store->path, version, target);
    return NULL;
}

static gboolean store_migrate(Store *store, StoreSchemaPolicy policy, int target, GError **error)
{
    store->found_version = store_schema_version(store);
    if (store->found_version == target)
        return TRUE;
    if (!store_begin(store, error))
        return FALSE;
    /* read again under the write lock: another process may have migrated meanwhile */
    int version = store_schema_version(store);
    store->found_version = version;
    if (version < 0) {
        store_fail(store, error, "read the schema version");
        store_rollback(store);
        return FALSE;
    }
    g_autofree char *refusal = schema_refusal(store, version, policy, target);
    if (refusal) {
        store_rollback(store);
        g_set_error_literal(error, PAHT_ERROR, PAHT_ERROR_CONFIG, refusal);
        return FALSE;
    }
    for (int v = version; v < target; v++) {
        if (!store_exec(store, migrations[v], error)) {
            store_rollback(store);
            return FALSE;
        }
        g_autofree char *set = g_strdup_printf("PRAGMA user_version = %d", v + 1);
        if (!store_exec(store, set, error)) {
            store_rollback(store);
            return FALSE;
        }
        if (version > 0)
            log_notice("database %s migrated to schema version %d", store->path, v + 1);
    }
    return store_commit(store, error);
}

static void finalize_statement(gpointer stmt)
{
    sqlite3_finalize(stmt);
}

static gboolean ensure_private_file(const char *path, GError **error)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (st.st_mode & 0077) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                        "database %s is readable by others (mode %04o): it holds citizens' "
                        "personal data; chmod 600 %s",
                        path, (unsigned)(st.st_mode & 07777), path);
            return FALSE;
        }
        return TRUE;
    }
    if (errno != ENOENT) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "database %s: %s", path,
                    g_strerror(errno));
        return FALSE;
    }
    g_autofree char *dir = g_path_get_dirname(path);
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR) && !fs_make_private_dir(dir, error))
        return FALSE;
    /* create it 0600 ourselves: SQLite would use 0644 & ~umask, and gives the -wal and -shm
     * files the mode of the database file */
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG, "cannot create database %s: %s", path,
                    g_strerror(errno));
        return FALSE;
    }
    if (fd >= 0)
        close(fd);
    return TRUE;
}

/* The switch needs the database to itself, and SQLite answers a switch it cannot make now
 * with the old mode rather than an error, without waiting: a pahtctl opening the brand-new
 * database while pahtd creates it (or two first openers) would see "delete". So it is asked
 * again for as long as a lock is waited for elsewhere; only a file system that cannot do WAL
 * (no shared memory, e.g. some network file systems) keeps refusing. */
static gboolean switch_to_wal(Store *store, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + STORE_BUSY_TIMEOUT_MS * G_GINT64_CONSTANT(1000);
    g_autofree char *mode = NULL;
    for (;;) {
        sqlite3_stmt *stmt = NULL;
        g_clear_pointer(&mode, g_free);
        int failed = 0;
        if (sqlite3_prepare_v2(store->db, "PRAGMA journal_mode=WAL", -1, &stmt, NULL) ==
                SQLITE_OK &&
            sqlite3_step(stmt) == SQLITE_ROW) {
            mode = g_strdup((const char *)sqlite3_column_text(stmt, 0));
        } else {
            mode = g_strdup(sqlite3_errmsg(store->db));
            failed = sqlite3_extended_errcode(store->db) & 0xff;
        }
        sqlite3_finalize(stmt);
        if (mode && g_ascii_strcasecmp(mode, "wal") == 0)
            return TRUE;
        /* issue 16: a full disk cannot give the WAL index its pages (SQLITE_IOERR, _FULL):
         * that passes, and must not read as a configuration error, which stops pahtd for good */
        if (failed == SQLITE_IOERR || failed == SQLITE_FULL) {
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY,
                        "database %s: cannot open its WAL index (%s): is the disk full?",
                        store->path, mode);
            return FALSE;
        }
        if (g_get_monotonic_time() >= deadline)
            break;
        g_usleep(10 * 1000);
    }
    g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                "database %s: cannot switch to WAL mode (%s; a network file system?)", store->path,
                mode ? mode : "?");
    return FALSE;
}

static gpointer configure_library(gpointer unused)
{
    (void)unused;
    /* SQLITE_MISUSE when the library was initialised before (a program that called SQLite
     * before its first store_open): the default stays, which is only slower */
    sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, STORE_STATEMENT_JOURNAL_SPILL);
    return NULL;
}

void store_library_configure(void)
{
    static GOnce library_once = G_ONCE_INIT;
    g_once(&library_once, configure_library, NULL);
}

/* sqlite3_busy_handler: the lock is asked for again after a short sleep, until
 * STORE_BUSY_TIMEOUT_MS have passed. SQLite's own busy timeout sleeps 1, 2, 5, 10, 15, 20, 25 ms
 * and on: pahtd's mailbox pass and its parser process each hold the write lock for well under a
 * millisecond per mail, so each collision cost a sleep several times the wait it stood for
 * (seen: 800 sleeps, about 2 s, in an ingest of 2,000 mails). Here the first 5 ms are asked
 * every 100 µs, the next 95 ms every 1 ms, then every 10 ms: a pahtctl waiting behind a long
 * transaction still wakes only a hundred times a second. */
gint64 store_busy_pause_us(gint64 waited_us)
{
    if (waited_us >= STORE_BUSY_TIMEOUT_MS * G_GINT64_CONSTANT(1000))
        return 0;
    return waited_us < 5000 ? 100 : waited_us < 100000 ? 1000 : 10000;
}

static int store_wait_busy(void *data, int count)
{
    Store *store = data;
    gint64 now = g_get_monotonic_time();
    if (count == 0)
        store->busy_since = now;
    gint64 pause = store_busy_pause_us(now - store->busy_since);
    if (pause == 0)
        return 0;
    g_usleep((gulong)pause);
    return 1;
}

Store *store_open_at(const char *path, StoreSchemaPolicy policy, int target, GError **error)
{
    store_library_configure();
    if (!ensure_private_file(path, error))
        return NULL;
    Store *store = g_new0(Store, 1);
    store->path = g_strdup(path);
    store->statements =
        g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, finalize_statement);
    if (sqlite3_open_v2(path, &store->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        if (store->db)
            store_fail(store, error, "open");
        else
            g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot open database %s", path);
        store_close(store);
        return NULL;
    }
    sqlite3_extended_result_codes(store->db, 1);
    sqlite3_busy_handler(store->db, store_wait_busy, store);

    /* WAL so that pahtctl reads while pahtd writes; synchronous=FULL because IMAP moves and
     * SMTP sends happen after a commit and cannot be undone: the commit must be durable */
    if (!switch_to_wal(store, error)) {
        store_close(store);
        return NULL;
    }
    if (!store_exec(store, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", error) ||
        !store_migrate(store, policy, target, error)) {
        store_close(store);
        return NULL;
    }
    return store;
}

Store *store_open_with(const char *path, StoreSchemaPolicy policy, GError **error)
{
    return store_open_at(path, policy, store_schema_latest(), error);
}

Store *store_open(const char *path, GError **error)
{
    return store_open_with(path, STORE_SCHEMA_MIGRATE, error);
}

void store_close(Store *store)
{
    if (!store)
        return;
    if (store->depth > 0) {
        store->depth = 1;
        store_rollback(store);
    }
    g_hash_table_destroy(store->statements);
    sqlite3_close(store->db);
    g_free(store->path);
    g_free(store->lost);
    g_free(store);
}

/* ---- mailbox position ---------------------------------------------------------------------- */

gboolean mailbox_state_get(Store *store, const char *mailbox, MailboxState *out, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store, "SELECT uidvalidity, uidnext, highestmodseq FROM mailbox_state WHERE mailbox = ?",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, mailbox, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        out->uidvalidity = (guint32)sqlite3_column_int64(stmt, 0);
        out->uidnext = (guint32)sqlite3_column_int64(stmt, 1);
        out->highestmodseq = (guint64)sqlite3_column_int64(stmt, 2);
        sqlite3_reset(stmt);
        return TRUE;
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        store_fail(store, error, "read mailbox state");
    return FALSE;
}

gboolean mailbox_state_set(Store *store, const char *mailbox, const MailboxState *state,
                           GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store,
        "INSERT INTO mailbox_state(mailbox, uidvalidity, uidnext, highestmodseq, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(mailbox) DO UPDATE SET"
        " uidvalidity = ?2, uidnext = ?3, highestmodseq = ?4, updated_at = ?5",
        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, mailbox, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, state->uidvalidity);
    sqlite3_bind_int64(stmt, 3, state->uidnext);
    sqlite3_bind_int64(stmt, 4, (sqlite3_int64)state->highestmodseq);
    sqlite3_bind_int64(stmt, 5, clock_now_unix());
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "write mailbox state");
    return TRUE;
}

/* ---- raw messages -------------------------------------------------------------------------- */

void raw_message_free(RawMessage *raw)
{
    if (!raw)
        return;
    g_free(raw->mailbox);
    g_free(raw->message_id);
    g_free(raw->sha256);
    g_free(raw->path);
    g_free(raw->state);
    g_free(raw->classification);
    g_free(raw->error);
    g_free(raw->body_sha256);
    g_free(raw->moving_to);
    g_free(raw);
}

gboolean raw_message_is_done(const RawMessage *raw)
{
    return g_str_equal(raw->state, RAW_PROCESSED) || g_str_equal(raw->state, RAW_MOVED);
}

#define RAW_COLUMNS                                                                                \
    "id, mailbox, uidvalidity, uid, message_id, sha256, path, size, received_at, state,"           \
    " classification, report_id, attempts, error, body_sha256, moving_to, copied"

static RawMessage *raw_from_row(sqlite3_stmt *stmt)
{
    RawMessage *raw = g_new0(RawMessage, 1);
    raw->id = sqlite3_column_int64(stmt, 0);
    raw->mailbox = column_text(stmt, 1);
    raw->uidvalidity = (guint32)sqlite3_column_int64(stmt, 2);
    raw->uid = (guint32)sqlite3_column_int64(stmt, 3);
    raw->message_id = column_text(stmt, 4);
    raw->sha256 = column_text(stmt, 5);
    raw->path = column_text(stmt, 6);
    raw->size = sqlite3_column_int64(stmt, 7);
    raw->received_at = sqlite3_column_int64(stmt, 8);
    raw->state = column_text(stmt, 9);
    raw->classification = column_text(stmt, 10);
    raw->report_id = sqlite3_column_int64(stmt, 11);
    raw->attempts = sqlite3_column_int(stmt, 12);
    raw->error = column_text(stmt, 13);
    raw->body_sha256 = column_text(stmt, 14);
    raw->moving_to = column_text(stmt, 15);
    raw->copied = sqlite3_column_int(stmt, 16) != 0;
    return raw;
}

/* *out: the row, or NULL when there is none; FALSE only on a database failure */
static gboolean raw_query_one(Store *store, sqlite3_stmt *stmt, RawMessage **out, GError **error)
{
    int rc = sqlite3_step(stmt);
    *out = rc == SQLITE_ROW ? raw_from_row(stmt) : NULL;
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(store, error, "read raw message");
    return TRUE;
}

gboolean raw_message_find_uid(Store *store, const char *mailbox, guint32 uidvalidity, guint32 uid,
                              RawMessage **out, GError **error)
{
    *out = NULL;
    sqlite3_stmt *stmt = store_statement(store,
                                         "SELECT " RAW_COLUMNS " FROM raw_message"
                                         " WHERE mailbox = ? AND uidvalidity = ? AND uid = ?",
                                         error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, mailbox, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, uidvalidity);
    sqlite3_bind_int64(stmt, 3, uid);
    return raw_query_one(store, stmt, out, error);
}

gboolean raw_message_find_same(Store *store, const char *sha256, const char *message_id,
                               const char *body_sha256, RawMessage **out, GError **error)
{
    /* The same bytes are the same message. So are the same Message-ID and the same body: the
     * headers a server adds on delivery (Received, Delivered-To, Return-Path) and the line ends
     * differ between a saved file and the mail served by IMAP, what the citizen wrote does not.
     * A Message-ID alone is never enough: broken mailers reuse them, and a stranger could copy
     * one to have a citizen's mail taken for a duplicate. */
    sqlite3_stmt *stmt = store_statement(store,
                                         "SELECT " RAW_COLUMNS " FROM raw_message"
                                         " WHERE sha256 = ?1 OR (message_id = ?2 AND"
                                         " body_sha256 = ?3) ORDER BY id LIMIT 1",
                                         error);
    *out = NULL;
    if (!stmt)
        return FALSE;
    bind_text_or_null(stmt, 1, sha256);
    bind_text_or_null(stmt, 2, message_id);
    bind_text_or_null(stmt, 3, body_sha256);
    return raw_query_one(store, stmt, out, error);
}

gboolean raw_message_first_with_message_id(Store *store, const char *message_id, RawMessage **out,
                                           GError **error)
{
    /* raw_message_message_id: the first entry of the key is the lowest id */
    sqlite3_stmt *stmt = store_statement(store,
                                         "SELECT " RAW_COLUMNS " FROM raw_message"
                                         " WHERE message_id = ? ORDER BY id LIMIT 1",
                                         error);
    *out = NULL;
    if (!stmt)
        return FALSE;
    sqlite3_bind_text(stmt, 1, message_id, -1, SQLITE_TRANSIENT);
    return raw_query_one(store, stmt, out, error);
}

RawMessage *raw_message_get(Store *store, gint64 id, GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store, "SELECT " RAW_COLUMNS " FROM raw_message WHERE id = ?", error);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, id);
    RawMessage *raw = NULL;
    if (!raw_query_one(store, stmt, &raw, error))
        return NULL;
    if (!raw)
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_NOT_FOUND, "no raw message %" G_GINT64_FORMAT,
                    id);
    return raw;
}

gint64 raw_message_insert(Store *store, const RawMessage *raw, GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store,
        "INSERT INTO raw_message(mailbox, uidvalidity, uid, message_id, sha256, path, size,"
        " received_at, body_sha256, state, attempts)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'fetched', 1)",
        error);
    if (!stmt)
        return 0;
    bind_text_or_null(stmt, 1, raw->mailbox);
    if (raw->mailbox) {
        sqlite3_bind_int64(stmt, 2, raw->uidvalidity);
        sqlite3_bind_int64(stmt, 3, raw->uid);
    }
    bind_text_or_null(stmt, 4, raw->message_id);
    sqlite3_bind_text(stmt, 5, raw->sha256, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 6, raw->path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 7, raw->size);
    sqlite3_bind_int64(stmt, 8, raw->received_at);
    bind_text_or_null(stmt, 9, raw->body_sha256);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        store_fail(store, error, "record raw message");
        return 0;
    }
    return sqlite3_last_insert_rowid(store->db);
}

static gboolean step_one_change(Store *store, sqlite3_stmt *stmt, const char *what, GError **error)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, what);
    if (sqlite3_changes(store->db) != 1) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_NOT_FOUND, "%s: no such row", what);
        return FALSE;
    }
    return TRUE;
}

gboolean raw_message_set_state(Store *store, gint64 id, const char *state, const char *error_text,
                               GError **error)
{
    /* out of the inbox: a move in progress is over */
    sqlite3_stmt *stmt =
        store_statement(store,
                        "UPDATE raw_message SET state = ?2, error = COALESCE(?3, error),"
                        " moving_to = iif(?2 IN ('moved', 'quarantined'), NULL, moving_to),"
                        " copied = iif(?2 IN ('moved', 'quarantined'), 0, copied) WHERE id = ?1",
                        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_text(stmt, 2, state, -1, SQLITE_TRANSIENT);
    bind_text_or_null(stmt, 3, error_text);
    return step_one_change(store, stmt, "update raw message", error);
}

gboolean raw_message_set_body_sha256(Store *store, gint64 id, const char *body_sha256,
                                     GError **error)
{
    sqlite3_stmt *stmt =
        store_statement(store, "UPDATE raw_message SET body_sha256 = ?2 WHERE id = ?1", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_text(stmt, 2, body_sha256, -1, SQLITE_TRANSIENT);
    return step_one_change(store, stmt, "update raw message", error);
}

gboolean raw_message_count_attempt(Store *store, gint64 id, int taken_with, int *attempts_out,
                                   GError **error)
{
    sqlite3_stmt *stmt = store_statement(store,
                                         "UPDATE raw_message SET attempts = max(attempts, ?2 + 1)"
                                         " WHERE id = ?1 RETURNING attempts",
                                         error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_int(stmt, 2, taken_with);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW && attempts_out)
        *attempts_out = sqlite3_column_int(stmt, 0);
    /* step to the end so the RETURNING statement completes its write */
    while (rc == SQLITE_ROW)
        rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "count attempt");
    return TRUE;
}

gboolean raw_message_relocate(Store *store, gint64 id, const char *mailbox, guint32 uidvalidity,
                              guint32 uid, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store,
                                         "UPDATE raw_message SET mailbox = ?2, uidvalidity = ?3,"
                                         " uid = ?4, moving_to = NULL, copied = 0 WHERE id = ?1",
                                         error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_text(stmt, 2, mailbox, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 3, uidvalidity);
    sqlite3_bind_int64(stmt, 4, uid);
    return step_one_change(store, stmt, "relocate raw message", error);
}

gboolean raw_message_set_moving(Store *store, gint64 id, const char *folder, gboolean copied,
                                GError **error)
{
    sqlite3_stmt *stmt = store_statement(
        store, "UPDATE raw_message SET moving_to = ?2, copied = ?3 WHERE id = ?1", error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, id);
    bind_text_or_null(stmt, 2, folder);
    sqlite3_bind_int(stmt, 3, copied ? 1 : 0);
    return step_one_change(store, stmt, "record a move", error);
}

gboolean raw_message_mark_processed(Store *store, gint64 id, const char *classification,
                                    gint64 report_id, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store,
                                         "UPDATE raw_message SET state = 'processed',"
                                         " classification = ?2, report_id = ?3, error = NULL"
                                         " WHERE id = ?1 AND state NOT IN ('processed', 'moved')",
                                         error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_text(stmt, 2, classification, -1, SQLITE_TRANSIENT);
    if (report_id > 0)
        sqlite3_bind_int64(stmt, 3, report_id);
    else
        sqlite3_bind_null(stmt, 3);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return store_fail(store, error, "mark raw message processed");
    if (sqlite3_changes(store->db) != 1) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                    "raw message %" G_GINT64_FORMAT " is already processed (or gone)", id);
        return FALSE;
    }
    return TRUE;
}

gboolean raw_message_files(Store *store, const gint64 *ids, guint n, GPtrArray *paths,
                           GError **error)
{
    /* the attachments by their report's index (there is none on raw_id) */
    sqlite3_stmt *stmt = store_statement(store,
                                         "SELECT path FROM raw_message WHERE id = ?1"
                                         " UNION ALL SELECT a.path FROM raw_message r"
                                         " JOIN attachment a ON a.report_id = r.report_id"
                                         " AND a.raw_id = r.id WHERE r.id = ?1",
                                         error);
    if (!stmt)
        return FALSE;
    for (guint i = 0; i < n; i++) {
        if (ids[i] <= 0)
            continue;
        sqlite3_bind_int64(stmt, 1, ids[i]);
        int rc;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
            g_ptr_array_add(paths, g_strdup((const char *)sqlite3_column_text(stmt, 0)));
        sqlite3_reset(stmt);
        if (rc != SQLITE_DONE)
            return store_fail(store, error, "list the files of raw messages");
    }
    return TRUE;
}

GPtrArray *raw_message_list_unfinished(Store *store, const char *mailbox, GError **error)
{
    sqlite3_stmt *stmt = store_statement(store,
                                         "SELECT " RAW_COLUMNS " FROM raw_message"
                                         " WHERE mailbox = ? AND state IN"
                                         " ('fetched', 'processed', 'unparsed') ORDER BY id",
                                         error);
    if (!stmt)
        return NULL;
    sqlite3_bind_text(stmt, 1, mailbox, -1, SQLITE_TRANSIENT);
    GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)raw_message_free);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        g_ptr_array_add(list, raw_from_row(stmt));
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        g_ptr_array_unref(list);
        store_fail(store, error, "list unfinished raw messages");
        return NULL;
    }
    return list;
}
