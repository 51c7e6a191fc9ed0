"""history: a gateway database with a long past, made fast (Python 3 sqlite3, plain SQL).

The scale and scheduler figures need 100,000 reports already in the store. Ingesting that many
mails would take longer than the whole benchmark, so a few template reports are made the real
way (pahtd or pahtctl, through every layer, in whatever schema this build has) and then
copied in bulk with INSERT ... SELECT: the report row and every row of every table that has a
report_id column (raw messages, attachments, events, deadlines, letters, and whatever later
migrations add). Nothing here knows the columns in advance: they are read from the database
(PRAGMA table_info / index_list), so the copies follow the schema of the build being measured.

Rules for a copy:
  - report.id and raw_message.id are given explicitly (report.raw_id and X.raw_id point at
    the copy's own raw message); other tables' INTEGER PRIMARY KEYs are left to SQLite;
  - report_id columns point at the copy;
  - a column in a UNIQUE index gets a per-copy value (TEXT: "~N" appended; INTEGER: shifted
    by N * 2^20), and so do code, token, message_id, sha256 and dedupe_key, so that no index
    holds 100,000 equal keys no real history would have;
  - with blob_limit, BLOB columns are cut to that many bytes (a lighter history when the
    measurement never reads them);
  - with shift_seconds, time columns (at, due excepted: *_at) move back by N * shift_seconds,
    so the copies spread over the past instead of all arriving this morning. N takes the
    templates in turn (the first copy of each, then the second of each, the newest copies
    last), as a province's mail mixes its kinds: dated template by template, the newest
    reports of any span were copies of one template, and the web figure's report page, a
    copy's own, met 180 close duplicates among the 200 open reports of the large store and
    50 in the small one;
  - a table that holds nothing but report ids (report_search_pending, the reports waiting for
    the search index, filled by report's INSERT trigger) is not copied, and the copies are
    indexed before the commit, as the history of a running gateway would be.
"""

import re
import sqlite3

ALWAYS_DISTINCT = {"code", "token", "message_id", "sha256", "dedupe_key"}


class HistoryError(RuntimeError):
    pass


def _columns(db, table):
    """[(name, TYPE, is_rowid)]: is_rowid for the INTEGER PRIMARY KEY that aliases the rowid
    (a composite primary key, like deadline's, has none)."""
    # PRAGMA table_info rows: (cid, name, type, notnull, default, pk)
    rows = list(db.execute(f'PRAGMA table_info("{table}")'))
    single = sum(1 for r in rows if r[5]) == 1
    return [(r[1], (r[2] or "").upper(),
             bool(single and r[5] and (r[2] or "").upper() == "INTEGER")) for r in rows]


def _unique_columns(db, table):
    """Columns to make distinct per copy: one per UNIQUE index (its last integer column, else
    its last column), except the rowid."""
    types = {name: typ for name, typ, _ in _columns(db, table)}
    chosen = set()
    for _, index, unique, origin, _ in db.execute(f'PRAGMA index_list("{table}")'):
        if not unique or origin == "pk":
            continue
        cols = [r[2] for r in db.execute(f'PRAGMA index_info("{index}")')]
        if any(c is None for c in cols):
            raise HistoryError(f"{table}: unique index {index} on an expression: cannot copy")
        ints = [c for c in cols if "INT" in types.get(c, "")]
        chosen.add(ints[-1] if ints else cols[-1])
    return chosen


def _tables(db):
    return [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]


def _catch_up_search(db, tables):
    """A history is searchable like one made report by report: from schema 17 a new report
    waits in report_search_pending until a catch-up indexes it (queue/store.c), and the copies
    would all wait for the measured pass. They are indexed here, by the statement the index's
    own update trigger uses for a report's new words, read from the database."""
    if "report_search_pending" not in tables:
        return
    sql = db.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger'"
                     " AND name = 'report_search_update'").fetchone()
    m = re.search(r"INSERT INTO report_search\((rowid, [^)]*)\)\s*VALUES\s*\((new\.id\b.*)\);"
                  r"\s*END\s*$", sql[0] if sql else "", re.S)
    if not m:
        raise HistoryError("report_search_update: no statement that indexes a report")
    values = re.sub(r"\bnew\.", "report.", m.group(2))
    db.execute(f"INSERT INTO report_search({m.group(1)}) SELECT {values} FROM report"
               " WHERE report.id IN (SELECT report_id FROM report_search_pending)")
    db.execute("DELETE FROM report_search_pending")


def clone_reports(path, plan, shift_seconds=0, mark_sent=True, blob_limit=None, progress=None):
    """PLAN: [(template_report_id, copies)]. Adds the copies to the database at PATH in one
    transaction and returns the number of reports it now holds. mark_sent: the copies'
    letters are recorded as sent (history, not a backlog). blob_limit: BLOB columns (the
    letters' bytes) keep only that many bytes in the copies."""
    db = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        db.execute("PRAGMA foreign_keys = OFF")
        # a bulk load into a scratch copy: no journal, no fsync (the caller syncs the file
        # once); the store puts WAL back when the gateway opens it
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.execute("PRAGMA cache_size = -262144")
        tables = _tables(db)
        if "report" not in tables:
            raise HistoryError("no report table")
        cols = {t: _columns(db, t) for t in tables}
        uniq = {t: _unique_columns(db, t) for t in tables}
        children = [t for t in tables
                    if t != "report" and any(c[0] == "report_id" for c in cols[t])]
        has_raw = "raw_message" in children

        db.execute("BEGIN IMMEDIATE")
        report_base = db.execute("SELECT COALESCE(MAX(id), 0) FROM report").fetchone()[0] + 1
        raw_base = (db.execute("SELECT COALESCE(MAX(id), 0) FROM raw_message").fetchone()[0] + 1
                    if has_raw else 0)
        total = sum(copies for _, copies in plan)
        most = max((copies for _, copies in plan), default=0)
        serial = 0  # copies made so far, all templates together
        for turn, (template, copies) in enumerate(plan):
            if copies <= 0:
                continue
            if not db.execute("SELECT 1 FROM report WHERE id = ?", (template,)).fetchone():
                raise HistoryError(f"no template report {template}")
            raws = ([r[0] for r in db.execute(
                "SELECT id FROM raw_message WHERE report_id = ? OR id = "
                "(SELECT raw_id FROM report WHERE id = ?) ORDER BY id", (template, template))]
                if has_raw else [])
            m = max(len(raws), 1)
            # per copy k: s = serial + k; new report id = report_base + s
            params = {"rb": report_base + serial, "wb": raw_base + serial * m, "m": m,
                      "shift": shift_seconds, "most": most, "turns": len(plan), "turn": turn,
                      "tid": template,
                      "copies": copies}
            numbers = ("WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n "
                       "WHERE k + 1 < :copies) ")

            def raw_map(column):
                if not raws:
                    return column
                cases = " ".join(f"WHEN {old} THEN :wb + n.k * :m + {j}"
                                 for j, old in enumerate(raws))
                return f"CASE {column} {cases} ELSE {column} END"

            def expr(table, name, typ, rowid):
                q = f'"{table}"."{name}"'
                if table == "report" and rowid:
                    return ":rb + n.k"
                if table == "raw_message" and rowid:
                    return raw_map(q)
                if name == "report_id":
                    return ":rb + n.k"
                if name == "raw_id":
                    return raw_map(q)
                if name in uniq[table] or (name in ALWAYS_DISTINCT and "INT" not in typ):
                    if "INT" in typ:
                        return f"{q} + (:rb + n.k) * 1048576"
                    return f"{q} || '~' || (:rb + n.k)"
                if blob_limit is not None and "BLOB" in typ:
                    return f"substr({q}, 1, {int(blob_limit)})"
                if shift_seconds and "INT" in typ and (name == "at" or name.endswith("_at")):
                    # copy k of the template in turn j is the ((most - k) * turns - j)-th
                    # newest of all: copy k of every template before copy k + 1 of any
                    return f"{q} - ((:most - n.k) * :turns - :turn) * :shift"
                return q

            for table in ["report"] + children:
                keep = [(n, t, rowid) for n, t, rowid in cols[table]
                        if not (rowid and table not in ("report", "raw_message"))]
                if not keep:
                    continue  # a list of report ids (report_search_pending): made by a trigger
                names = ", ".join(f'"{n}"' for n, _, _ in keep)
                values = ", ".join(expr(table, n, t, pk) for n, t, pk in keep)
                if table == "report":
                    where = '"report".id = :tid'
                elif table == "raw_message" and raws:
                    where = f'"raw_message".id IN ({", ".join(map(str, raws))})'
                else:
                    where = f'"{table}".report_id = :tid'
                db.execute(f'{numbers}INSERT INTO "{table}" ({names}) SELECT {values} '
                           f'FROM "{table}", n WHERE {where}', params)
            serial += copies
            if progress:
                progress(serial, total)
        if mark_sent and "outbox" in tables:
            outbox_cols = {c[0] for c in cols["outbox"]}
            sets = "state = 'sent'"
            if "sent_at" in outbox_cols:
                sets += ", sent_at = COALESCE(sent_at, updated_at)"
            if "lease_token" in outbox_cols:
                sets += ", lease_token = NULL"
            db.execute(f"UPDATE outbox SET {sets} WHERE report_id >= ?", (report_base,))
        _catch_up_search(db, tables)
        db.execute("COMMIT")
        db.execute("PRAGMA journal_mode = WAL")
        return db.execute("SELECT COUNT(*) FROM report").fetchone()[0]
    except sqlite3.Error as e:
        raise HistoryError(f"copying reports: {e}") from None
    finally:
        db.close()
