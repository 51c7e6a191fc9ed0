/* Private to app/: what a reader other than the citizen may see of a report (Điều 4.5, 9.3.b,
 * 15.6). The citizen's own letters carry their words as written; agencies, leaders and the IOC
 * get them through these functions. Every function returns a new string (NULL for NULL).
 *
 * What is masked, and where:
 *   text (assignment, feedback)   the ID number and the postal address always; for a
 *                                 confidential report also the name, phone and e-mail
 *   one line (subject, file name) every ID number, phone number and e-mail address, and the
 *                                 citizen's name, confidential or not: a subject is read in
 *                                 every mailbox list and forwarded with the letter
 *   excerpt (IOC alerts)          as a line, and the text's labelled lines: the IOC's mailbox
 *                                 gets no personal data; the report in the system has it
 * A name is matched without regard to diacritics, case and separators: "Trần Thị B",
 * "TRAN THI B", "Tran_Thi_B", "TranThiB". */
#ifndef PAHT_APP_REDACT_H
#define PAHT_APP_REDACT_H

#include "conf/conf.h"
#include "queue/queue.h"

/* what replaces a masked value */
#define REDACT_MASK "[đã ẩn]"

typedef struct {
    const DraftCitizen *citizen; /* the values the parser extracted; NULL: none known */
    const char *sender_name;     /* the From display name when known, or NULL */
    gboolean confidential;       /* Điều 9.3.b: the citizen asked for secrecy */
} RedactCitizen;

/* The citizen's text for an agency: three nets, the values the parser extracted, labelled
 * lines ("CCCD: ...", "Địa chỉ: ...") whose label says what they hold even when the parser
 * missed the value, and numbers shaped like an ID number (or, confidential, a phone). */
char *redact_text(const char *text, const RedactCitizen *who);

/* One line of the citizen's (a subject, a file name's stem, a place): ID numbers, phone
 * numbers, e-mail addresses and the citizen's name masked. */
char *redact_line(const char *line, const RedactCitizen *who);

/* The subject as agencies, leaders and the IOC see it: a confidential report's is neutral,
 * "Phản ánh PAHT-2026-000123 (bảo mật)"; another's is redact_line'd; "(không có tiêu đề)"
 * when there is none. */
char *redact_subject(const char *subject, const char *code, const RedactCitizen *who);

/* An attachment's name as agencies, leaders and the IOC see it: for a confidential report
 * only its place and type, "Tệp 2.jpg" (number counts from 1); else redact_line of the stem,
 * the extension kept. */
char *redact_filename(const char *filename, guint number, const RedactCitizen *who);

/* An excerpt of the citizen's text for an IOC alert: redacted as a confidential text and as
 * a line, on one line, at most max_chars characters, cut at a word boundary with "…". */
char *redact_excerpt(const char *text, const RedactCitizen *who, glong max_chars);

/* A line the gateway writes for the IOC's mailbox (alerts, digests), whoever composed it,
 * and what a mail server said about a citizen's address: the
 * e-mail addresses other than the province's own (smtp from, imap user, ioc_alert_to, the
 * agencies') shortened as in the logs ("n***@gmail.com"), numbers shaped like an ID or phone
 * number masked, and with who (may be NULL) the citizen's values too. A Message-ID written
 * "Message-ID: <...>" stays whole: it is how the IOC finds the mail on the server. */
char *redact_alert_line(const Config *config, const char *line, const RedactCitizen *who);

/* TRUE for the province's own addresses: smtp from, imap user, ioc_alert_to, the agencies'
 * contacts and leaders (case aside) */
gboolean redact_address_is_official(const Config *config, const char *address);

#endif
