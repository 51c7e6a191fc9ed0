/* The registry of letter kinds: every letter the gateway sends, a row per mail kind of SPEC §6,
 * with who reads it, whether it is an automatic answer, and its templates with how pahtctl
 * preview shows each. The words are in the templates; the only words here are the kinds'
 * names, as the IOC's digest of failed letters says them. Data only: this file calls no other
 * file of letters/. */
#include "letters/letters.h"

static const LetterKind kinds[] = {
    /* ---- answers to a citizen's mail: rate-limited (SPEC §3.6) ---- */
    {
        .name = "ack",
        .title = "xác nhận tiếp nhận",
        .audience = LETTER_TO_CITIZEN,
        .auto_reply = TRUE,
        .templates = (const LetterTemplate[]){{"ack", LETTER_PREVIEW_ANSWER}, {NULL}},
    },
    {
        .name = "incomplete",
        .title = "đề nghị bổ sung thông tin",
        .audience = LETTER_TO_CITIZEN,
        .auto_reply = TRUE,
        .templates = (const LetterTemplate[]){{"incomplete", LETTER_PREVIEW_ANSWER}, {NULL}},
    },
    {
        .name = "emergency",
        .title = "hướng dẫn gọi 1022",
        .audience = LETTER_TO_CITIZEN,
        .auto_reply = TRUE,
        .templates = (const LetterTemplate[]){{"emergency", LETTER_PREVIEW_ANSWER}, {NULL}},
    },
    {
        .name = "supplement",
        .title = "xác nhận đã nhận thông tin bổ sung",
        .audience = LETTER_TO_CITIZEN,
        .auto_reply = TRUE,
        .templates = (const LetterTemplate[]){{"supplement", LETTER_PREVIEW_NONE}, {NULL}},
    },
    {
        .name = "too_large",
        .title = "báo thư quá lớn",
        .audience = LETTER_TO_CITIZEN,
        .auto_reply = TRUE,
        .templates = (const LetterTemplate[]){{"too_large", LETTER_PREVIEW_NONE}, {NULL}},
    },
    /* ---- the lifecycle (SPEC §4) ---- */
    {
        .name = "acceptance",
        .title = "thông báo tiếp nhận",
        .audience = LETTER_TO_CITIZEN,
        .templates = (const LetterTemplate[]){{"acceptance", LETTER_PREVIEW_ACCEPT}, {NULL}},
    },
    {
        .name = "assignment",
        .title = "chuyển cơ quan xử lý",
        .audience = LETTER_TO_AGENCY,
        .templates = (const LetterTemplate[]){{"assignment", LETTER_PREVIEW_ACCEPT}, {NULL}},
    },
    {
        .name = "rejection",
        .title = "không tiếp nhận",
        .audience = LETTER_TO_CITIZEN,
        .templates = (const LetterTemplate[]){{"rejection", LETTER_PREVIEW_REJECT}, {NULL}},
    },
    {
        .name = "extension",
        .title = "gia hạn",
        .audience = LETTER_TO_CITIZEN,
        .templates = (const LetterTemplate[]){{"extension", LETTER_PREVIEW_EXTEND}, {NULL}},
    },
    {
        .name = "approval_request",
        .title = "đề nghị phê duyệt",
        .audience = LETTER_TO_LEADER,
        .templates = (const LetterTemplate[]){{"approval_request", LETTER_PREVIEW_RESULT},
                                              {"result_sent_back", LETTER_PREVIEW_SENT_BACK},
                                              {NULL}},
    },
    {
        .name = "publish_request",
        .title = "đề nghị công bố",
        .audience = LETTER_TO_IOC,
        .templates = (const LetterTemplate[]){{"publish_request", LETTER_PREVIEW_APPROVE}, {NULL}},
    },
    {
        .name = "result",
        .title = "kết quả giải quyết",
        .audience = LETTER_TO_CITIZEN,
        .templates = (const LetterTemplate[]){{"result", LETTER_PREVIEW_PUBLISH}, {NULL}},
    },
    {
        .name = "feedback",
        .title = "ý kiến phản hồi",
        .audience = LETTER_TO_AGENCY,
        .templates = (const LetterTemplate[]){{"feedback", LETTER_PREVIEW_FEEDBACK}, {NULL}},
    },
    /* ---- deadlines (SPEC §5) ---- */
    {
        .name = "reminder",
        .title = "nhắc hạn",
        .audience = LETTER_TO_AGENCY | LETTER_TO_LEADER | LETTER_TO_IOC,
        .templates = (const LetterTemplate[]){{"reminder", LETTER_PREVIEW_REMINDER}, {NULL}},
    },
    {
        .name = "overdue",
        .title = "báo quá hạn",
        .audience = LETTER_TO_LEADER | LETTER_TO_IOC,
        .templates = (const LetterTemplate[]){{"overdue", LETTER_PREVIEW_OVERDUE}, {NULL}},
    },
    /* ---- the IOC's mailbox (no personal data, Điều 4.5) ---- */
    {
        .name = "ioc_alert",
        .title = "cảnh báo",
        .audience = LETTER_TO_IOC,
        .templates = (const LetterTemplate[]){{"returned", LETTER_PREVIEW_RETURN},
                                              {"emergency_alert", LETTER_PREVIEW_ANSWER},
                                              {"reply_added", LETTER_PREVIEW_NONE},
                                              {"supplement_pending", LETTER_PREVIEW_NONE},
                                              {"auto_reply_limit", LETTER_PREVIEW_NONE},
                                              {"mailbox_down", LETTER_PREVIEW_NONE},
                                              {"mailbox_up", LETTER_PREVIEW_NONE},
                                              {"smtp_refused", LETTER_PREVIEW_NONE},
                                              {"unparsed", LETTER_PREVIEW_NONE},
                                              {"too_large_alert", LETTER_PREVIEW_NONE},
                                              {"fetch_given_up", LETTER_PREVIEW_NONE},
                                              {NULL}},
    },
    {
        .name = "digest",
        .title = "tổng hợp thư lỗi",
        .audience = LETTER_TO_IOC,
        .templates = (const LetterTemplate[]){{"digest", LETTER_PREVIEW_NONE}, {NULL}},
    },
    {NULL},
};

const LetterKind *kinds_all(void)
{
    return kinds;
}

const LetterKind *kinds_find(const char *name)
{
    for (const LetterKind *k = kinds; name && k->name; k++) {
        if (g_str_equal(k->name, name))
            return k;
    }
    return NULL;
}

const LetterTemplate *kinds_find_template(const LetterKind *kind, const char *name,
                                          const LetterKind **kind_out)
{
    for (const LetterKind *k = kind ? kind : kinds; name && k->name; k++) {
        for (const LetterTemplate *t = k->templates; t->name; t++) {
            if (!g_str_equal(t->name, name))
                continue;
            if (kind_out)
                *kind_out = k;
            return t;
        }
        if (kind)
            break;
    }
    return NULL;
}
