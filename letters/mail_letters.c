/* The answers to an agency's or a leader's mail to a reply address that acts (issue 14): a
 * short confirmation to whoever acted, one letter to whoever was refused (why, and what to do
 * instead), and the IOC's alerts. The gateway decides (gateway/agency_mail.c); this file
 * writes. */
#include "letters/letters_private.h"
#include "notify/notify.h"
#include "util/util.h"

#include <string.h>

/* why a mail did not act, as the IOC reads it (the sender's letter says it at length: the
 * template action_refused, a section per reason) */
static const struct {
    const char *reason;
    const char *words;
} refusal_words[] = {
    {MAIL_REFUSAL_UNKNOWN, "địa chỉ trả lời không có trong Hệ thống"},
    {MAIL_REFUSAL_SENDER, "thư không được gửi từ địa chỉ đã nhận thư của Hệ thống"},
    {MAIL_REFUSAL_USED, "địa chỉ trả lời này đã được dùng một lần; thư được lưu làm ghi chú"},
    {MAIL_REFUSAL_EXPIRED, "địa chỉ trả lời đã quá 30 ngày"},
    {MAIL_REFUSAL_STATE, "phản ánh không còn ở giai đoạn cho phép việc này"},
    {MAIL_REFUSAL_AGENCY, "phản ánh không còn do cơ quan của người gửi xử lý"},
    {MAIL_REFUSAL_EXTENDED, "phản ánh đã được gia hạn một lần (khoản 3 Điều 8 Quy chế)"},
    {MAIL_REFUSAL_LATE, "thời hạn xử lý đã qua, không gia hạn được (khoản 3 Điều 8 Quy chế)"},
    {MAIL_REFUSAL_DATE, "không đọc được ngày gia hạn ở dòng đầu thư, hoặc ngày đó không sau "
                        "thời hạn hiện tại"},
    {MAIL_REFUSAL_REASON, "thư không nêu lý do"},
    {MAIL_REFUSAL_EMPTY, "thư không có nội dung và không có tệp đính kèm"},
    {MAIL_REFUSAL_OTHER, "Hệ thống không thực hiện được việc này"},
};

static const char *refusal_in_words(const char *reason)
{
    for (gsize i = 0; i < G_N_ELEMENTS(refusal_words); i++) {
        if (g_str_equal(refusal_words[i].reason, reason))
            return refusal_words[i].words;
    }
    return reason;
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
static void add_action(JsonBuilder *b, const char *action)
{
    json_builder_set_member_name(b, "action");
    json_builder_begin_object(b);
    json_member_string_if(b, "name", action);
    json_member_string_if(b, "words", reply_address_action_words(action));
    json_member_bool(b, action, TRUE);
    json_builder_end_object(b);
}

static void add_state(JsonBuilder *b, const Report *r)
{
    json_member_string_if(b, "state", r->state);
    json_member_string_if(b, "state_text", letters_state_text(r->state));
}

gboolean mail_letters_done(const Config *c, Store *store, gint64 report_id,
                           const MailActionDone *done, GError **error)
{
    g_autoptr(Calendar) calendar = calendar_new_from_config(c);
    g_auto(Ctx) x = {0};
    if (!lifecycle_letters_ctx_load(&x, c, store, calendar, report_id, error))
        return FALSE;
    g_autoptr(JsonBuilder) b = lifecycle_letters_context(&x, TO_INTERNAL);
    add_action(b, done->action);
    json_builder_set_member_name(b, "done");
    json_builder_begin_object(b);
    json_member_string_if(b, "by", done->actor);
    g_autofree char *at = letters_format_time(c, clock_now_unix());
    json_member_string_if(b, "at", at);
    json_member_int(b, "files", done->files);
    add_state(b, x.report);
    json_builder_end_object(b);
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
static void add_refusal(JsonBuilder *b, const Config *c, const MailActionRefusal *refusal)
{
    json_builder_set_member_name(b, "refusal");
    json_builder_begin_object(b);
    json_member_string_if(b, "reason", refusal->reason);
    json_member_string_if(b, "words", refusal_in_words(refusal->reason));
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
}

/* the IOC is told of every refusal, once per mail */
static gboolean alert_refused(const Config *c, Store *store, gint64 report_id,
                              const MailActionRefusal *refusal, GError **error)
{
    g_autofree char *key =
        g_strdup_printf("action-refused-alert:%" G_GINT64_FORMAT, refusal->raw_id);
    g_autofree char *title = g_strdup_printf("Thư đề nghị %s không được thực hiện",
                                             reply_address_action_words(refusal->action));
    g_autofree char *line1 =
        g_strdup_printf("Người gửi: %s%s%s", refusal->sender ? refusal->sender : "(không rõ)",
                        refusal->recipient ? "; địa chỉ trả lời được gửi cho: " : "",
                        refusal->recipient ? refusal->recipient : "");
    g_autofree char *line2 =
        g_strdup_printf("Lý do: %s%s%s.", refusal_in_words(refusal->reason),
                        refusal->detail ? " (" : "", refusal->detail ? refusal->detail : "");
    const char *line3 = refusal->sent
                            ? "Không có gì thay đổi. Người gửi đã nhận thư giải thích lý do và "
                              "cách làm đúng."
                            : "Không có gì thay đổi. Người gửi không nhận thư trả lời (địa chỉ "
                              "không nhận thư tự động, hoặc đã quá giới hạn thư trả lời tự động).";
    const char *lines[] = {line1, line2, line3, NULL};
    return letters_ioc_alert(c, store, key, report_id, title, lines, error);
}

/* an address the store does not know: no report to speak of */
static gboolean refuse_unknown(const Config *c, Store *store, const MailActionRefusal *refusal,
                               gboolean *sent, GError **error)
{
    g_autoptr(JsonBuilder) b = letters_context_new(c, clock_now_unix());
    add_action(b, refusal->action);
    add_refusal(b, c, refusal);
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
        .auto_reply = TRUE,
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
    add_action(b, refusal.action);
    add_refusal(b, c, &refusal);
    json_builder_set_member_name(b, "now");
    json_builder_begin_object(b);
    add_state(b, x.report);
    json_builder_end_object(b);
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
        .auto_reply = TRUE,
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
    g_autoptr(Report) r = report_load_id(store, report_id, error);
    if (!r)
        return FALSE;
    g_autofree char *key = g_strdup_printf("action-held:%" G_GINT64_FORMAT, pending_id);
    g_autofree char *title = g_strdup_printf("Thư đề nghị %s cho phản ánh %s chờ xác nhận",
                                             reply_address_action_words(action), r->code);
    g_autofree char *line1 = g_strdup_printf("Người gửi: %s", sender ? sender : "(không rõ)");
    g_autofree char *line2 = g_strdup_printf("Lý do chờ: %s.", reason);
    g_autofree char *line3 = g_strdup_printf(
        "Thư chưa được thực hiện và người gửi chưa được trả lời. Nếu đúng là thư của người "
        "nhận: pahtctl supplement %" G_GINT64_FORMAT " --confirm (thực hiện như khi thư đến); "
        "nếu không: pahtctl supplement %" G_GINT64_FORMAT " --discard.",
        pending_id, pending_id);
    const char *lines[] = {line1, line2, line3, NULL};
    return letters_ioc_alert(c, store, key, report_id, title, lines, error);
}
