/* What the public sees of the store (issue 15, Open311): which reports, and which of their
 * images the IOC made public. What is shown of each is the web's (web/open311.c). */
#include "queue/store_sql.h"
#include "util/util.h"

#include <json-glib/json-glib.h>

/* the codes as one JSON array for json_each(): one statement whatever their number */
static char *codes_json(const char *const *codes)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_array(b);
    for (const char *const *c = codes; c && *c; c++) {
        g_autofree char *up = g_ascii_strup(*c, -1);
        json_builder_add_string_value(b, up);
    }
    json_builder_end_array(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    return json_to_string(root, FALSE);
}

GArray *public_report_ids(Store *store, const PublicQuery *q, GError **error)
{
    /* accepted by the IOC (it has an assignment), never rejected, never confidential (Điều
     * 9.3.b); published and closed reports are "closed" in Open311's words */
    sqlite3_stmt *stmt = store_statement(
        store,
        "SELECT r.id FROM report r JOIN report_lifecycle l ON l.report_id = r.id"
        " WHERE l.assigned_at IS NOT NULL AND r.confidential = 0"
        "   AND r.state NOT IN ('draft', 'incomplete', 'rejected')"
        "   AND (?1 IS NULL OR upper(r.code) IN (SELECT value FROM json_each(?1)))"
        "   AND (?2 IS NULL OR l.category = ?2)"
        "   AND (?3 = 0 OR r.received_at >= ?3) AND (?4 = 0 OR r.received_at < ?4)"
        "   AND (?5 IS NULL OR (r.state IN ('published', 'closed')) = (?5 = 'closed'))"
        " ORDER BY r.received_at DESC, r.id DESC LIMIT ?6",
        error);
    if (!stmt)
        return NULL;
    g_autofree char *codes = q->codes ? codes_json(q->codes) : NULL;
    bind_text_or_null(stmt, 1, codes);
    bind_text_or_null(stmt, 2, q->category);
    sqlite3_bind_int64(stmt, 3, q->from);
    sqlite3_bind_int64(stmt, 4, q->to);
    bind_text_or_null(stmt, 5, q->status);
    sqlite3_bind_int(stmt, 6, q->limit > 0 ? q->limit : -1);
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(gint64));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        gint64 id = sqlite3_column_int64(stmt, 0);
        g_array_append_val(ids, id);
    }
    if (rc != SQLITE_DONE) {
        g_array_unref(ids);
        store_fail(store, error, "list public reports");
        sqlite3_reset(stmt);
        return NULL;
    }
    sqlite3_reset(stmt);
    return ids;
}

/* One mark for "the IOC made this file public" (issue 16's attachment.public): an image so
 * marked is Open311's media and is kept by the purge (Điều 9.3.a, what was published). */
gboolean public_image_set(Store *store, gint64 report_id, const char *sha256, gboolean public_,
                          const char *actor, GError **error)
{
    (void)actor; /* the caller's event names who */
    sqlite3_stmt *stmt =
        store_statement(store,
                        "UPDATE attachment SET public = ?3 WHERE report_id = ?1 AND sha256 = ?2"
                        " AND path <> ''",
                        error);
    if (!stmt)
        return FALSE;
    sqlite3_bind_int64(stmt, 1, report_id);
    sqlite3_bind_text(stmt, 2, sha256, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 3, public_ ? 1 : 0);
    return store_step_done(store, stmt, "mark a public image", error);
}

GPtrArray *public_image_list(Store *store, gint64 report_id, GError **error)
{
    /* each content once, in the order the files came (the first public image is media_url) */
    return store_report_rows(store,
                             "SELECT sha256 FROM attachment WHERE report_id = ? AND public = 1"
                             " AND kind = 'image' AND dangerous = 0 AND path <> ''"
                             " GROUP BY sha256 ORDER BY min(id)",
                             report_id, store_row_first_text, g_free, "read public images", error);
}
