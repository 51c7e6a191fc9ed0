/* web: pahtweb, the console of the IOC, the agencies and their leaders (issue 13, SPEC §11).
 *
 * A GNU libmicrohttpd server (its own pool of threads) over the same configuration and
 * database as pahtd and pahtctl. Every action goes through the gateway's action functions, so
 * it records the same events and enqueues the same letters as pahtctl; pahtd sends them. It
 * never reads the IMAP or SMTP passwords.
 *
 * What a request meets, in order: the security headers on every answer (CSP without inline
 * script, nosniff, same-origin referrer); a POST from another site (Origin, Sec-Fetch-Site)
 * refused (403) before its body is read, a body larger than allowed refused (413); the session
 * of the cookie (idle and absolute expiry); the form's csrf field (403 without it); who may
 * see the report (404 exactly like a report that does not exist) and take the action (403);
 * the lifecycle (409 with the reason pahtctl prints). Pages are the templates of
 * templates_dir/web, rendered with the letters' mustache renderer (values escaped).
 *
 * Accounts: the roles ioc, admin, agency:CODE, leader:CODE; argon2id password hashes
 * (libsodium crypto_pwhash_str); at most two password checks at a time (each takes 64 MB).
 */
#ifndef PAHT_WEB_H
#define PAHT_WEB_H

#include <glib.h>
#include "conf/conf.h"

G_BEGIN_DECLS

typedef struct WebServer WebServer;

/* Starts serving [web] listen with config (borrowed: it must outlive the server) and returns
 * at once; requests are answered by the server's threads until web_server_stop.
 * PAHT_ERROR_CONFIG when the address cannot be listened on, the TLS files cannot be read
 * (the key must be private: 0600/0400) or the database cannot be opened. */
WebServer *web_server_start(const Config *config, GError **error);
/* What [web] names besides itself, checked before serving (pahtweb --check-config, the unit's
 * ExecStartPre): the pages of templates_dir/web (pages_check), the letters' templates (the
 * actions send letters), and the TLS files when set (readable; the key private, 0600/0400).
 * PAHT_ERROR_CONFIG naming the file (and the line). */
gboolean web_check_config(const Config *config, GError **error);
/* the port it listens on (with listen_port 0, the one the system gave) */
int web_server_port(const WebServer *server);
/* "http://127.0.0.1:8080": where a browser on this machine reaches it */
char *web_server_address(const WebServer *server);
/* stops listening, finishes the requests in hand, frees everything */
void web_server_stop(WebServer *server);

/* ---- accounts (pahtctl user) ------------------------------------------------------------------
 */

/* "ioc", "admin", "agency:CODE" or "leader:CODE" with CODE in the agencies file: *role and
 * *agency (NULL for ioc and admin, the agency's code as the file spells it otherwise).
 * PAHT_ERROR_INPUT naming what is wrong. */
gboolean web_role_parse(const Config *config, const char *text, char **role, char **agency,
                        GError **error);
/* a password fit for an account: 8 to 1024 bytes of UTF-8, not the login itself */
gboolean web_password_acceptable(const char *login, const char *password, char **why);
/* argon2id with libsodium's interactive limits (crypto_pwhash_str) */
char *web_password_hash(const char *password, GError **error);
/* TRUE when password matches hash. At most two checks run at once, the others wait: each
 * takes 64 MB of memory and a tenth of a second, and a burst of logins must not take the
 * server down. */
gboolean web_password_verify(const char *hash, const char *password);

G_END_DECLS

#endif
