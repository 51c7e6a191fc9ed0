-- A database of paht-mail's first release (schema version 1), as `sqlite3 .dump` writes it:
-- one draft report with its event, deadline and sent acknowledgement. tests/integration/
-- test_ops_schema.py upgrades it with `pahtctl migrate` and with pahtd (issue 11.5).
PRAGMA user_version = 1;
BEGIN TRANSACTION;
CREATE TABLE attachment(  id INTEGER PRIMARY KEY,  report_id INTEGER NOT NULL REFERENCES report(id),  raw_id INTEGER,  filename TEXT NOT NULL,  content_type TEXT NOT NULL,  kind TEXT NOT NULL,  content_id TEXT,  dangerous INTEGER NOT NULL DEFAULT 0,  size INTEGER NOT NULL,  sha256 TEXT NOT NULL,  path TEXT NOT NULL) STRICT;
CREATE TABLE code_sequence(  prefix TEXT NOT NULL,  year INTEGER NOT NULL,  last INTEGER NOT NULL,  PRIMARY KEY (prefix, year)) STRICT;
INSERT INTO "code_sequence" VALUES('PAHT',2026,1);
CREATE TABLE deadline(  report_id INTEGER NOT NULL REFERENCES report(id),  name TEXT NOT NULL,  due INTEGER NOT NULL,  PRIMARY KEY (report_id, name)) STRICT;
INSERT INTO "deadline" VALUES(1,'assign',1768201800);
CREATE TABLE event(  id INTEGER PRIMARY KEY,  report_id INTEGER NOT NULL REFERENCES report(id),  at INTEGER NOT NULL,  actor TEXT NOT NULL,  kind TEXT NOT NULL,  detail TEXT) STRICT;
INSERT INTO "event" VALUES(1,1,1768183800,'pahtd','received',NULL);
CREATE TABLE mailbox_state(  mailbox TEXT PRIMARY KEY,  uidvalidity INTEGER NOT NULL,  uidnext INTEGER NOT NULL,  highestmodseq INTEGER NOT NULL DEFAULT 0,  updated_at INTEGER NOT NULL) STRICT;
CREATE TABLE outbox(  id INTEGER PRIMARY KEY,  dedupe_key TEXT NOT NULL UNIQUE,  kind TEXT NOT NULL,  report_id INTEGER REFERENCES report(id),  rcpt TEXT NOT NULL,  mail_from TEXT NOT NULL,  message_id TEXT NOT NULL,  message BLOB NOT NULL,  state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed')),  attempts INTEGER NOT NULL DEFAULT 0,  next_attempt_at INTEGER NOT NULL,  lease_token TEXT,  lease_until INTEGER,  last_reply TEXT,  created_at INTEGER NOT NULL,  updated_at INTEGER NOT NULL,  sent_at INTEGER) STRICT;
INSERT INTO "outbox" VALUES(1,'ack:1','ack',1,'an.nguyen@example.vn','paht@soctrang.gov.vn','paht.ack.2026-000001.1a2b3c@soctrang.gov.vn',X'46726F6D3A203D3F7574662D383F713F5472756E675F743D43333D41326D5F494F433F3D203C7061687440736F637472616E672E676F762E766E3E0D0A546F3A20616E2E6E677579656E406578616D706C652E766E0D0A5375626A6563743A205B504148542D323032362D3030303030315D20586163206E68616E0D0A4D6573736167652D49443A203C706168742E61636B2E323032362D3030303030312E31613262336340736F637472616E672E676F762E766E3E0D0A0D0A44612074696570206E68616E2E0D0A','sent',1,1768183800,NULL,NULL,'250 2.0.0 Ok: queued',1768183800,1768183805,1768183805);
CREATE TABLE raw_message(  id INTEGER PRIMARY KEY,  mailbox TEXT, uidvalidity INTEGER, uid INTEGER,  message_id TEXT,  sha256 TEXT NOT NULL,  path TEXT NOT NULL,  size INTEGER NOT NULL,  received_at INTEGER NOT NULL,  state TEXT NOT NULL CHECK (state IN    ('fetched', 'processed', 'moved', 'unparsed', 'quarantined')),  classification TEXT,  report_id INTEGER REFERENCES report(id),  attempts INTEGER NOT NULL DEFAULT 0,  error TEXT) STRICT;
CREATE TABLE report(  id INTEGER PRIMARY KEY,  code TEXT NOT NULL UNIQUE,  token TEXT NOT NULL UNIQUE,  state TEXT NOT NULL,  overdue INTEGER NOT NULL DEFAULT 0,  classification TEXT NOT NULL,  rule TEXT,  confidential INTEGER NOT NULL DEFAULT 0,  missing TEXT NOT NULL DEFAULT '',  subject TEXT,  body TEXT,  message_id TEXT,  citizen_name TEXT, citizen_address TEXT, citizen_id_number TEXT,  citizen_phone TEXT, citizen_email TEXT,  location_text TEXT, location_lat REAL, location_lon REAL,  occurred_at TEXT,  agency TEXT,  coordinators TEXT NOT NULL DEFAULT '',  received_at INTEGER NOT NULL,  updated_at INTEGER NOT NULL,  raw_id INTEGER) STRICT;
INSERT INTO "report" VALUES(1,'PAHT-2026-000001','k3v9q2m7x4b8n6c1z5w0','draft',0,'report',NULL,0,'','Đèn đường hỏng trước chợ Phường 2','Đèn đường trước cổng chợ Phường 2 đã hỏng hơn một tuần.','b0c1d2e3@mail.example.vn','Nguyễn Văn An','25 Trần Hưng Đạo, Phường 2','094201001234','0912345678','an.nguyen@example.vn','cổng chợ Phường 2',NULL,NULL,NULL,NULL,'',1768183800,1768183800,NULL);
CREATE INDEX report_state ON report(state, received_at);
CREATE INDEX report_message_id ON report(message_id);
CREATE UNIQUE INDEX raw_message_uid ON raw_message(mailbox, uidvalidity, uid)  WHERE mailbox IS NOT NULL;
CREATE INDEX raw_message_content ON raw_message(sha256);
CREATE INDEX raw_message_message_id ON raw_message(message_id);
CREATE INDEX raw_message_unfinished ON raw_message(mailbox, state)  WHERE state IN ('fetched', 'processed', 'unparsed');
CREATE INDEX attachment_report ON attachment(report_id);
CREATE INDEX event_report ON event(report_id, id);
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE state = 'queued';
CREATE INDEX outbox_lease ON outbox(lease_until) WHERE state = 'sending';
CREATE INDEX outbox_report ON outbox(report_id);
CREATE INDEX outbox_message_id ON outbox(message_id);
CREATE INDEX outbox_state ON outbox(state, id);
COMMIT;
