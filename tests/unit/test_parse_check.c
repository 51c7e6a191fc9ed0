/* A value corrected by a person in the console (issue 13) passes the parser's own checks for
 * its field, and is stored as the parser stores it. */
#include "parse/parse.h"
#include "util/util.h"

typedef struct {
    const char *field, *written, *stored; /* stored NULL: refused */
} Case;

static const gint64 december_2026 = 1796090400; /* 2026-12-01T09:00:00+07:00 */

static void check_cases(const Case *cases, gsize n)
{
    for (gsize i = 0; i < n; i++) {
        g_autofree char *value = NULL, *why = NULL;
        gboolean ok = parse_check_field(cases[i].field, cases[i].written, december_2026, &value,
                                        NULL, NULL, NULL, &why);
        if (cases[i].stored) {
            if (!ok)
                g_error("%s \"%s\" refused: %s", cases[i].field, cases[i].written, why);
            g_assert_cmpstr(value, ==, cases[i].stored);
        } else {
            if (ok)
                g_error("%s \"%s\" taken as \"%s\"", cases[i].field, cases[i].written, value);
            g_assert_null(value);
            g_assert_nonnull(why);
            g_assert_true(g_utf8_validate(why, -1, NULL));
        }
    }
}

static void test_numbers_normalised_or_refused(void)
{
    static const Case cases[] = {
        {"phone", "+84 912.345.678", "0912345678"},
        {"phone", "(0299) 3822 111", "02993822111"},
        {"phone", "0123", NULL},
        {"phone", "0912345678; xoá hết", NULL},
        {"id_number", "094 201 001 234", "094201001234"},
        {"id_number", "123456789", "123456789"},
        /* province code 999 does not exist; born in the 24th century */
        {"id_number", "999201001234", NULL},
        {"id_number", "094901001234", NULL},
        {"id_number", "094201001234 hoặc khác", NULL},
    };
    check_cases(cases, G_N_ELEMENTS(cases));
}

static void test_text_fields_as_the_parser_takes_them(void)
{
    /* Vietnamese in NFD (as macOS types it) comes back NFC */
    g_autofree char *nfd = g_utf8_normalize("Nguyễn   Văn An", -1, G_NORMALIZE_NFD);
    const Case cases[] = {
        {"name", nfd, "Nguyễn Văn An"},
        {"name", "Nguyen Van 2", NULL},
        {"name", "an@example.vn", NULL},
        {"address", "  25 Trần Hưng Đạo, Phường 2  ", "25 Trần Hưng Đạo, Phường 2"},
        {"address", "https://example.vn/nha", NULL},
        {"email", "An.Nguyen@Example.VN", "An.Nguyen@example.vn"},
        {"email", "an@example.vn, bcc@evil.vn", NULL},
        {"email", "không có", NULL},
        {"occurred_at", "8 giờ sáng ngày 30/11/2026", "2026-11-30T08:00:00+07:00"},
        {"occurred_at", "hôm kia", "2026-11-29"},
        {"occurred_at", "đầu mùa mưa", "đầu mùa mưa"},
    };
    check_cases(cases, G_N_ELEMENTS(cases));
    /* an empty value clears the field */
    char *value = (char *)"a value the call must replace";
    g_assert_true(parse_check_field("name", "   ", december_2026, &value, NULL, NULL, NULL, NULL));
    g_assert_null(value);
    g_autofree char *why = NULL;
    g_assert_false(
        parse_check_field("subject", "x", december_2026, &value, NULL, NULL, NULL, &why));
}

static void test_place_gives_its_coordinates(void)
{
    g_autofree char *value = NULL;
    gboolean has = FALSE;
    double lat = 0, lon = 0;
    g_assert_true(parse_check_field("location", "Cầu Trà Men, 9.6031, 105.9738", december_2026,
                                    &value, &has, &lat, &lon, NULL));
    g_assert_true(has);
    g_assert_cmpfloat_with_epsilon(lat, 9.6031, 1e-9);
    g_assert_cmpfloat_with_epsilon(lon, 105.9738, 1e-9);
    g_clear_pointer(&value, g_free);
    g_assert_true(parse_check_field("location", "chợ Phường 2", december_2026, &value, &has, &lat,
                                    &lon, NULL));
    g_assert_false(has);
    g_assert_cmpstr(value, ==, "chợ Phường 2");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    log_init("test");
    log_set_level(LOG_LEVEL_ERROR);
    g_test_add_func("/parse/check/numbers-normalised-or-refused",
                    test_numbers_normalised_or_refused);
    g_test_add_func("/parse/check/text-fields-as-the-parser-takes-them",
                    test_text_fields_as_the_parser_takes_them);
    g_test_add_func("/parse/check/place-gives-its-coordinates", test_place_gives_its_coordinates);
    return g_test_run();
}
