/* The registry of letter kinds: every letter the gateway sends, a row per mail kind of SPEC §6,
 * with who reads it, whether it is an automatic answer, and its templates with how pahtctl
 * preview shows each. No words here: the letters' are in the templates, the kinds' names (as
 * the IOC's digest of failed letters says them) in labels.ini. Data only: this file calls no
 * other file of letters/. */
#include "letters/letters.h"

static const LetterKind kinds[] = {
    /* ---- answers to a citizen's mail: rate-limited (SPEC §3.6) ---- */
    {
        .name = "ack",
        .audience = LETTER_TO_CITIZEN,
        .auto_reply = TRUE,
        .templates = (const LetterTemplate[]){{"ack", LETTER_PREVIEW_ANSWER}, {NULL}},
    },
    {
        .name = "incomplete",
        .audience = LETTER_TO_CITIZEN,
        .auto_reply = TRUE,
        .templates = (const LetterTemplate[]){{"incomplete", LETTER_PREVIEW_ANSWER}, {NULL}},
    },
    {
        .name = "emergency",
        .audience = LETTER_TO_CITIZEN,
        .auto_reply = TRUE,
        .templates = (const LetterTemplate[]){{"emergency", LETTER_PREVIEW_ANSWER}, {NULL}},
    },
    {
        .name = "supplement",
        .audience = LETTER_TO_CITIZEN,
        .auto_reply = TRUE,
        .templates = (const LetterTemplate[]){{"supplement", LETTER_PREVIEW_NONE}, {NULL}},
    },
    {
        .name = "too_large",
        .audience = LETTER_TO_CITIZEN,
        .auto_reply = TRUE,
        .templates = (const LetterTemplate[]){{"too_large", LETTER_PREVIEW_NONE}, {NULL}},
    },
    /* ---- the lifecycle (SPEC §4) ---- */
    {
        .name = "acceptance",
        .audience = LETTER_TO_CITIZEN,
        .templates = (const LetterTemplate[]){{"acceptance", LETTER_PREVIEW_ACCEPT}, {NULL}},
    },
    {
        .name = "assignment",
        .audience = LETTER_TO_AGENCY,
        .templates = (const LetterTemplate[]){{"assignment", LETTER_PREVIEW_ACCEPT}, {NULL}},
    },
    {
        .name = "rejection",
        .audience = LETTER_TO_CITIZEN,
        .templates = (const LetterTemplate[]){{"rejection", LETTER_PREVIEW_REJECT}, {NULL}},
    },
    {
        .name = "extension",
        .audience = LETTER_TO_CITIZEN,
        .templates = (const LetterTemplate[]){{"extension", LETTER_PREVIEW_EXTEND}, {NULL}},
    },
    {
        .name = "approval_request",
        .audience = LETTER_TO_LEADER,
        .templates = (const LetterTemplate[]){{"approval_request", LETTER_PREVIEW_RESULT},
                                              {"result_sent_back", LETTER_PREVIEW_SENT_BACK},
                                              {NULL}},
    },
    {
        .name = "publish_request",
        .audience = LETTER_TO_IOC,
        .templates = (const LetterTemplate[]){{"publish_request", LETTER_PREVIEW_APPROVE}, {NULL}},
    },
    {
        .name = "result",
        .audience = LETTER_TO_CITIZEN,
        .templates = (const LetterTemplate[]){{"result", LETTER_PREVIEW_PUBLISH}, {NULL}},
    },
    {
        .name = "feedback",
        .audience = LETTER_TO_AGENCY,
        .templates = (const LetterTemplate[]){{"feedback", LETTER_PREVIEW_FEEDBACK}, {NULL}},
    },
    {
        .name = "sent_back_to_agency",
        .audience = LETTER_TO_AGENCY,
        .templates =
            (const LetterTemplate[]){{"sent_back_to_agency", LETTER_PREVIEW_SENT_BACK_TO_AGENCY},
                                     {NULL}},
    },
    {
        .name = "opinion",
        .audience = LETTER_TO_AGENCY,
        .templates = (const LetterTemplate[]){{"opinion", LETTER_PREVIEW_OPINION}, {NULL}},
    },
    /* ---- the answers to an agency's or a leader's mail to a reply address (issue 14) ---- */
    {
        .name = "action_done",
        .audience = LETTER_TO_AGENCY | LETTER_TO_LEADER,
        .templates = (const LetterTemplate[]){{"action_done", LETTER_PREVIEW_NONE}, {NULL}},
    },
    {
        /* an answer to whoever wrote (an agency, a leader, or a stranger), rate-limited like
         * the answers to citizens */
        .name = "action_refused",
        .audience = LETTER_TO_CITIZEN,
        .auto_reply = TRUE,
        .templates = (const LetterTemplate[]){{"action_refused", LETTER_PREVIEW_NONE}, {NULL}},
    },
    /* ---- deadlines (SPEC §5) ---- */
    {
        .name = "reminder",
        .audience = LETTER_TO_AGENCY | LETTER_TO_LEADER | LETTER_TO_IOC,
        .templates = (const LetterTemplate[]){{"reminder", LETTER_PREVIEW_REMINDER}, {NULL}},
    },
    {
        .name = "overdue",
        .audience = LETTER_TO_LEADER | LETTER_TO_IOC,
        .templates = (const LetterTemplate[]){{"overdue", LETTER_PREVIEW_OVERDUE}, {NULL}},
    },
    /* ---- the IOC's mailbox (no personal data, Điều 4.5) ---- */
    {
        .name = "ioc_alert",
        .audience = LETTER_TO_IOC,
        .templates = (const LetterTemplate[]){{"returned", LETTER_PREVIEW_RETURN},
                                              {"emergency_alert", LETTER_PREVIEW_ANSWER},
                                              {"reply_added", LETTER_PREVIEW_NONE},
                                              {"supplement_pending", LETTER_PREVIEW_NONE},
                                              {"auto_reply_limit", LETTER_PREVIEW_NONE},
                                              {"mailbox_down", LETTER_PREVIEW_NONE},
                                              {"mailbox_up", LETTER_PREVIEW_NONE},
                                              {"processing_failed", LETTER_PREVIEW_NONE},
                                              {"processing_resumed", LETTER_PREVIEW_NONE},
                                              {"smtp_refused", LETTER_PREVIEW_NONE},
                                              {"unparsed", LETTER_PREVIEW_NONE},
                                              {"too_large_alert", LETTER_PREVIEW_NONE},
                                              {"fetch_given_up", LETTER_PREVIEW_NONE},
                                              {"move_refused", LETTER_PREVIEW_NONE},
                                              {"disk_low", LETTER_PREVIEW_NONE},
                                              {"scheduler_failed", LETTER_PREVIEW_NONE},
                                              {"action_refused_alert", LETTER_PREVIEW_NONE},
                                              {"action_held", LETTER_PREVIEW_NONE},
                                              {NULL}},
    },
    {
        .name = "digest",
        .audience = LETTER_TO_IOC,
        .templates = (const LetterTemplate[]){{"digest", LETTER_PREVIEW_NONE}, {NULL}},
    },
    /* ---- the statistics the province sends upward (Điều 11.6, 11.8) ---- */
    {
        .name = "stats_digest",
        .audience = LETTER_TO_REPORTS,
        .templates = (const LetterTemplate[]){{"stats_digest", LETTER_PREVIEW_NONE}, {NULL}},
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
