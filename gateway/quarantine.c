/* quarantine: mail set aside (SPEC §3 step 1 and the end of §3).
 *
 * - A message that could not be processed (the parser refused it, hung or crashed) is kept,
 *   raw file and row in state unparsed, moved to quarantine_folder, and reported to the IOC
 *   once; `pahtctl reprocess ID` runs it again after a fix.
 * - A message above max_message_bytes is never downloaded: it stays on the server, goes to
 *   quarantine_folder, its sender is asked once to send fewer or smaller files, and the IOC is
 *   told once.
 * - A message that cannot even be downloaded (the server refuses it, or drops the connection
 *   on it, again and again for more than an hour) goes to quarantine_folder where it stays on
 *   the server, or is left in the inbox when even that is refused; the IOC is told once.
 */
#include "gateway/gateway_private.h"
#include "letters/letters.h"
#include "util/util.h"

#include <gmime/gmime.h>
#include <string.h>

/* "52428800" -> "50 MB", "200000" -> "195 KB": what a citizen reads (1 MB = 1024 KB = 1024 x
 * 1024 bytes, as phones count) */
static char *human_size(gint64 bytes)
{
    double mb = (double)bytes / (1024.0 * 1024.0);
    if (mb >= 10)
        return g_strdup_printf("%.0f MB", mb);
    if (mb >= 1) {
        char *text = g_strdup_printf("%.1f MB", mb);
        return g_strdelimit(text, ".", ','); /* "1,5 MB": the Vietnamese decimal comma */
    }
    return g_strdup_printf("%" G_GINT64_FORMAT " KB", MAX((bytes + 1023) / 1024, 1));
}

/* where a message set aside stays: the quarantine folder of the mailbox */
static JsonBuilder *quarantine_facts(const Config *c, const char *message_id)
{
    JsonBuilder *facts = letters_alert_facts();
    json_member_string(facts, "folder", c->imap.quarantine_folder);
    json_member_string_if(facts, "message_id", message_id);
    return facts;
}

gboolean quarantine_alert_unparsed(Gateway *gw, const RawMessage *raw, GError **error)
{
    const Config *c = gw->config;
    g_autofree char *key = g_strdup_printf("quarantined:%" G_GINT64_FORMAT, raw->id);
    g_autoptr(JsonBuilder) facts = quarantine_facts(c, raw->message_id);
    json_member_int(facts, "message", raw->id);
    json_member_string_if(facts, "reason", raw->error && *raw->error ? raw->error : NULL);
    g_autofree char *size = human_size(raw->size);
    json_member_string(facts, "size", size);
    return letters_ioc_alert(c, gw->store, "unparsed", key, 0, facts, error);
}

/* GMime reads the address list; a group has no address of its own (RFC 5322 §3.4) */
char *quarantine_sender_address(const char *from_header)
{
    if (!from_header)
        return NULL;
    InternetAddressList *list = internet_address_list_parse(NULL, from_header);
    if (!list)
        return NULL;
    char *found = NULL;
    for (int i = 0; i < internet_address_list_length(list) && !found; i++) {
        InternetAddress *a = internet_address_list_get_address(list, i);
        if (!INTERNET_ADDRESS_IS_MAILBOX(a))
            continue;
        const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
        const char *at = addr ? strrchr(addr, '@') : NULL;
        if (!at || at == addr || !at[1] || strchr(addr, '@') != at ||
            !g_utf8_validate(addr, -1, NULL) || !text_is_header_safe(addr) ||
            strpbrk(addr, " \t\"<>,;"))
            continue;
        g_autofree char *domain = g_utf8_strdown(at + 1, -1);
        found = g_strdup_printf("%.*s@%s", (int)(at - addr), addr, domain);
    }
    g_object_unref(list);
    return found;
}

gboolean quarantine_too_large(Gateway *gw, const char *mailbox, guint32 uidvalidity,
                              const ImapMessageInfo *info, const char *message_id,
                              const char *from_header, GError **error)
{
    const Config *c = gw->config;
    gint64 now = clock_now_unix();
    g_autofree char *from_address = quarantine_sender_address(from_header);
    /* once per message: its Message-ID survives a restart, a UIDVALIDITY change and an
     * operator dragging it back to the inbox; without one, its place on the server */
    g_autofree char *identity =
        message_id
            ? g_strdup_printf("mid:%s", message_id)
            : g_strdup_printf("uid:%s/%u/%u", mailbox, (unsigned)uidvalidity, (unsigned)info->uid);
    g_autofree char *answer_key = g_strconcat("too_large:", identity, NULL);
    g_autofree char *alert_key = g_strconcat("too_large_alert:", identity, NULL);
    g_autofree char *size = human_size(info->size);
    g_autofree char *limit = human_size(c->gateway.max_message_bytes);
    g_autofree char *received = letters_format_time(c, now);

    if (!store_begin(gw->store, error))
        return FALSE;
    gboolean answered = FALSE;
    gboolean ok = TRUE;
    if (from_address) {
        g_autoptr(JsonBuilder) b = letters_context_new(c, now);
        json_builder_set_member_name(b, "message");
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "size");
        json_builder_add_string_value(b, size);
        json_builder_set_member_name(b, "limit");
        json_builder_add_string_value(b, limit);
        json_builder_set_member_name(b, "received_at");
        json_builder_add_string_value(b, received);
        json_builder_end_object(b);
        const char *references[] = {message_id, NULL};
        LetterRequest req = {
            .kind = "too_large",
            .dedupe_key = answer_key,
            .to_address = from_address,
            .in_reply_to = message_id,
            .references = message_id ? references : NULL,
        };
        ok = letters_enqueue(c, gw->store, &req, b, &answered, error);
    }
    if (ok) {
        g_autoptr(JsonBuilder) facts = quarantine_facts(c, message_id);
        json_member_string_if(facts, "from", from_address);
        json_member_string(facts, "size", size);
        json_member_string(facts, "limit", limit);
        json_member_bool(facts, "answered", answered);
        ok = letters_ioc_alert(c, gw->store, "too_large_alert", alert_key, 0, facts, error);
    }
    if (!ok || !store_commit(gw->store, error)) {
        store_rollback(gw->store);
        return FALSE;
    }
    g_autofree char *who = log_redact_address(from_address ? from_address : "?");
    log_warning("UID %u from %s is too large (%s > %s): left on the server, moved to %s%s",
                info->uid, who, size, limit, c->imap.quarantine_folder,
                answered ? ", sender answered" : "");
    return TRUE;
}

gboolean quarantine_alert_unfetchable(Gateway *gw, guint32 uid, gint64 size,
                                      const MessageFailure *failure, const char *move_error,
                                      GError **error)
{
    const Config *c = gw->config;
    const char *mailbox = c->imap.server.path;
    g_autofree char *key = g_strdup_printf("unfetchable:%s/%u/%u", mailbox, gw->uidvalidity, uid);
    g_autoptr(JsonBuilder) facts = quarantine_facts(c, NULL);
    json_member_int(facts, "uid", uid);
    json_member_bool(facts, "moved", move_error == NULL);
    json_member_string_if(facts, "move_error", move_error);
    json_member_string(facts, "inbox", mailbox);
    json_member_string(facts, "error", failure->last_error);
    json_member_int(facts, "failures", failure->failures);
    g_autofree char *first = letters_format_time(c, failure->first_at);
    g_autofree char *last = letters_format_time(c, failure->last_at);
    json_member_string(facts, "first", first);
    json_member_string(facts, "last", last);
    g_autofree char *human = size >= 0 ? human_size(size) : NULL;
    json_member_string_if(facts, "size", human);
    return letters_ioc_alert(c, gw->store, "fetch_given_up", key, 0, facts, error);
}

/* ---- pahtctl reprocess ---------------------------------------------------------------------- */

gboolean quarantine_reprocess(Gateway *gw, gint64 raw_id, IngestResult *out, GError **error)
{
    memset(out, 0, sizeof *out);
    g_autoptr(RawMessage) raw = raw_message_get(gw->store, raw_id, error);
    if (!raw)
        return FALSE;
    if (raw_message_is_done(raw)) {
        g_autoptr(Report) report =
            raw->report_id > 0 ? report_load_id(gw->store, raw->report_id, NULL) : NULL;
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                    "message %" G_GINT64_FORMAT " was processed already%s%s", raw_id,
                    report ? " into report " : "", report ? report->code : "");
        return FALSE;
    }
    if (g_str_equal(raw->state, RAW_FETCHED) ||
        (g_str_equal(raw->state, RAW_UNPARSED) && raw->mailbox)) {
        /* pahtd still works on it (or will move it to quarantine first): it is not ours yet */
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_REFUSED,
                    "message %" G_GINT64_FORMAT " is still being handled by pahtd (state %s); "
                    "try again once it is in quarantine",
                    raw_id, raw->state);
        return FALSE;
    }
    gboolean was_quarantined = g_str_equal(raw->state, RAW_QUARANTINED);
    if (!inbound_process_raw(gw, raw, out, error))
        return FALSE;
    if (out->unparsed) {
        /* still refused: it stays where it is, with the new reason */
        return !was_quarantined ||
               raw_message_set_state(gw->store, raw_id, RAW_QUARANTINED, NULL, error);
    }
    log_notice("message %" G_GINT64_FORMAT " reprocessed: %s%s%s", raw_id, out->classification,
               out->code ? " " : "", out->code ? out->code : "");
    /* the original stays in the quarantine folder, where the IOC may delete it; there is
     * nothing left for pahtd to move */
    return !was_quarantined || raw_message_set_state(gw->store, raw_id, RAW_MOVED, NULL, error);
}
