/* Reply addresses that act (issue 14): the signed addresses a letter to an agency or a leader
 * offers, paht+<action>-<token>@<the domain of [smtp] reply_to>, and the gateway's key that
 * signs them and the envelope senders of bounces.
 *
 * The token is the first 24 hex digits (96 bits) of HMAC-SHA256(key, letter, report, action,
 * recipient): nobody without the key can make one, and each is good for one action on one
 * report, from the one address the letter went to. The store keeps every address offered
 * (queue/action_address.c): what it was for, when, and its single use. */
#include "letters/letters.h"
#include "notify/notify.h"
#include "util/util.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define TOKEN_HEX 24
/* RFC 5321 §4.5.3.1.1 */
#define LOCAL_PART_MAX 64

/* the actions an address may be for; their words and mailto subjects are labels.ini [action
 * NAME] words and subject */
static const char *const actions[] = {REPLY_ACTION_RESULT,  REPLY_ACTION_EXTEND,
                                      REPLY_ACTION_RETURN,  REPLY_ACTION_OPINION,
                                      REPLY_ACTION_APPROVE, REPLY_ACTION_SENDBACK};

static int action_index(const char *action)
{
    for (gsize i = 0; action && i < G_N_ELEMENTS(actions); i++) {
        if (g_str_equal(actions[i], action))
            return (int)i;
    }
    return -1;
}

/* ---- the gateway's key ----------------------------------------------------------------------- */

/* a key read from a secret file (SPEC §6: mode 0600/0400, checked on the file read) */
static GBytes *key_from(const char *path, GError **error)
{
    char *text = fs_read_secret_file(path, error);
    if (!text)
        return NULL;
    if (strlen(text) < 32) {
        g_free(text);
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG,
                    "%s: too short to be a key (at least 32 characters)", path);
        return NULL;
    }
    gsize len = strlen(text);
    return g_bytes_new_take(text, len);
}

/* A new key at path, unless another process made one first: written whole to a private temp
 * file, then linked into place, which fails when the name is taken (a rename would replace a
 * key whose signatures are already out). */
static gboolean key_create(const char *path, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *temp = NULL;
    int fd = fs_open_private_temp(dir, ".bounce.key.", &temp, error);
    if (fd < 0)
        return FALSE;
    g_autofree char *fresh = random_hex(32);
    int saved = 0;
    if (!fs_write_all(fd, fresh, strlen(fresh)) || fsync(fd) != 0)
        saved = errno;
    close(fd);
    if (!saved && link(temp, path) != 0 && errno != EEXIST)
        saved = errno;
    unlink(temp);
    if (saved) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot write %s: %s", path,
                    g_strerror(saved));
        return FALSE;
    }
    if (!fs_sync_dir(dir, error))
        return FALSE;
    log_notice("created %s: the key that signs envelope senders and reply addresses (set "
               "[smtp] bounce_secret_file to choose your own)",
               path);
    return TRUE;
}

gboolean reply_address_key(const Config *c, gboolean create, GBytes **key, GError **error)
{
    *key = NULL;
    if (c->smtp.bounce_secret && *c->smtp.bounce_secret) {
        *key = g_bytes_new(c->smtp.bounce_secret, strlen(c->smtp.bounce_secret));
        return TRUE;
    }
    /* configured but not read with the passwords (the parser process, pahtctl): this key and
     * no other, never the gateway's own, which would not verify what pahtd signed */
    if (c->smtp.bounce_secret_file) {
        *key = key_from(c->smtp.bounce_secret_file, error);
        return *key != NULL;
    }
    g_autofree char *path = g_build_filename(c->gateway.data_dir, "bounce.key", NULL);
    for (int attempt = 0; attempt < 2; attempt++) {
        GError *local = NULL;
        *key = key_from(path, &local);
        if (*key)
            return TRUE;
        if (!g_error_matches(local, PAHT_ERROR, PAHT_ERROR_NOT_FOUND)) {
            g_propagate_error(error, local);
            return FALSE;
        }
        g_error_free(local);
        if (!create || attempt > 0)
            return TRUE;
        if (!key_create(path, error))
            return FALSE;
    }
    return TRUE;
}

/* ---- addresses ------------------------------------------------------------------------------- */

/* what comes before and after the token: "paht+" and "@soctrang.gov.vn" from [smtp]
 * reply_to "paht+{token}@soctrang.gov.vn", else from [smtp] from "paht@soctrang.gov.vn" */
static gboolean address_frame(const Config *c, char **prefix, char **suffix)
{
    const char *pattern = c->smtp.reply_to;
    const char *mark = pattern ? strstr(pattern, "{token}") : NULL;
    if (mark) {
        *prefix = g_strndup(pattern, (gsize)(mark - pattern));
        *suffix = g_strdup(mark + strlen("{token}"));
        return TRUE;
    }
    const char *at = c->smtp.from ? strrchr(c->smtp.from, '@') : NULL;
    if (!at || at == c->smtp.from)
        return FALSE;
    *prefix = g_strdup_printf("%.*s+", (int)(at - c->smtp.from), c->smtp.from);
    *suffix = g_strdup(at);
    return TRUE;
}

static char *token_of(GBytes *key, const char *letter, gint64 report_id, const char *action,
                      const char *recipient)
{
    g_autofree char *data = g_strdup_printf("a\n%s\n%" G_GINT64_FORMAT "\n%s\n%s", letter,
                                            report_id, action, recipient);
    gsize key_len = 0;
    const guchar *key_data = g_bytes_get_data(key, &key_len);
    g_autofree char *hex = g_compute_hmac_for_data(G_CHECKSUM_SHA256, key_data, key_len,
                                                   (const guchar *)data, strlen(data));
    return g_strndup(hex, TOKEN_HEX);
}

gboolean reply_address_make(const Config *c, Store *store, const char *letter, gint64 report_id,
                            const char *action, const char *recipient, char **address,
                            GError **error)
{
    *address = NULL;
    g_autofree char *who = address_normalise(recipient, NULL);
    g_autofree char *prefix = NULL, *suffix = NULL;
    if (action_index(action) < 0 || !who || !address_frame(c, &prefix, &suffix))
        return TRUE;
    g_autoptr(GBytes) key = NULL;
    if (!reply_address_key(c, TRUE, &key, error))
        return FALSE;
    g_autofree char *token = token_of(key, letter, report_id, action, who);
    g_autofree char *made = g_strdup_printf("%s%s-%s%s", prefix, action, token, suffix);
    const char *at = strrchr(made, '@');
    if (!at || at - made > LOCAL_PART_MAX || !config_is_email(made)) {
        log_warning("no reply address for %s: [smtp] reply_to leaves no room for the token "
                    "(a local part has at most 64 characters)",
                    action);
        return TRUE;
    }
    if (!action_address_record(store, token, report_id, action, who, letter, clock_now_unix(),
                               error))
        return FALSE;
    *address = g_steal_pointer(&made);
    return TRUE;
}

gboolean reply_address_parse(const Config *c, const char *address, char **action, char **token)
{
    *action = NULL;
    *token = NULL;
    g_autofree char *prefix = NULL, *suffix = NULL;
    if (!address || !address_frame(c, &prefix, &suffix))
        return FALSE;
    gsize n = strlen(address), pre = strlen(prefix), post = strlen(suffix);
    if (n <= pre + post || g_ascii_strncasecmp(address, prefix, pre) != 0 ||
        g_ascii_strcasecmp(address + n - post, suffix) != 0)
        return FALSE;
    g_autofree char *middle = g_ascii_strdown(address + pre, (gssize)(n - pre - post));
    char *dash = strrchr(middle, '-');
    if (!dash || strlen(dash + 1) != TOKEN_HEX)
        return FALSE;
    for (const char *p = dash + 1; *p; p++) {
        if (!g_ascii_isxdigit(*p))
            return FALSE;
    }
    *dash = '\0';
    if (action_index(middle) < 0)
        return FALSE;
    *action = g_strdup(middle);
    *token = g_strdup(dash + 1);
    return TRUE;
}

char *reply_address_console(const Config *c, const char *code)
{
    if (!c->web.public_url || !code)
        return NULL;
    g_autofree char *escaped = g_uri_escape_string(code, NULL, FALSE);
    return g_strdup_printf("%s/reports/%s", c->web.public_url, escaped);
}

/* RFC 6068: mailto:ADDRESS?subject=... with the subject's UTF-8 percent-encoded. Only the
 * HTML part links it: percent-encoded, it is a word of 150-250 octets that no plain-text
 * line of 78 octets holds (RFC 5322 §2.1.1); the plain text names address and subject. */
static char *mailto(const char *address, const char *subject)
{
    g_autofree char *escaped = g_uri_escape_string(subject, NULL, FALSE);
    return g_strdup_printf("mailto:%s?subject=%s", address, escaped);
}

gboolean reply_address_offer(const Config *c, Store *store, JsonBuilder *b, const ReplyOffer *offer,
                             char **reply_to, GError **error)
{
    *reply_to = NULL;
    g_autoptr(Labels) labels = offer->actions && offer->actions[0] ? labels_load(c, error) : NULL;
    if (offer->actions && offer->actions[0] && !labels)
        return FALSE;
    json_builder_set_member_name(b, "actions");
    json_builder_begin_object(b);
    gboolean any = FALSE;
    for (const char *const *a = offer->actions; a && *a; a++) {
        g_autofree char *address = NULL;
        if (!reply_address_make(c, store, offer->letter, offer->report_id, *a, offer->recipient,
                                &address, error)) {
            json_builder_end_object(b);
            return FALSE;
        }
        if (!address)
            continue;
        g_autofree char *words = labels_get(labels, "action", *a, "subject", error);
        if (!words) {
            json_builder_end_object(b);
            return FALSE;
        }
        g_autofree char *subject = g_strdup_printf("[%s] %s", offer->code, words);
        g_autofree char *link = mailto(address, subject);
        json_builder_set_member_name(b, *a);
        json_builder_begin_object(b);
        json_member_string_if(b, "address", address);
        json_member_string_if(b, "subject", subject);
        json_member_string_if(b, "mailto", link);
        json_builder_end_object(b);
        if (!*reply_to)
            *reply_to = g_steal_pointer(&address);
        any = TRUE;
    }
    json_member_bool(b, "any", any);
    json_member_int(b, "days", REPLY_ADDRESS_DAYS);
    g_autofree char *until = letters_format_time(c, clock_now_unix() + REPLY_ADDRESS_DAYS * 86400);
    json_member_string_if(b, "until", any ? until : NULL);
    json_builder_end_object(b);
    g_autofree char *console = reply_address_console(c, offer->code);
    json_member_string_if(b, "console", console);
    return TRUE;
}
