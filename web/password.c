/* Passwords of the console's accounts: argon2id through libsodium (crypto_pwhash_str, which
 * writes the algorithm, its limits and a random salt into the text it returns), and a gate
 * that lets at most two checks run at once. A check takes 64 MB and about a tenth of a
 * second; twenty logins at once must wait their turn, not take the server's memory. The gate
 * is the only lock a check holds: the database is not touched meanwhile. */
#include "web/web_private.h"
#include "util/util.h"

#include <sodium.h>
#include <string.h>

#define PASSWORD_CHECKS_AT_ONCE 2
#define PASSWORD_MIN_BYTES      8
#define PASSWORD_MAX_BYTES      1024

static GMutex gate_lock;
static GCond gate_free;
static int gate_busy, gate_peak;

static void gate_enter(void)
{
    g_mutex_lock(&gate_lock);
    while (gate_busy >= PASSWORD_CHECKS_AT_ONCE)
        g_cond_wait(&gate_free, &gate_lock);
    gate_busy++;
    gate_peak = MAX(gate_peak, gate_busy);
    g_mutex_unlock(&gate_lock);
}

static void gate_leave(void)
{
    g_mutex_lock(&gate_lock);
    gate_busy--;
    g_cond_signal(&gate_free);
    g_mutex_unlock(&gate_lock);
}

int web_password_checks_peak(void)
{
    g_mutex_lock(&gate_lock);
    int peak = gate_peak;
    g_mutex_unlock(&gate_lock);
    return peak;
}

static gboolean sodium_ready(void)
{
    static gsize done;
    static gboolean ok;
    if (g_once_init_enter(&done)) {
        ok = sodium_init() >= 0;
        g_once_init_leave(&done, 1);
    }
    return ok;
}

gboolean web_password_acceptable(const char *login, const char *password, char **why)
{
    gsize n = password ? strlen(password) : 0;
    if (!password || !g_utf8_validate(password, -1, NULL))
        *why = g_strdup("the password is not UTF-8 text");
    else if (n < PASSWORD_MIN_BYTES)
        *why = g_strdup_printf("the password needs at least %d characters", PASSWORD_MIN_BYTES);
    else if (n > PASSWORD_MAX_BYTES)
        *why = g_strdup_printf("the password is longer than %d bytes", PASSWORD_MAX_BYTES);
    else if (login && g_ascii_strcasecmp(login, password) == 0)
        *why = g_strdup("the password cannot be the login");
    else
        return TRUE;
    return FALSE;
}

char *web_password_hash(const char *password, GError **error)
{
    if (!sodium_ready()) {
        g_set_error_literal(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "libsodium did not start");
        return NULL;
    }
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        g_set_error_literal(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY,
                            "not enough memory to hash the password");
        return NULL;
    }
    return g_strdup(out);
}

gboolean web_password_verify(const char *hash, const char *password)
{
    if (!hash || !password || !sodium_ready() || strlen(password) > PASSWORD_MAX_BYTES)
        return FALSE;
    gate_enter();
    gboolean ok = crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
    gate_leave();
    return ok;
}
