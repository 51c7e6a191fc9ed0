/* Private to letters/: what lifecycle_letters.c shares with the files after it. The files, in
 * the order in which each uses only those before it (tools/check-layers checks):
 *   letters.c            answers to mail, the outbox's one way in, IOC alerts
 *   redact.c             what readers other than the citizen see
 *   reply_address.c      the signed reply addresses that act (issue 14) and the gateway's key
 *   lifecycle_letters.c  the lifecycle's actions with their letters; a report's letter context
 *   mail_letters.c       the answers to an agency's or a leader's mail to a reply address */
#ifndef PAHT_LETTERS_PRIVATE_H
#define PAHT_LETTERS_PRIVATE_H

#include "letters/letters.h"

typedef enum {
    TO_CITIZEN,  /* the citizen's own data is theirs */
    TO_AGENCY,   /* what processing needs (see letters.h) */
    TO_INTERNAL, /* leader, IOC, anyone else: no personal data */
} Audience;

/* what every letter of a report is built from */
typedef struct {
    const Config *config;
    Store *store;
    const Calendar *calendar;
    Report *report;
    LifecycleRecord *record;
    gboolean preview;  /* dedupe keys that never collide with a real letter */
    gint64 not_before; /* reminders: inside working hours only */
} Ctx;

void lifecycle_letters_ctx_clear(Ctx *x);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Ctx, lifecycle_letters_ctx_clear)
/* the report id and its lifecycle record, loaded into x */
gboolean lifecycle_letters_ctx_load(Ctx *x, const Config *config, Store *store,
                                    const Calendar *calendar, gint64 report_id, GError **error);

/* the letter's context: common members, the report as the audience may see it, the agency,
 * the deadlines, the result (the JsonBuilder's object is open) */
JsonBuilder *lifecycle_letters_context(const Ctx *x, Audience who);

/* Whom an official letter goes to, and so which actions its reply addresses offer (issue 14),
 * each only while the report's state allows it: the main agency's contact its result, an
 * extension (not after one) and a return; a coordinating agency's contact its opinion; the
 * main agency's leader the approval of a submitted result or sending it back. */
typedef enum {
    OFFICIAL_NONE,         /* the IOC, a coordinating agency's leader: no actions */
    OFFICIAL_MAIN_CONTACT, /* the main agency's contact */
    OFFICIAL_COORDINATOR,  /* a coordinating agency's contact */
    OFFICIAL_LEADER,       /* the main agency's leader */
} OfficialRole;

typedef struct {
    const char *kind;
    const char *template_name; /* NULL: kind */
    const char *key;           /* the dedupe key (also signs its reply addresses) */
    const char *name, *address;
    OfficialRole role;
    const char *in_reply_to;       /* the mail it answers (without <>), or NULL */
    const char *const *references; /* NULL-terminated, or NULL */
    gboolean *enqueued;            /* out (may be NULL): a letter was enqueued now */
} OfficialLetter;

/* A letter to an agency, a leader, the IOC or another sender of official mail: its reply
 * addresses (and the console link) in the context, Reply-To the first of them; without one,
 * Reply-To the IOC, so that answers go to people, never back into the gateway where they
 * could pass for the citizen's. Enqueued in the caller's transaction. */
gboolean lifecycle_letters_official(const Ctx *x, const OfficialLetter *letter, JsonBuilder *b,
                                    GError **error);

/* a dedupe key from fmt; a preview's never collides with a letter's */
char *lifecycle_letters_key(const Ctx *x, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* the report's agency files of role (ATTACHMENT_*) from message raw_id (0: from any) as a
 * context member: [{filename, kind, size}], and member_count */
void lifecycle_letters_add_files(JsonBuilder *b, const char *member, const Report *report,
                                 const char *role, gint64 raw_id);

#endif
