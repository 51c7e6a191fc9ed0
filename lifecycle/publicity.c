/* What the IOC makes public of a report besides what Open311 always shows (issue 15): its
 * images, one by one. A citizen's photo may show faces, house numbers, plates: nothing is
 * public until the IOC looked at it and said so, and never an image of a confidential
 * report (Điều 9.3.b). */
#include "lifecycle/lifecycle.h"
#include "util/util.h"

static const StoredAttachment *image_of(const Report *r, guint index, GError **error)
{
    if (!r->attachments || index < 1 || index > r->attachments->len) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED, "%s has no file %u (it has %u)", r->code,
                    index, r->attachments ? r->attachments->len : 0);
        return NULL;
    }
    const StoredAttachment *a = g_ptr_array_index(r->attachments, index - 1);
    if (!g_str_equal(a->kind, "image") || a->dangerous) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                    "file %u of %s is not an image: only images can be made public", index,
                    r->code);
        return NULL;
    }
    return a;
}

gboolean lifecycle_image_public(Store *store, const Lifecycle *lc, gint64 report_id, guint index,
                                gboolean public_, GError **error)
{
    g_autoptr(Report) r = report_load_id(store, report_id, error);
    if (!r)
        return FALSE;
    if (public_ && r->confidential) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                    "%s is confidential (Điều 9.3.b): none of its files can be public", r->code);
        return FALSE;
    }
    const StoredAttachment *a = image_of(r, index, error);
    if (!a || !store_begin(store, error))
        return FALSE;
    /* the file's number, never its name: a name may carry the citizen's */
    g_autofree char *detail = g_strdup_printf("tệp %u", index);
    gboolean ok = public_image_set(store, r->id, a->sha256, public_, lc->actor, error) &&
                  event_add(store, r->id, lc->actor, public_ ? "image_public" : "image_private",
                            detail, error) &&
                  store_commit(store, error);
    if (!ok)
        store_rollback(store);
    return ok;
}
