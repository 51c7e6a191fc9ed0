/* The answers to an agency's or a leader's mail to a reply address that acts (issue 14): a
 * short confirmation to whoever acted, one letter to whoever was refused (why, and what to do
 * instead), and the IOC's alerts. The gateway decides (gateway/agency_mail.c); this file
 * writes. */
#include "letters/letters_private.h"
#include "notify/notify.h"
#include "util/util.h"

#include <string.h>

/* a word of labels.ini [group name] key as member of b; an unknown name (a state or reason of
 * a later version) stands for itself */
static gboolean add_label(JsonBuilder *b, const Config *c, const char *member, const char *group,
                          const char *name, GError **error)
{
    if (!name)
        return TRUE;
    g_autoptr(Labels) labels = labels_load(c, error);
    if (!labels)
        return FALSE;
    g_autofree char *words = labels_get(labels, group, name, "words", NULL);
    json_member_string(b, member, words ? words : name);
    return TRUE;
}

/* the reply addresses whose recipient acted offer again what the report allows now */
static OfficialRole role_of(const char *action)
{
    if (g_str_equal(action, REPLY_ACTION_OPINION))
        return OFFICIAL_COORDINATOR;
    if (g_str_equal(action, REPLY_ACTION_APPROVE) || g_str_equal(action, REPLY_ACTION_SENDBACK))
        return OFFICIAL_LEADER;
    return OFFICIAL_MAIN_CONTACT;
}

/* "action": {"name": ..., "words": ..., "result": true ...}: the templates say what happened
 * for each action */
static gboolean add_action(JsonBuilder *b, const Config *c, const char *action, GError **error)
{
    json_builder_set_member_name(b, "action");
    json_builder_begin_object(b);
    json_member_string_if(b, "name", action);
    gboolean ok = add_label(b, c, "words", "action", action, error);
    json_member_bool(b, action, TRUE);
    json_builder_end_object(b);
    return ok;
}

/* the report's state, and in words (labels.ini [state STATE] words) */
static gboolean add_state(JsonBuilder *b, const Config *c, const Report *r, GError **error)
{
    json_member_string_if(b, "state", r->state);
    return add_label(b, c, "state_text", "state", r->state, error);
}

gboolean mail_letters_done(const Config *c, Store *store, gint64 report_id,
                           const MailActionDone *done, GError **error)
{
    g_autoptr(Calendar) calendar = calendar_new_from_config(c);
    g_auto(Ctx) x = {0};
    if (!lifecycle_letters_ctx_load(&x, c, store, calendar, report_id, error))
        return FALSE;
    g_autoptr(JsonBuilder) b = lifecycle_letters_context(&x, TO_INTERNAL);
    if (!add_action(b, c, done->action, error))
        return FALSE;
    json_builder_set_member_name(b, "done");
    json_builder_begin_object(b);
    json_member_string_if(b, "by", done->actor);
    g_autofree char *at = letters_format_time(c, clock_now_unix());
    json_member_string_if(b, "at", at);
    json_member_int(b, "files", done->files);
    gboolean ok = add_state(b, c, x.report, error);
    json_builder_end_object(b);
    if (!ok)
        return FALSE;
    g_autofree char *key = lifecycle_letters_key(
        &x, "action_done:%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT, report_id, done->raw_id);
    const char *references[] = {done->message_id, NULL};
    OfficialLetter l = {
        .kind = "action_done",
        .key = key,
        .address = done->actor,
        .role = role_of(done->action),
        .in_reply_to = done->message_id,
        .references = done->message_id ? references : NULL,
    };
    return lifecycle_letters_official(&x, &l, b, error);
}

/* "refusal": the reason as a section of its own, and the facts the sender needs */
static gboolean add_refusal(JsonBuilder *b, const Config *c, const MailActionRefusal *refusal,
                            GError **error)
{
    json_builder_set_member_name(b, "refusal");
    json_builder_begin_object(b);
    json_member_string_if(b, "reason", refusal->reason);
    if (!add_label(b, c, "words", "refusal", refusal->reason, error)) {
        json_builder_end_object(b);
        return FALSE;
    }
    /* refusal.why.date etc.: a section of the template for each reason */
    json_builder_set_member_name(b, "why");
    json_builder_begin_object(b);
    json_member_bool(b, refusal->reason, TRUE);
    json_builder_end_object(b);
    json_member_string_if(b, "from", refusal->sender);
    json_member_string_if(b, "recipient", refusal->recipient);
    json_member_bool(b, "rightful", refusal->rightful);
    g_autofree char *offered =
        refusal->offered_at ? letters_format_time(c, refusal->offered_at) : NULL;
    json_member_string_if(b, "offered_at", offered);
    g_autofree char *used = refusal->used_at ? letters_format_time(c, refusal->used_at) : NULL;
    json_member_string_if(b, "used_at", used);
    json_member_int(b, "days", REPLY_ADDRESS_DAYS);
    json_builder_end_object(b);
    return TRUE;
}

/* the IOC is told of every refusal, once per mail (templates/action_refused_alert.*) */
static gboolean alert_refused(const Config *c, Store *store, gint64 report_id,
                              const MailActionRefusal *refusal, GError **error)
{
    g_autofree char *key =
        g_strdup_printf("action-refused-alert:%" G_GINT64_FORMAT, refusal->raw_id);
    g_autoptr(JsonBuilder) facts = letters_alert_facts();
    if (!add_label(facts, c, "action_words", "action", refusal->action, error) ||
        !add_label(facts, c, "reason_words", "refusal", refusal->reason, error))
        return FALSE;
    json_member_string_if(facts, "sender", refusal->sender);
    json_member_string_if(facts, "recipient", refusal->recipient);
    json_member_string_if(facts, "detail", refusal->detail);
    json_member_bool(facts, "sent", refusal->sent);
    return letters_ioc_alert(c, store, "action_refused_alert", key, report_id, facts, error);
}

/* an address the store does not know: no report to speak of */
static gboolean refuse_unknown(const Config *c, Store *store, const MailActionRefusal *refusal,
                               gboolean *sent, GError **error)
{
    g_autoptr(JsonBuilder) b = letters_context_new(c, clock_now_unix());
    if (!add_action(b, c, refusal->action, error) || !add_refusal(b, c, refusal, error))
        return FALSE;
    json_builder_set_member_name(b, "ioc");
    json_builder_begin_object(b);
    json_member_string_if(b, "email", c->gateway.ioc_alert_to);
    json_builder_end_object(b);
    g_autofree char *key = g_strdup_printf("action_refused:0:%" G_GINT64_FORMAT, refusal->raw_id);
    const char *references[] = {refusal->message_id, NULL};
    LetterRequest req = {
        .kind = "action_refused",
        .dedupe_key = key,
        .to_address = refusal->sender,
        .reply_to = c->gateway.ioc_alert_to,
        .in_reply_to = refusal->message_id,
        .references = refusal->message_id ? references : NULL,
    };
    return letters_enqueue(c, store, &req, b, sent, error);
}

gboolean mail_letters_refused(const Config *c, Store *store, gint64 report_id,
                              const MailActionRefusal *given, GError **error)
{
    MailActionRefusal refusal = *given;
    gboolean sent = FALSE;
    if (report_id <= 0) {
        if (!refuse_unknown(c, store, &refusal, &sent, error))
            return FALSE;
        refusal.sent = sent;
        return alert_refused(c, store, 0, &refusal, error);
    }
    g_autoptr(Calendar) calendar = calendar_new_from_config(c);
    g_auto(Ctx) x = {0};
    if (!lifecycle_letters_ctx_load(&x, c, store, calendar, report_id, error))
        return FALSE;
    g_autoptr(JsonBuilder) b = lifecycle_letters_context(&x, TO_INTERNAL);
    if (!add_action(b, c, refusal.action, error) || !add_refusal(b, c, &refusal, error))
        return FALSE;
    json_builder_set_member_name(b, "now");
    json_builder_begin_object(b);
    gboolean ok = add_state(b, c, x.report, error);
    json_builder_end_object(b);
    if (!ok)
        return FALSE;
    g_autofree char *key = lifecycle_letters_key(
        &x, "action_refused:%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT, report_id, refusal.raw_id);
    const char *references[] = {refusal.message_id, NULL};
    /* a stranger gets no address that acts, and its answers go to the IOC's people; the
     * rightful recipient gets what the report allows now (e.g. the extension written again) */
    OfficialLetter l = {
        .kind = "action_refused",
        .key = key,
        .address = refusal.sender,
        .role = refusal.rightful ? role_of(refusal.action) : OFFICIAL_NONE,
        .in_reply_to = refusal.message_id,
        .references = refusal.message_id ? references : NULL,
        .enqueued = &sent,
    };
    if (!lifecycle_letters_official(&x, &l, b, error))
        return FALSE;
    refusal.sent = sent;
    return alert_refused(c, store, report_id, &refusal, error);
}

gboolean mail_letters_held(const Config *c, Store *store, gint64 report_id, gint64 pending_id,
                           const char *action, const char *sender, const char *reason,
                           GError **error)
{
    g_autofree char *key = g_strdup_printf("action-held:%" G_GINT64_FORMAT, pending_id);
    g_autoptr(JsonBuilder) facts = letters_alert_facts();
    if (!add_label(facts, c, "action_words", "action", action, error))
        return FALSE;
    json_member_string_if(facts, "sender", sender);
    json_member_string_if(facts, "reason", reason);
    json_member_int(facts, "pending", pending_id);
    return letters_ioc_alert(c, store, "action_held", key, report_id, facts, error);
}
