/* notify, private: what template.c, letter.c and smtp.c share, and what the unit tests of
 * notify may call. Nothing outside notify/ and its tests includes this. */
#ifndef PAHT_NOTIFY_PRIVATE_H
#define PAHT_NOTIFY_PRIVATE_H

#include "notify/notify.h"
#include "util/util.h"

G_BEGIN_DECLS

/* TRUE for a plain ASCII addr-spec "local@domain" (dot-atom local part, host name domain):
 * no display name, no comment, no comma, no quotes, no white space, no control character.
 * Everything we put in a header or an SMTP envelope passes this first. */
gboolean notify_address_is_plain(const char *address);

/* What a failed send means (smtp.c; pure, for the unit tests): curl_code a CURLcode,
 * response the last SMTP reply code (0: none), stage where the dialogue stopped, reply the
 * server's last line (may be NULL). */
PahtErrorCode smtp_failure_kind(int curl_code, long response, SmtpStage stage, const char *reply);

G_END_DECLS

#endif
