/* submission: a report filed over Open311 (issue 15) becomes the message a citizen would have
 * sent, and goes the inbound path of every mail. Never a second pipeline: what a mail gets
 * (checks, classification, the emergency and complaint rules, the acknowledgement, the
 * deadlines), an Open311 report gets, and the raw message keeps what the client sent. */
#include "gateway/gateway_private.h"
#include "parse/parse.h"
#include "util/util.h"

#include <gmime/gmime.h>
#include <unistd.h>

/* where a submission without an e-mail address comes from: "noreply" is never answered
 * (letters_never_answer), and .invalid is no domain (RFC 2606) */
#define SUBMISSION_NO_REPLY "noreply@open311.invalid"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeMessage, g_object_unref)

static gpointer gmime_init_once(gpointer unused)
{
    g_mime_init();
    return NULL;
}

/* the labels the parser reads (parse/fields.c), for the attributes that name a field */
static const char *attribute_label(const char *code)
{
    static const char *const labels[][2] = {
        {"address", PARSE_LABEL_ADDRESS},
        {"id_number", PARSE_LABEL_ID_NUMBER},
        {"occurred_at", PARSE_LABEL_OCCURRED_AT},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(labels); i++) {
        if (g_str_equal(labels[i][0], code))
            return labels[i][1];
    }
    return code;
}

static void append_line(GString *text, const char *label, const char *value)
{
    if (value && *value)
        g_string_append_printf(text, "%s: %s\n", label, value);
}

static char *submission_name(const Submission *s)
{
    g_autofree char *name =
        g_strjoin(" ", s->first_name ? s->first_name : "", s->last_name ? s->last_name : "", NULL);
    return g_strstrip(g_steal_pointer(&name));
}

/* the text as a citizen writes it: the report, then the details as labelled lines */
static char *submission_text(const Submission *s)
{
    GString *text = g_string_new(s->description);
    g_string_append(text, "\n\n");
    g_autofree char *name = submission_name(s);
    append_line(text, PARSE_LABEL_NAME, name);
    append_line(text, PARSE_LABEL_PHONE, s->phone);
    for (const char *const *a = s->attributes; a && a[0] && a[1]; a += 2)
        append_line(text, attribute_label(a[0]), a[1]);
    append_line(text, PARSE_LABEL_LOCATION, s->address_string);
    if (s->has_coordinates) {
        char lat[G_ASCII_DTOSTR_BUF_SIZE], lon[G_ASCII_DTOSTR_BUF_SIZE];
        g_autofree char *both =
            g_strdup_printf("%s, %s", g_ascii_formatd(lat, sizeof lat, "%.6f", s->lat),
                            g_ascii_formatd(lon, sizeof lon, "%.6f", s->lon));
        append_line(text, PARSE_LABEL_GPS, both);
    }
    append_line(text, PARSE_LABEL_MEDIA, s->media_url);
    g_autofree char *service = g_strdup_printf("%s (%s)", s->service_name, s->service_code);
    append_line(text, PARSE_LABEL_CATEGORY, service);
    return g_string_free(text, FALSE);
}

static GMimeMessage *submission_message(const Gateway *gw, const Submission *s)
{
    static GOnce once = G_ONCE_INIT;
    g_once(&once, gmime_init_once, NULL);
    GMimeMessage *m = g_mime_message_new(TRUE);
    g_autofree char *name = submission_name(s);
    g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_FROM, *name ? name : NULL,
                               s->email ? s->email : SUBMISSION_NO_REPLY);
    g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_TO, NULL, gw->config->smtp.from);
    g_mime_message_set_subject(m, s->service_name, "utf-8");
    g_autoptr(GDateTime) now = g_date_time_new_from_unix_utc(clock_now_unix());
    g_autoptr(GDateTime) local = g_date_time_to_timezone(now, gw->config->calendar.zone);
    g_mime_message_set_date(m, local);
    g_autofree char *uuid = g_uuid_string_random();
    g_autofree char *id = g_strdup_printf("open311-%s@open311.invalid", uuid);
    g_mime_message_set_message_id(m, id);
    g_mime_object_set_header(GMIME_OBJECT(m), "X-PAHT-Open311-Client", s->client, NULL);
    GMimeTextPart *part = g_mime_text_part_new_with_subtype("plain");
    g_autofree char *text = submission_text(s);
    g_mime_text_part_set_text(part, text);
    g_mime_text_part_set_charset(part, "utf-8");
    g_mime_part_set_content_encoding(GMIME_PART(part), GMIME_CONTENT_ENCODING_BASE64);
    g_mime_message_set_mime_part(m, GMIME_OBJECT(part));
    g_object_unref(part);
    return m;
}

gboolean inbound_submit(Gateway *gw, const Submission *s, IngestResult *out, GError **error)
{
    memset(out, 0, sizeof *out);
    g_autoptr(GMimeMessage) m = submission_message(gw, s);
    g_autofree char *bytes = g_mime_object_to_string(GMIME_OBJECT(m), NULL);
    g_autofree char *temp = NULL;
    int fd = fs_open_private_temp(gw->tmp_dir, "open311-", &temp, error);
    if (fd < 0)
        return FALSE;
    gboolean written = fs_write_all(fd, bytes, strlen(bytes)) && fsync(fd) == 0;
    close(fd);
    if (!written) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_TEMPORARY, "cannot write %s", temp);
        unlink(temp);
        return FALSE;
    }
    log_info("an Open311 report from %s", s->client);
    return inbound_ingest_temp(gw, temp, out, error);
}
