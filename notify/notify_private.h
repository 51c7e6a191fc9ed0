/* notify, private: what template.c, letter.c and smtp.c share, and what the unit tests of
 * notify may call. Nothing outside notify/ and its tests includes this. */
#ifndef PAHT_NOTIFY_PRIVATE_H
#define PAHT_NOTIFY_PRIVATE_H

#include "notify/notify.h"
#include "util/util.h"

G_BEGIN_DECLS

/* Finds the text of partial NAME ({{> NAME}}). Returns a new string; NULL with no error
 * when there is no such partial (it renders as nothing, as the mustache spec says); NULL
 * with an error to stop rendering. */
typedef char *(*TemplatePartialLookup)(const char *name, gpointer user_data, GError **error);

/* template_render with partials and with line numbers counted from first_line (a template
 * that is the tail of a file still reports the file's lines). lookup may be NULL. */
char *template_render_full(const char *template_text, JsonNode *context, gboolean html,
                           int first_line, TemplatePartialLookup lookup, gpointer user_data,
                           GError **error);

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
