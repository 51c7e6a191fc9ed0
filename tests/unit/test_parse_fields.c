/* parse, step "fields": the details of Điều 4 out of what citizens really write, and the
 * checks that keep wrong values out (ID and phone shapes, coordinates, EXIF). */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "parse/parse_private.h"
#include "util/util.h"

/* ---- helpers ------------------------------------------------------------------------------- */

typedef struct {
    char *dir;
    Draft *draft;
} Parsed;

static Parsed parse_bytes(const char *data, gsize len)
{
    Parsed p = {g_dir_make_tmp("paht-fields-XXXXXX", NULL), NULL};
    g_assert_nonnull(p.dir);
    g_autofree char *path = NULL;
    GError *error = NULL;
    int fd = g_file_open_tmp("paht-fields-msg-XXXXXX.eml", &path, &error);
    g_assert_no_error(error);
    g_assert_true(write(fd, data, len) == (ssize_t)len);
    close(fd);
    ParseOptions opts = {.attachments_dir = p.dir, .our_address = "paht@soctrang.gov.vn"};
    p.draft = parse_message_file(path, &opts, &error);
    g_assert_no_error(error);
    g_assert_nonnull(p.draft);
    g_unlink(path);
    return p;
}

/* a plain UTF-8 mail with this body (8bit, CRLF) */
static Parsed parse_body(const char *body)
{
    g_autofree char *message = g_strconcat(
        "From: =?UTF-8?B?Tmd1eeG7hW4gVsSDbiBBbg==?= <an@example.vn>\n"
        "To: paht@soctrang.gov.vn\nSubject: test\nDate: Sat, 28 Nov 2026 09:00:00 +0700\n"
        "Message-ID: <fields@example.vn>\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n",
        body, NULL);
    g_auto(GStrv) lines = g_strsplit(message, "\n", -1);
    g_autofree char *crlf = g_strjoinv("\r\n", lines);
    return parse_bytes(crlf, strlen(crlf));
}

static void parsed_clear(Parsed *p)
{
    draft_free(p->draft);
    fs_remove_tree(p->dir);
    g_free(p->dir);
}

static gboolean has_warning_prefix(const Draft *d, const char *prefix)
{
    for (guint i = 0; i < d->warnings->len; i++) {
        if (g_str_has_prefix(d->warnings->pdata[i], prefix))
            return TRUE;
    }
    return FALSE;
}

/* ---- labelled lines ------------------------------------------------------------------------ */

static void test_labels_with_diacritics(void)
{
    Parsed p = parse_body("Kính gửi Trung tâm,\n\nNắp cống bị vỡ.\n\n"
                          "Họ và tên:   Nguyễn  Văn   An \n"
                          "Địa chỉ liên hệ: 12 Lê Lợi,  phường 3, TP Sóc Trăng.\n"
                          "Số CCCD: 094 201 001 234\n"
                          "Số điện thoại: +84 912 345 678\n"
                          "Địa điểm xảy ra: trước chợ Phường 2\n"
                          "Thời gian: 20h30 ngày 26/11/2026\n");
    Draft *d = p.draft;
    g_assert_cmpstr(d->citizen.name, ==, "Nguyễn Văn An");
    g_assert_cmpstr(d->citizen.address, ==, "12 Lê Lợi, phường 3, TP Sóc Trăng");
    g_assert_cmpstr(d->citizen.id_number, ==, "094201001234");
    g_assert_cmpstr(d->citizen.phone, ==, "0912345678");
    g_assert_cmpstr(d->citizen.email, ==, "an@example.vn");
    g_assert_cmpstr(d->location.text, ==, "trước chợ Phường 2");
    g_assert_false(d->location.has_coordinates);
    g_assert_cmpstr(d->occurred_at, ==, "2026-11-26T20:30:00+07:00");
    g_auto(GStrv) missing = draft_missing_fields(d);
    g_assert_null(missing[0]);
    parsed_clear(&p);
}

static void test_labels_without_diacritics_any_case(void)
{
    Parsed p = parse_body("HO TEN: Tran Thi Be\n"
                          "Dia chi: ap Hoa Thanh, xa Hoa Tu 1\n"
                          "cmnd: 365123456\n"
                          "SDT 0987.654.321\n"
                          "VI TRI: cau Kenh Xang\n"
                          "Luc: 7g sang 25/11/2026\n");
    Draft *d = p.draft;
    g_assert_cmpstr(d->citizen.name, ==, "Tran Thi Be");
    g_assert_cmpstr(d->citizen.address, ==, "ap Hoa Thanh, xa Hoa Tu 1");
    g_assert_cmpstr(d->citizen.id_number, ==, "365123456"); /* the old 9-digit CMND */
    g_assert_cmpstr(d->citizen.phone, ==, "0987654321");    /* no separator after SĐT */
    g_assert_cmpstr(d->location.text, ==, "cau Kenh Xang");
    g_assert_cmpstr(d->occurred_at, ==, "2026-11-25T07:00:00+07:00");
    parsed_clear(&p);
}

static void test_short_labels_where_a_label_starts(void)
{
    Parsed p = parse_body("- Tên: Lý Văn Cường\n"
                          "- DC: 5 Hùng Vương, phường 3\n"
                          "- ĐT: (0299) 3822 111\n"
                          "- Căn cước: 094201009876\n"
                          "- Vị trí: cổng trường tiểu học Phường 3\n");
    Draft *d = p.draft;
    g_assert_cmpstr(d->citizen.name, ==, "Lý Văn Cường");
    g_assert_cmpstr(d->citizen.address, ==, "5 Hùng Vương, phường 3");
    g_assert_cmpstr(d->citizen.phone, ==, "02993822111"); /* landline with area code */
    g_assert_cmpstr(d->citizen.id_number, ==, "094201009876");
    g_assert_cmpstr(d->location.text, ==, "cổng trường tiểu học Phường 3");
    parsed_clear(&p);
}

static void test_short_labels_are_also_plain_words(void)
{
    /* "tên", "lúc", "ĐT" inside a sentence are words, not labels */
    Parsed p = parse_body("Con đường mang tên: Lê Lợi, lúc nào cũng ngập.\n"
                          "Tên đường: Lê Lợi\n"
                          "Khu vực này có dt: 200 mét vuông\n");
    Draft *d = p.draft;
    g_assert_null(d->citizen.name);
    g_assert_null(d->occurred_at);
    g_assert_null(d->citizen.phone);
    parsed_clear(&p);
}

static void test_several_labels_on_one_line(void)
{
    Parsed p = parse_body("Họ tên: Nguyễn Văn Dũng - SĐT: 0912345678, CCCD: 094201001234\n");
    g_assert_cmpstr(p.draft->citizen.name, ==, "Nguyễn Văn Dũng");
    g_assert_cmpstr(p.draft->citizen.phone, ==, "0912345678");
    g_assert_cmpstr(p.draft->citizen.id_number, ==, "094201001234");
    parsed_clear(&p);
}

static void test_value_on_the_next_line_and_blanks(void)
{
    Parsed p =
        parse_body("Họ và tên:\nPhan Thị Én\nĐịa chỉ liên hệ:\nSố căn cước công dân: ......\n"
                   "Số điện thoại: (không có)\nĐịa điểm xảy ra sự việc:\n"
                   "----------------------------\n\nXin cảm ơn.\n");
    Draft *d = p.draft;
    g_assert_cmpstr(d->citizen.name, ==, "Phan Thị Én");
    /* the next line is another label's: not a value */
    g_assert_null(d->citizen.address);
    g_assert_null(d->citizen.id_number);
    g_assert_null(d->citizen.phone);
    g_assert_null(d->location.text);
    parsed_clear(&p);
}

static void test_stated_email_replaces_the_sender(void)
{
    Parsed p = parse_body("Email: Nguyen.Van.An@Gmail.COM\n");
    g_assert_cmpstr(p.draft->citizen.email, ==, "Nguyen.Van.An@gmail.com");
    parsed_clear(&p);
    /* our own address in the text is not the citizen's */
    p = parse_body("Địa chỉ email: paht@soctrang.gov.vn\n");
    g_assert_cmpstr(p.draft->citizen.email, ==, "an@example.vn");
    parsed_clear(&p);
}

static void test_html_table_cells(void)
{
    const char *message =
        "From: khai@vnpt.vn\r\nTo: paht@soctrang.gov.vn\r\nSubject: t\r\n"
        "Date: Sat, 28 Nov 2026 09:00:00 +0700\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "<table><tr><th>Mục</th><th>Thông tin</th></tr>"
        "<tr><td>Họ và tên</td><td>Đoàn Văn Khải</td></tr>"
        "<tr><td>Địa chỉ</td><td>ấp Phú Giao, xã Phú Tâm</td></tr>"
        "<tr><td>CCCD</td><td>094095001122</td></tr>"
        "<tr><td><b>Điện thoại</b></td><td>0355 123 456</td></tr>"
        "<tr><td>Địa điểm</td><td>bờ kênh ấp Phú Giao</td></tr></table>\r\n";
    Parsed p = parse_bytes(message, strlen(message));
    Draft *d = p.draft;
    g_assert_cmpstr(d->citizen.name, ==, "Đoàn Văn Khải");
    g_assert_cmpstr(d->citizen.address, ==, "ấp Phú Giao, xã Phú Tâm");
    g_assert_cmpstr(d->citizen.id_number, ==, "094095001122");
    g_assert_cmpstr(d->citizen.phone, ==, "0355123456");
    g_assert_cmpstr(d->location.text, ==, "bờ kênh ấp Phú Giao");
    parsed_clear(&p);
}

/* ---- running text ---------------------------------------------------------------------------- */

static void test_running_text(void)
{
    Parsed p = parse_body(
        "Tôi tên là Hồ Văn Tài, nhà ở số 42 đường Phạm Hùng, phường 8, TP. Sóc Trăng. Số điện "
        "thoại của tôi là 0376 555 111, CCCD số 094088003344.\n"
        "Sự việc xảy ra tại hẻm 12 đường Phạm Hùng, phường 8 vào lúc 21 giờ tối qua.\n");
    Draft *d = p.draft;
    g_assert_cmpstr(d->citizen.name, ==, "Hồ Văn Tài");
    g_assert_cmpstr(d->citizen.address, ==, "số 42 đường Phạm Hùng, phường 8, TP. Sóc Trăng");
    g_assert_cmpstr(d->citizen.phone, ==, "0376555111");
    g_assert_cmpstr(d->citizen.id_number, ==, "094088003344");
    g_assert_cmpstr(d->location.text, ==,
                    "hẻm 12 đường Phạm Hùng, phường 8 vào lúc 21 giờ tối qua");
    /* "tối qua" counts from the Date header (28/11) */
    g_assert_cmpstr(d->occurred_at, ==, "2026-11-27T21:00:00+07:00");
    parsed_clear(&p);
}

static void test_running_text_negatives(void)
{
    Parsed p = parse_body("Tôi là người dân sống ở đây. Khu nhà ở xã hội bị ngập.\n"
                          "Vừa xảy ra tai nạn ở đầu hẻm.\n");
    Draft *d = p.draft;
    g_assert_null(d->citizen.name);    /* "người dân" is not a name */
    g_assert_null(d->citizen.address); /* "nhà ở xã hội": social housing */
    /* "xảy ra tai nạn" is an accident, not "xảy ra tại ..." */
    g_assert_true(d->location.text == NULL || !g_str_has_prefix(d->location.text, "nạn"));
    parsed_clear(&p);
}

static void test_signature_name(void)
{
    /* the closing line, then the name; or the sender's own display name */
    Parsed p = parse_body("Đèn đường hỏng.\n\nTrân trọng,\nLê Thị Hồng Nhung\n0912 345 678\n");
    g_assert_cmpstr(p.draft->citizen.name, ==, "Lê Thị Hồng Nhung");
    parsed_clear(&p);
    p = parse_body("Đèn đường hỏng.\n\nNguyễn Văn An\n");
    g_assert_cmpstr(p.draft->citizen.name, ==, "Nguyễn Văn An");
    parsed_clear(&p);
    p = parse_body("Đèn đường hỏng ở Phường Hai.\n\nSóc Trăng Xanh\n");
    g_assert_null(p.draft->citizen.name); /* capitalised, but nothing says it is a signature */
    parsed_clear(&p);
}

/* ---- shapes ---------------------------------------------------------------------------------- */

static void test_id_number_shapes(void)
{
    gint64 now = 1795000000;                                     /* 2026-11 */
    g_assert_true(fields_id_number_valid("094201001234", now));  /* Sóc Trăng, male, 2001 */
    g_assert_true(fields_id_number_valid("001085001234", now));  /* Hà Nội, 1985 */
    g_assert_true(fields_id_number_valid("079301001234", now));  /* TP HCM, female, 2001 */
    g_assert_true(fields_id_number_valid("365123456", now));     /* CMND */
    g_assert_false(fields_id_number_valid("123456789012", now)); /* no province 123 */
    g_assert_false(fields_id_number_valid("003201001234", now)); /* 003 is not a code */
    g_assert_false(fields_id_number_valid("097201001234", now)); /* past the last code, 096 */
    g_assert_false(fields_id_number_valid("094701001234", now)); /* century digit 7 */
    g_assert_false(fields_id_number_valid("094230001234", now)); /* born in 2030 */
    g_assert_false(fields_id_number_valid("09420100123", now));  /* 11 digits */
    g_assert_false(fields_id_number_valid("0942010012345", now));
    g_assert_false(fields_id_number_valid("09420100123a", now));

    Parsed p =
        parse_body("Họ tên: Mạc Văn Tuấn\nCCCD: 123456789012\nSố điện thoại: 0123 456 789\n");
    g_assert_null(p.draft->citizen.id_number);
    g_assert_null(p.draft->citizen.phone);
    g_assert_true(has_warning_prefix(p.draft, "ID number given but not a valid"));
    g_assert_true(has_warning_prefix(p.draft, "phone number given but not"));
    /* the warnings never carry the value */
    for (guint i = 0; i < p.draft->warnings->len; i++) {
        g_assert_null(strstr(p.draft->warnings->pdata[i], "123456789012"));
        g_assert_null(strstr(p.draft->warnings->pdata[i], "0123"));
    }
    g_auto(GStrv) missing = draft_missing_fields(p.draft);
    g_autofree char *joined = g_strjoinv(",", missing);
    g_assert_cmpstr(joined, ==, "address,id_number,phone,location");
    parsed_clear(&p);
}

/* none of the bodies gives a value for the citizen's field at offset */
static void assert_field_never_read(const char *const *bodies, gsize n, glong offset)
{
    for (gsize i = 0; i < n; i++) {
        Parsed p = parse_body(bodies[i]);
        const char *value = G_STRUCT_MEMBER(const char *, &p.draft->citizen, offset);
        if (value)
            g_test_message("\"%s\" gave %s", bodies[i], value);
        g_assert_null(value);
        parsed_clear(&p);
    }
}

/* issue 11 item 8: a date, a bank account, a tax code are not the phone (so the real number
 * is asked for); a web address is not the address */
static void test_numbers_that_are_not_phones(void)
{
    static const char *const bodies[] = {
        "Vào lúc 07.05.2026 08:10 xe rác đổ trộm.\n",
        "Ngày 7-5-26 có người đổ rác.\n",
        "Xin hỗ trợ qua STK: 0912345678 Vietcombank.\n",
        "Số tài khoản 0987 654 321 tại ngân hàng MB.\n",
        "Tài khoản ngân hàng: 0355.123.456\n",
        "Mã số thuế: 0301234567\n",
        "Account number 0912345678\n",
        "Chuyển khoản vào 0981 234 567 890 giúp tôi.\n",
        "Mã 09123456789012 đã nộp.\n",
    };
    assert_field_never_read(bodies, G_N_ELEMENTS(bodies), G_STRUCT_OFFSET(DraftCitizen, phone));
    /* ... while the phone beside them is still found */
    Parsed p = parse_body("Vào lúc 07.05.2026 08:10, STK 0912345678. Gọi tôi: 0939 000 111.\n");
    g_assert_cmpstr(p.draft->citizen.phone, ==, "0939000111");
    g_assert_cmpstr(p.draft->occurred_at, ==, "2026-05-07T08:10:00+07:00");
    parsed_clear(&p);
    p = parse_body("Số điện thoại: 0912 345 678 12 người bị ảnh hưởng\n");
    g_assert_cmpstr(p.draft->citizen.phone, ==, "0912345678");
    parsed_clear(&p);
}

static void test_web_address_is_not_the_address(void)
{
    static const char *const bodies[] = {
        "Web Address: https://dichvucong.gov.vn/p/home\n",
        "IP address: 203.113.131.1\n",
        "Address: www.example.vn\n",
        "Address: an.nguyen@example.vn\n",
    };
    assert_field_never_read(bodies, G_N_ELEMENTS(bodies), G_STRUCT_OFFSET(DraftCitizen, address));
    Parsed p = parse_body("Web Address: https://example.vn\nAddress: 12 Lê Lợi, phường 3\n");
    g_assert_cmpstr(p.draft->citizen.address, ==, "12 Lê Lợi, phường 3");
    parsed_clear(&p);
}

static void test_phone_shapes(void)
{
    static const struct {
        const char *written, *expected;
    } cases[] = {
        {"0912345678", "0912345678"},
        {"0912.345.678", "0912345678"},
        {"+84 912 345 678", "0912345678"},
        {"+84912345678", "0912345678"},
        {"84912345678", "0912345678"},
        {"(+84) 0912-345-678", "0912345678"},
        {"+84 (0) 832-111-222", "0832111222"},
        {"0299 3822 111", "02993822111"},
        {"(0299) 3822111", "02993822111"},
        {"0243 826 1234", "02438261234"},
        {"0123 456 789", NULL}, /* 01x: the old 11-digit mobile prefixes, gone since 2018 */
        {"091234567", NULL},
        {"09123456789", NULL},
        {"0412345678", NULL},
        {"1022", NULL},
        {"+1 650 253 0000", NULL},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *got = fields_normalise_phone(cases[i].written);
        g_assert_cmpstr(got, ==, cases[i].expected);
    }
    /* in text: the first number that is one; a CCCD is never a phone */
    Parsed p = parse_body("Số CCCD 094201001234. Gọi 0912 345 678 hoặc 0987 654 321.\n");
    g_assert_cmpstr(p.draft->citizen.phone, ==, "0912345678");
    parsed_clear(&p);
    p = parse_body("Liên hệ qua Zalo: +84 (0) 832-111-222 nhé.\n");
    g_assert_cmpstr(p.draft->citizen.phone, ==, "0832111222");
    parsed_clear(&p);
}

static void test_coordinates(void)
{
    static const struct {
        const char *text;
        double lat, lon;
    } found[] = {
        {"Tọa độ: 9.6025, 105.9739", 9.6025, 105.9739},
        {"ở 9.6025,105.9739 nhé", 9.6025, 105.9739},
        {"https://www.google.com/maps/place/Ch%E1%BB%A3/@9.6030,105.9700,17z/data=!3m1!4b1!4m6"
         "!3m5!1s0x0:0x0!8m2!3d9.6025!4d105.9739",
         9.6025, 105.9739},
        {"https://maps.google.com/?q=9.60250,105.97390", 9.6025, 105.9739},
        {"https://www.google.com/maps/search/?api=1&query=9.6025%2C105.9739", 9.6025, 105.9739},
        {"https://www.google.com/maps/@9.6,105.97,15z", 9.6, 105.97},
        {"vị trí @9.6,105.97 gần chợ", 9.6, 105.97},
        {"geo:9.6025,105.9739", 9.6025, 105.9739},
        {"9°36'09.0\"N 105°58'26.0\"E", 9.6025, 105.973888888},
        {"-33.8688, 151.2093", -33.8688, 151.2093},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(found); i++) {
        double lat = 0, lon = 0;
        g_assert_true(fields_find_coordinates(found[i].text, &lat, &lon));
        g_assert_cmpfloat_with_epsilon(lat, found[i].lat, 1e-6);
        g_assert_cmpfloat_with_epsilon(lon, found[i].lon, 1e-6);
    }
    static const char *const none[] = {
        "giá 1.5, 2.3 triệu",
        "phiên bản 10.123, 200.456",
        "0912.345.678",
        "ngày 26.11.2026",
        "https://maps.app.goo.gl/Xk3pQ9",
        "0.000, 0.000",
        "",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(none); i++) {
        double lat = 0, lon = 0;
        g_assert_false(fields_find_coordinates(none[i], &lat, &lon));
    }
    Parsed p = parse_body("Vị trí: https://maps.google.com/?q=9.60250,105.97390\n");
    g_assert_true(p.draft->location.has_coordinates);
    g_assert_cmpfloat_with_epsilon(p.draft->location.lat, 9.6025, 1e-9);
    g_assert_cmpstr(p.draft->location.text, ==, "https://maps.google.com/?q=9.60250,105.97390");
    g_auto(GStrv) missing = draft_missing_fields(p.draft);
    g_assert_false(g_strv_contains((const char *const *)missing, "location"));
    parsed_clear(&p);
}

static void test_time_of_incident(void)
{
    gint64 ref = 1795831200; /* 2026-11-28T09:00:00+07:00 */
    static const struct {
        const char *written, *expected;
    } cases[] = {
        {"26/11/2026", "2026-11-26"},
        {"26-11-2026 lúc 20:15", "2026-11-26T20:15:00+07:00"},
        {"20h30 ngày 26/11/2026", "2026-11-26T20:30:00+07:00"},
        {"7 giờ 30 sáng ngày 27/11/2026", "2026-11-27T07:30:00+07:00"},
        {"3 giờ chiều ngày 5/11", "2026-11-05T15:00:00+07:00"},
        {"8 giờ tối 26/11", "2026-11-26T20:00:00+07:00"},
        {"ngày 26 tháng 11 năm 2026", "2026-11-26"},
        {"11 giờ đêm 25/11/2026", "2026-11-25T23:00:00+07:00"},
        {"1 giờ trưa hôm nay", "2026-11-28T13:00:00+07:00"},
        {"tối qua", "2026-11-27"},
        {"21h tối qua", "2026-11-27T21:00:00+07:00"},
        {"hôm kia", "2026-11-26"},
        {"28/12", "2025-12-28"}, /* in November: last December, not next month */
        {"khoảng 8 giờ", NULL},  /* no day: kept as written by the caller */
        {"31/02/2026", NULL},
        {"", NULL},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *got = fields_parse_time(cases[i].written, ref);
        g_assert_cmpstr(got, ==, cases[i].expected);
    }
    Parsed p = parse_body("Thời gian: khoảng 8 giờ sáng\n");
    g_assert_cmpstr(p.draft->occurred_at, ==, "khoảng 8 giờ sáng");
    parsed_clear(&p);
}

/* ---- EXIF ------------------------------------------------------------------------------------ */

/* a JPEG with an APP1 EXIF block holding a GPS position (TIFF in either byte order) */
static GByteArray *exif_jpeg(gboolean little, guint32 lat_d, guint32 lat_m, guint32 lat_s100,
                             guint32 lon_d, guint32 lon_m, guint32 lon_s100, char lat_ref,
                             char lon_ref)
{
    GByteArray *t = g_byte_array_new();
#define U16(v)                                                                                     \
    do {                                                                                           \
        guint16 x = (guint16)(v);                                                                  \
        guint8 b[2] = {little ? (guint8)x : (guint8)(x >> 8),                                      \
                       little ? (guint8)(x >> 8) : (guint8)x};                                     \
        g_byte_array_append(t, b, 2);                                                              \
    } while (0)
#define U32(v)                                                                                     \
    do {                                                                                           \
        guint32 x = (guint32)(v);                                                                  \
        guint8 b[4];                                                                               \
        for (int k = 0; k < 4; k++)                                                                \
            b[k] = little ? (guint8)(x >> (8 * k)) : (guint8)(x >> (8 * (3 - k)));                 \
        g_byte_array_append(t, b, 4);                                                              \
    } while (0)
    g_byte_array_append(t, (const guint8 *)(little ? "II" : "MM"), 2);
    U16(42);
    U32(8);
    guint32 gps_ifd = 8 + 2 + 12 + 4;
    guint32 data_at = gps_ifd + 2 + 4 * 12 + 4;
    U16(1);
    U16(0x8825);
    U16(4);
    U32(1);
    U32(gps_ifd);
    U32(0);
    U16(4);
    U16(1);
    U16(2);
    U32(2);
    guint8 ref1[4] = {(guint8)lat_ref, 0, 0, 0};
    g_byte_array_append(t, ref1, 4);
    U16(2);
    U16(5);
    U32(3);
    U32(data_at);
    U16(3);
    U16(2);
    U32(2);
    guint8 ref2[4] = {(guint8)lon_ref, 0, 0, 0};
    g_byte_array_append(t, ref2, 4);
    U16(4);
    U16(5);
    U32(3);
    U32(data_at + 24);
    U32(0);
    U32(lat_d);
    U32(1);
    U32(lat_m);
    U32(1);
    U32(lat_s100);
    U32(100);
    U32(lon_d);
    U32(1);
    U32(lon_m);
    U32(1);
    U32(lon_s100);
    U32(100);
#undef U16
#undef U32
    GByteArray *jpeg = g_byte_array_new();
    const guint8 soi[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 'J', 'F'};
    g_byte_array_append(jpeg, soi, sizeof soi);
    guint16 length = (guint16)(t->len + 6 + 2);
    const guint8 app1[] = {0xFF, 0xE1, (guint8)(length >> 8), (guint8)length, 'E', 'x', 'i', 'f',
                           0,    0};
    g_byte_array_append(jpeg, app1, sizeof app1);
    g_byte_array_append(jpeg, t->data, t->len);
    const guint8 rest[] = {0xFF, 0xDA, 0x00, 0x02, 0x00, 0xFF, 0xD9};
    g_byte_array_append(jpeg, rest, sizeof rest);
    g_byte_array_unref(t);
    return jpeg;
}

static void test_exif_gps(void)
{
    for (int little = 0; little <= 1; little++) {
        g_autoptr(GByteArray) jpeg = exif_jpeg(little, 9, 36, 900, 105, 58, 2604, 'N', 'E');
        double lat = 0, lon = 0;
        g_assert_true(exif_gps_from_jpeg(jpeg->data, jpeg->len, &lat, &lon));
        g_assert_cmpfloat_with_epsilon(lat, 9.6025, 1e-9);
        g_assert_cmpfloat_with_epsilon(lon, 105.9739, 1e-9);
        /* every truncation is refused, never read past the end */
        for (gsize n = 0; n < jpeg->len - 7; n++) {
            guint8 *copy = g_memdup2(jpeg->data, n);
            g_assert_false(exif_gps_from_jpeg(copy, n, &lat, &lon));
            g_free(copy);
        }
    }
    g_autoptr(GByteArray) south = exif_jpeg(FALSE, 33, 52, 0, 151, 12, 0, 'S', 'W');
    double lat = 0, lon = 0;
    g_assert_true(exif_gps_from_jpeg(south->data, south->len, &lat, &lon));
    g_assert_cmpfloat_with_epsilon(lat, -(33 + 52 / 60.0), 1e-9);
    g_assert_cmpfloat_with_epsilon(lon, -(151 + 12 / 60.0), 1e-9);

    /* out-of-range offsets, a zero denominator, impossible degrees, not a JPEG */
    g_autoptr(GByteArray) bad = exif_jpeg(FALSE, 9, 36, 900, 105, 58, 2604, 'N', 'E');
    gsize tiff = 8 + 10;
    guint8 *ifd_offset = bad->data + tiff + 4;
    ifd_offset[0] = 0x7F; /* IFD0 at 2 GB */
    g_assert_false(exif_gps_from_jpeg(bad->data, bad->len, &lat, &lon));
    g_autoptr(GByteArray) zero = exif_jpeg(FALSE, 9, 36, 900, 105, 58, 2604, 'N', 'E');
    guint8 *den = zero->data + zero->len - 7 - 48 + 4; /* the latitude degrees' denominator */
    memset(den, 0, 4);
    g_assert_false(exif_gps_from_jpeg(zero->data, zero->len, &lat, &lon));
    g_autoptr(GByteArray) wild = exif_jpeg(FALSE, 200, 0, 0, 105, 0, 0, 'N', 'E');
    g_assert_false(exif_gps_from_jpeg(wild->data, wild->len, &lat, &lon));
    const guint8 png[] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    g_assert_false(exif_gps_from_jpeg(png, sizeof png, &lat, &lon));

    /* through parse: a photo attached to a mail gives the report its place */
    g_autoptr(GByteArray) photo = exif_jpeg(TRUE, 9, 36, 900, 105, 58, 2604, 'N', 'E');
    g_autofree char *b64 = g_base64_encode(photo->data, photo->len);
    g_autofree char *message = g_strconcat(
        "From: a@example.vn\r\nTo: paht@soctrang.gov.vn\r\nSubject: t\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nẢnh hiện trường.\r\n--b\r\n"
        "Content-Type: image/jpeg; name=IMG_1.JPG\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        b64, "\r\n--b--\r\n", NULL);
    Parsed p = parse_bytes(message, strlen(message));
    g_assert_true(p.draft->location.has_coordinates);
    g_assert_cmpfloat_with_epsilon(p.draft->location.lat, 9.6025, 1e-9);
    g_assert_cmpfloat_with_epsilon(p.draft->location.lon, 105.9739, 1e-9);
    g_assert_null(p.draft->location.text);
    parsed_clear(&p);
}

static void test_auto_mail_is_not_read_for_fields(void)
{
    Parsed p = parse_body("Họ tên: Nguyễn Văn An\n");
    g_assert_cmpstr(p.draft->citizen.name, ==, "Nguyễn Văn An");
    parsed_clear(&p);
    const char *message = "From: a@example.vn\r\nTo: paht@soctrang.gov.vn\r\nSubject: t\r\n"
                          "Auto-Submitted: auto-replied\r\n\r\nHọ tên: Nguyễn Văn An\r\n";
    p = parse_bytes(message, strlen(message));
    g_assert_cmpstr(p.draft->classification, ==, "auto");
    g_assert_null(p.draft->citizen.name);
    parsed_clear(&p);
}

/* A phrase repeated over a whole message once cost minutes (quadratic work per match): each
 * of these must parse in an instant; CTest's timeout catches a return of the old behaviour. */
static void test_hostile_repetition(void)
{
    static const struct {
        const char *piece;
        int times;
    } cases[] = {
        {"lúc 1 ", 40000},           {"tôi là nhà ở ", 20000},
        {"Tên: a, ", 20000},         {"(", 200000},
        {"0.000, 0.000 ", 20000},    {"Họ và tên:\n", 30000},
        {"Trân trọng,\n", 30000},    {"nguy cơ sạt lở đất ", 15000},
        {"hôm qua bị cướp ", 15000},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        GString *body = g_string_new(NULL);
        for (int k = 0; k < cases[i].times; k++)
            g_string_append(body, cases[i].piece);
        Parsed p = parse_body(body->str);
        g_assert_nonnull(p.draft->classification);
        parsed_clear(&p);
        g_string_free(body, TRUE);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    parse_init();
    g_test_add_func("/parse/fields/labels-with-diacritics", test_labels_with_diacritics);
    g_test_add_func("/parse/fields/labels-without-diacritics",
                    test_labels_without_diacritics_any_case);
    g_test_add_func("/parse/fields/short-labels", test_short_labels_where_a_label_starts);
    g_test_add_func("/parse/fields/short-labels-are-words", test_short_labels_are_also_plain_words);
    g_test_add_func("/parse/fields/several-on-one-line", test_several_labels_on_one_line);
    g_test_add_func("/parse/fields/next-line-and-blanks", test_value_on_the_next_line_and_blanks);
    g_test_add_func("/parse/fields/stated-email", test_stated_email_replaces_the_sender);
    g_test_add_func("/parse/fields/html-table", test_html_table_cells);
    g_test_add_func("/parse/fields/running-text", test_running_text);
    g_test_add_func("/parse/fields/running-text-negatives", test_running_text_negatives);
    g_test_add_func("/parse/fields/signature-name", test_signature_name);
    g_test_add_func("/parse/fields/id-number-shapes", test_id_number_shapes);
    g_test_add_func("/parse/fields/phone-shapes", test_phone_shapes);
    g_test_add_func("/parse/fields/numbers-that-are-not-phones", test_numbers_that_are_not_phones);
    g_test_add_func("/parse/fields/web-address-is-not-the-address",
                    test_web_address_is_not_the_address);
    g_test_add_func("/parse/fields/coordinates", test_coordinates);
    g_test_add_func("/parse/fields/time-of-incident", test_time_of_incident);
    g_test_add_func("/parse/fields/exif-gps", test_exif_gps);
    g_test_add_func("/parse/fields/auto-mail-not-read", test_auto_mail_is_not_read_for_fields);
    g_test_add_func("/parse/fields/hostile-repetition", test_hostile_repetition);
    return g_test_run();
}
