/* The JSON of template contexts, written one way everywhere (the letters' contexts, the IOC
 * digest, pahtctl's output). */
#include "notify/notify.h"
#include "util/util.h"

#include <math.h>
#include <string.h>

void json_member_string(JsonBuilder *b, const char *name, const char *value)
{
    json_builder_set_member_name(b, name);
    if (value)
        json_builder_add_string_value(b, value);
    else
        json_builder_add_null_value(b);
}

void json_member_string_if(JsonBuilder *b, const char *name, const char *value)
{
    if (value)
        json_member_string(b, name, value);
}

void json_member_time(JsonBuilder *b, const char *name, gint64 t, GTimeZone *zone)
{
    json_builder_set_member_name(b, name);
    if (t > 0) {
        g_autofree char *text = clock_format_rfc3339(t, zone);
        json_builder_add_string_value(b, text);
    } else {
        json_builder_add_null_value(b);
    }
}

void json_member_strv(JsonBuilder *b, const char *name, char **values)
{
    json_builder_set_member_name(b, name);
    json_builder_begin_array(b);
    for (char **v = values; v && *v; v++)
        json_builder_add_string_value(b, *v);
    json_builder_end_array(b);
}

void json_member_bool(JsonBuilder *b, const char *name, gboolean value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_boolean_value(b, value);
}

void json_member_int(JsonBuilder *b, const char *name, gint64 value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, value);
}

/* JSON-GLib prints every double with 17 significant digits (g_ascii_dtostr), so that the
 * 9.6031 a citizen wrote came out as 9.6030999999999995. The gateway's doubles are
 * coordinates: they print as written, to at most 7 decimals (about 1 cm). */
char *coordinate_text(double degrees)
{
    if (!isfinite(degrees))
        return g_strdup("0");
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    g_ascii_formatd(buf, sizeof buf, "%.7f", degrees);
    char *end = buf + strlen(buf);
    while (end > buf && end[-1] == '0')
        *--end = '\0';
    if (end > buf && end[-1] == '.')
        *--end = '\0';
    if (g_str_equal(buf, "-0"))
        return g_strdup("0");
    return g_strdup(buf);
}
