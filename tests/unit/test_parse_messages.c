/* parse: whole messages (the .eml fixtures in tests/mail, one behaviour each) -> exact drafts.
 *
 * Expected attachment sizes and SHA-256 digests are those of the payloads the fixtures were
 * made from (computed outside parse), so a decoder that loses or adds a byte fails here. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "parse/parse.h"
#include "util/util.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static char *fixture_path(const char *name)
{
    const char *dir = g_getenv("PAHT_TEST_MAIL_DIR");
    if (dir && *dir)
        return g_build_filename(dir, name, NULL);
    g_autofree char *here = g_path_get_dirname(__FILE__);
    return g_build_filename(here, "..", "mail", name, NULL);
}

static char *make_dir(void)
{
    GError *error = NULL;
    char *dir = g_dir_make_tmp("paht-parse-XXXXXX", &error);
    g_assert_no_error(error);
    return dir;
}

static guint dir_count(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    g_assert_nonnull(dir);
    guint n = 0;
    while (g_dir_read_name(dir))
        n++;
    g_dir_close(dir);
    return n;
}

typedef struct {
    char *dir;
    Draft *draft;
} Parsed;

static Parsed parse_with(const char *path, const char *our_address)
{
    Parsed p = {make_dir(), NULL};
    ParseOptions opts = {.attachments_dir = p.dir, .our_address = our_address};
    GError *error = NULL;
    p.draft = parse_message_file(path, &opts, &error);
    g_assert_no_error(error);
    g_assert_nonnull(p.draft);
    return p;
}

static Parsed parse_fixture(const char *name)
{
    g_autofree char *path = fixture_path(name);
    return parse_with(path, "paht@soctrang.gov.vn");
}

/* a message written for one test (CRLF line ends, like mail on disk) */
static Parsed parse_text(const char *message, const char *our_address)
{
    g_autofree char *crlf = NULL;
    g_auto(GStrv) lines = g_strsplit(message, "\n", -1);
    crlf = g_strjoinv("\r\n", lines);
    g_autofree char *path = NULL;
    GError *error = NULL;
    int fd = g_file_open_tmp("paht-parse-msg-XXXXXX.eml", &path, &error);
    g_assert_no_error(error);
    g_assert_true(write(fd, crlf, strlen(crlf)) == (ssize_t)strlen(crlf));
    close(fd);
    Parsed p = parse_with(path, our_address);
    g_unlink(path);
    return p;
}

static void parsed_clear(Parsed *p)
{
    draft_free(p->draft);
    fs_remove_tree(p->dir);
    g_free(p->dir);
}

static gboolean has_warning(const Draft *d, const char *text)
{
    for (guint i = 0; i < d->warnings->len; i++) {
        if (strcmp(d->warnings->pdata[i], text) == 0)
            return TRUE;
    }
    return FALSE;
}

static gint64 unix_time(const char *iso)
{
    g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(iso, NULL);
    g_assert_nonnull(dt);
    return g_date_time_to_unix(dt);
}

static void assert_nfc(const char *s)
{
    g_autofree char *nfc = g_utf8_normalize(s, -1, G_NORMALIZE_NFC);
    g_assert_cmpstr(s, ==, nfc);
}

static DraftAttachment *attachment(const Draft *d, guint i)
{
    g_assert_cmpuint(d->attachments->len, >, i);
    return d->attachments->pdata[i];
}

/* the attachment's file: ours (part-NNNN in the folder), private, and holding what we said */
static void assert_attachment(const Parsed *p, guint i, const char *filename,
                              const char *content_type, const char *kind, gint64 size,
                              const char *sha256)
{
    DraftAttachment *a = attachment(p->draft, i);
    g_assert_cmpstr(a->filename, ==, filename);
    g_assert_cmpstr(a->content_type, ==, content_type);
    g_assert_cmpstr(a->kind, ==, kind);
    g_assert_cmpint(a->size, ==, size);
    g_assert_cmpstr(a->sha256, ==, sha256);
    g_autofree char *dir = g_path_get_dirname(a->path);
    g_autofree char *base = g_path_get_basename(a->path);
    g_assert_cmpstr(dir, ==, p->dir);
    g_assert_true(g_str_has_prefix(base, "part-"));
    struct stat st;
    g_assert_cmpint(stat(a->path, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    gint64 file_size = 0;
    GError *error = NULL;
    g_autofree char *digest = sha256_file(a->path, &file_size, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(digest, ==, sha256);
    g_assert_cmpint(file_size, ==, size);
}

/* ---- headers and plain text ---------------------------------------------------------------- */

static const char *const report_vi =
    "Kính gửi Trung tâm IOC tỉnh Sóc Trăng,\n"
    "\n"
    "Tôi xin phản ánh tình trạng đèn đường hư hỏng trên đường Trần Hưng Đạo, phường 2, "
    "thành phố Sóc Trăng. Đã ba tuần nay đèn không sáng, người dân đi lại ban đêm rất nguy "
    "hiểm.\n"
    "\n"
    "Họ và tên: Nguyễn Văn An\n"
    "Địa chỉ: 123 Lê Lợi, phường 6, TP Sóc Trăng\n"
    "Số điện thoại: 0912 345 678\n"
    "\n"
    "Trân trọng.";

static void test_plain_utf8_headers_and_text(void)
{
    Parsed p = parse_fixture("plain-utf8-vietnamese.eml");
    Draft *d = p.draft;
    g_assert_cmpstr(d->message_id, ==, "CAF8x+3kQ1vN@mail.gmail.com");
    g_assert_null(d->in_reply_to);
    g_assert_cmpuint(d->references->len, ==, 0);
    g_assert_cmpstr(d->subject, ==, "Phản ánh đèn đường hư trên đường Trần Hưng Đạo");
    g_assert_cmpstr(d->from_name, ==, "Nguyễn Văn An");
    /* the local part keeps its case, the domain is lowercased */
    g_assert_cmpstr(d->from_address, ==, "An.Nguyen.ST@gmail.com");
    g_assert_cmpstr(d->reply_to_address, ==, "an.nguyen.st@gmail.com");
    g_assert_cmpstr(d->return_path, ==, "An.Nguyen.ST@gmail.com");
    g_assert_cmpuint(d->recipients->len, ==, 3);
    g_assert_cmpstr(d->recipients->pdata[0], ==, "paht@soctrang.gov.vn");
    g_assert_cmpstr(d->recipients->pdata[1], ==, "phuong2@soctrang.gov.vn");
    g_assert_cmpstr(d->recipients->pdata[2], ==, "todanpho5.p2@gmail.com");
    g_assert_cmpint(d->date, ==, unix_time("2026-01-12T08:30:15+07:00"));
    g_assert_cmpstr(d->text, ==, report_vi);
    assert_nfc(d->text);
    g_assert_null(d->quoted_text);
    g_assert_cmpstr(d->classification, ==, "report");
    g_assert_cmpstr(d->rule, ==, "default");
    g_assert_cmpstr(d->citizen.email, ==, "An.Nguyen.ST@gmail.com");
    /* the labelled lines (fields.c; more in test_parse_fields.c) */
    g_assert_cmpstr(d->citizen.name, ==, "Nguyễn Văn An");
    g_assert_cmpstr(d->citizen.phone, ==, "0912345678");
    g_assert_null(d->citizen.id_number);
    g_assert_cmpstr(d->citizen.address, ==, "123 Lê Lợi, phường 6, TP Sóc Trăng");
    g_assert_cmpuint(d->attachments->len, ==, 0);
    g_assert_cmpuint(d->warnings->len, ==, 0);
    parsed_clear(&p);
}

static void test_alternative_prefers_plain_qp(void)
{
    Parsed p = parse_fixture("alternative-qp-text-base64-html.eml");
    g_assert_cmpstr(p.draft->subject, ==, "Bãi rác tự phát hẻm 14 Phú Lợi");
    g_assert_cmpstr(p.draft->from_name, ==, "Lê Thị Hồng");
    g_assert_cmpstr(p.draft->text, ==,
                    "Kính gửi Quý cơ quan,\n\nTại hẻm 14 đường Phú Lợi, khóm 3, phường 2 có một "
                    "bãi rác tự phát rất lớn, bốc mùi hôi thối suốt mấy tuần nay. Đề nghị cơ "
                    "quan chức năng kiểm tra và xử lý sớm.\n\nĐịa điểm: hẻm 14 Phú Lợi, khóm 3, "
                    "phường 2\nThời gian: sáng ngày 10/01/2026\n\nXin cảm ơn.\nLê Thị Hồng");
    /* the HTML rendering is neither the text nor an attachment */
    g_assert_null(strstr(p.draft->text, "phiên bản HTML"));
    g_assert_cmpuint(p.draft->attachments->len, ==, 0);
    parsed_clear(&p);
}

static void test_html_only_to_text(void)
{
    Parsed p = parse_fixture("html-only-script-style-table-links.eml");
    g_assert_cmpstr(p.draft->subject, ==, "Cây ngã chắn đường Nguyễn Huệ");
    g_assert_cmpstr(p.draft->text, ==,
                    "Kính gửi Trung tâm IOC,\n"
                    "Cây xanh ngã đổ chắn ngang đường Nguyễn Huệ sau cơn mưa tối qua.\n"
                    "Xe máy không qua được.\n"
                    "Mục\tThông tin\n"
                    "Họ tên\tTrần Văn Bình\n"
                    "Điện thoại\t0939 111 222\n"
                    "Cây dầu lớn\n"
                    "Dây điện bị kéo đứt\n"
                    "Vị trí trên bản đồ: bấm vào đây (https://maps.app.goo.gl/Xk3pQ9), ảnh ở "
                    "https://drive.google.com/file/d/1AbC.\n"
                    "Liên hệ: binh.tran@gmail.com & Zalo <0939 111 222>");
    parsed_clear(&p);
}

/* ---- charsets ------------------------------------------------------------------------------ */

static void test_windows_1258_combining_tones_nfc(void)
{
    Parsed p = parse_fixture("outlook-windows-1258-combining-tones.eml");
    /* the fixture really carries tones as separate combining bytes (CP1258 0xEC = U+0301) */
    g_autofree char *path = fixture_path("outlook-windows-1258-combining-tones.eml");
    g_autofree char *raw = NULL;
    g_assert_true(g_file_get_contents(path, &raw, NULL, NULL));
    g_assert_nonnull(strstr(raw, "=EC"));
    g_assert_cmpstr(p.draft->text, ==,
                    "Kính gửi Trung tâm,\n\nỐng nước bị vỡ trước nhà số 45 đường Hùng Vương, "
                    "nước tràn ra đường gây ngập và lãng phí.\n\nNgười phản ánh: Phạm Thị "
                    "Thủy\nĐiện thoại: 0299 3822 111");
    assert_nfc(p.draft->text);
    g_assert_cmpstr(p.draft->subject, ==, "Vỡ ống nước đường Hùng Vương");
    g_assert_cmpstr(p.draft->from_name, ==, "Phạm Thị Thủy");
    assert_nfc(p.draft->from_name);
    parsed_clear(&p);
}

static void test_utf8_mislabelled_windows_1258(void)
{
    Parsed p = parse_fixture("outlook-utf8-labelled-windows-1258.eml");
    g_assert_cmpstr(p.draft->text, ==,
                    "Chào anh chị,\n\nĐường dẫn vào trường tiểu học Mỹ Xuyên bị sụt lún, có ổ "
                    "gà lớn, học sinh đi học rất nguy hiểm.\n\nĐặng Quốc Việt");
    g_assert_true(has_warning(p.draft, "text declared windows-1258 is UTF-8; read as UTF-8"));
    parsed_clear(&p);
}

static const char *const no_charset_text = "Xin chào,\n\nChợ tạm trên đường Lê Duẩn lấn "
                                           "chiếm lòng đường, gây kẹt xe mỗi sáng.\n\nVõ "
                                           "Minh Tâm";

static void test_no_charset_utf8_bytes(void)
{
    Parsed p = parse_fixture("no-charset-utf8-bytes.eml");
    g_assert_cmpstr(p.draft->text, ==, no_charset_text);
    g_assert_cmpuint(p.draft->warnings->len, ==, 0);
    parsed_clear(&p);
}

static void test_no_charset_windows_1258_bytes(void)
{
    Parsed p = parse_fixture("no-charset-windows-1258-bytes.eml");
    g_assert_cmpstr(p.draft->text, ==, no_charset_text);
    assert_nfc(p.draft->text);
    g_assert_true(has_warning(p.draft, "text without a known charset read as windows-1258"));
    parsed_clear(&p);
}

/* 8-bit text without a charset in a mail whose other part declares one: that charset, not
 * windows-1258 ("Formação" became "Formaçăo") */
static void test_unlabelled_text_uses_the_charset_the_message_declares(void)
{
    static const struct {
        const char *message, *text;
    } cases[] = {
        /* another part declares ISO-8859-1 */
        {"From: a@example.pt\nTo: paht@soctrang.gov.vn\nSubject: Curso\n"
         "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n"
         "--b\nContent-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\n"
         "Forma\xe7\xe3o em Lisboa\n"
         "--b\nContent-Type: text/plain; charset=iso-8859-1; name=\"nota.txt\"\n"
         "Content-Disposition: attachment; filename=\"nota.txt\"\n\nOl\xe1\n--b--\n",
         "Formação em Lisboa"},
        /* the charset of the subject's RFC 2047 words, when no part declares one */
        {"From: a@example.pt\nTo: paht@soctrang.gov.vn\n"
         "Subject: =?ISO-8859-1?Q?Forma=E7=E3o?=\n\nForma\xe7\xe3o em Lisboa\n",
         "Formação em Lisboa"},
        /* a declared charset that is not 8-bit: windows-1258 as before */
        {"From: a@example.vn\nTo: paht@soctrang.gov.vn\n"
         "Subject: =?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=\n\nVi\xea\xf2t\n",
         "Việt"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        Parsed p = parse_text(cases[i].message, NULL);
        g_assert_cmpstr(p.draft->text, ==, cases[i].text);
        parsed_clear(&p);
    }
}

/* the only text part is inline with a file name: it is the report's text, not an attachment */
static void test_named_inline_text_is_the_text(void)
{
    Parsed p = parse_text(
        "From: a@example.vn\nTo: paht@soctrang.gov.vn\nSubject: Ổ gà\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\n"
        "Content-Type: text/plain; charset=utf-8; name=\"noi-dung.txt\"\n"
        "Content-Disposition: inline; filename=\"noi-dung.txt\"\n\n"
        "Ổ gà lớn trước số 12 Lê Lợi.\n--b\nContent-Type: image/png; name=\"a.png\"\n"
        "Content-Disposition: attachment; filename=\"a.png\"\nContent-Transfer-Encoding: base64\n\n"
        "iVBORw0KGgo=\n--b--\n",
        NULL);
    g_assert_cmpstr(p.draft->text, ==, "Ổ gà lớn trước số 12 Lê Lợi.");
    g_assert_cmpuint(p.draft->attachments->len, ==, 1);
    g_assert_cmpstr(attachment(p.draft, 0)->filename, ==, "a.png");
    parsed_clear(&p);
    /* a text file attached as an attachment stays one */
    Parsed q =
        parse_text("From: a@example.vn\nTo: paht@soctrang.gov.vn\nSubject: x\n"
                   "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n"
                   "--b\nContent-Type: text/plain\n\nXem tệp.\n--b\n"
                   "Content-Type: text/plain; name=\"ghi-chu.txt\"\n"
                   "Content-Disposition: inline; filename=\"ghi-chu.txt\"\n\nghi chú\n--b--\n",
                   NULL);
    g_assert_cmpstr(q.draft->text, ==, "Xem tệp.");
    g_assert_cmpuint(q.draft->attachments->len, ==, 1);
    parsed_clear(&q);
}

static void test_viscii(void)
{
    Parsed p = parse_fixture("viscii-text.eml");
    g_assert_cmpstr(p.draft->text, ==,
                    "Kính gửi UBND tỉnh,\n\nCầu khỉ ấp Phú Hòa bị gãy, người dân phải lội nước "
                    "qua kênh.\n\nLâm Văn Sáu");
    g_assert_cmpstr(p.draft->subject, ==, "Cầu khỉ ấp Phú Hòa bị gãy");
    parsed_clear(&p);
}

static void test_iso_8859_1(void)
{
    Parsed p = parse_fixture("iso-8859-1-text.eml");
    g_assert_cmpstr(p.draft->text, ==,
                    "Bonjour,\n\nJe suis Pierre Lefèvre, résident à Soc Trang (hem 5, phuong "
                    "3).\nLe lampadaire devant ma maison est cassé depuis une semaine.\n\nMerci "
                    "beaucoup, Pierre");
    g_assert_cmpstr(p.draft->from_name, ==, "Pierre Lefèvre");
    g_assert_cmpstr(p.draft->subject, ==, "Lampadaire cassé");
    parsed_clear(&p);
}

/* ---- GMime bug workarounds ----------------------------------------------------------------- */

static void test_rfc2047_adjacent_b_words(void)
{
    Parsed p = parse_fixture("rfc2047-adjacent-b-words.eml");
    /* GMime 3.2.13 alone gives "Hello" (upstream #133) */
    g_assert_cmpstr(p.draft->subject, ==, "Hello world");
    /* "ễ" split between two words, the first ending in '=' padding */
    g_assert_cmpstr(p.draft->from_name, ==, "Nguyễn Thị Mai");
    parsed_clear(&p);
}

static void test_rfc2047_vietnamese_subject_split(void)
{
    Parsed p = parse_fixture("rfc2047-vietnamese-subject-split.eml");
    g_assert_cmpstr(p.draft->subject, ==, "Thông báo: nước sinh hoạt bị đục ở phường 4");
    parsed_clear(&p);
}

static void test_base64_midstream_padding(void)
{
    Parsed p = parse_fixture("base64-midstream-padding.eml");
    /* text part: two base64 pieces, each padded */
    g_assert_cmpstr(p.draft->text, ==,
                    "Phản ánh: cống thoát nước bị nghẹt, nước tràn vào nhà dân ở khóm 7.");
    /* attachment "Vkk=" "UlVTISE=" ...: GMime alone decodes 2 bytes (upstream #150) */
    const char *expected = "VIRUS!! - bien ban kiem tra cong so 7.\n";
    g_autofree char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, expected, -1);
    g_assert_cmpuint(p.draft->attachments->len, ==, 1);
    assert_attachment(&p, 0, "bien-ban.txt", "text/plain", "document", (gint64)strlen(expected),
                      sum);
    g_autofree char *content = NULL;
    g_assert_true(g_file_get_contents(attachment(p.draft, 0)->path, &content, NULL, NULL));
    g_assert_cmpstr(content, ==, expected);
    parsed_clear(&p);
}

/* ---- attachments --------------------------------------------------------------------------- */

static void test_iphone_heic_nfd_filename(void)
{
    Parsed p = parse_fixture("iphone-heic-nfd-filename.eml");
    /* iPhone splits the text around the photo: both pieces are the text */
    g_assert_cmpstr(p.draft->text, ==,
                    "Đường 30/4 ngập sâu sau mưa, nước vào nhà dân.\n\nGửi từ iPhone của tôi");
    g_assert_cmpuint(p.draft->attachments->len, ==, 1);
    const char *nfc_name = "\xe1\xba\xa2nh hi\xe1\xbb\x87n tr\xc6\xb0\xe1\xbb\x9dng.HEIC";
    assert_attachment(&p, 0, nfc_name, "image/heic", "image", 168,
                      "e0716fcb56fb7a7e9b3deb95c3a143d813b0626cd1eacb8ed0db1fb6c75c662a");
    g_autofree char *nfd = g_utf8_normalize(nfc_name, -1, G_NORMALIZE_NFD);
    g_assert_cmpstr(attachment(p.draft, 0)->filename, !=, nfd);
    g_assert_false(attachment(p.draft, 0)->dangerous);
    g_assert_null(attachment(p.draft, 0)->content_id);
    parsed_clear(&p);
}

static void test_hostile_attachment_names(void)
{
    Parsed p = parse_fixture("attachment-hostile-names.eml");
    g_assert_cmpuint(p.draft->attachments->len, ==, 2);
    /* "../../etc/passwd": a display name only; declared octet-stream, the bytes are a PDF */
    assert_attachment(&p, 0, "passwd", "application/pdf", "document", 269,
                      "6c0b33a24da86a1072777dca5d5167e98b9d516974f598f29ca775e6c5e8e696");
    /* "..\..\biên<U+0001>bản<LF><TAB>ghi<RLO>chú.txt" */
    assert_attachment(&p, 1, "biênbản ghichú.txt", "text/plain", "document", 17,
                      "d90739f7435ff794f2216f223758f0bbef8bccce8db208655866384928f25312");
    for (guint i = 0; i < p.draft->attachments->len; i++) {
        const char *name = attachment(p.draft, i)->filename;
        g_assert_null(strpbrk(name, "/\\"));
        g_assert_true(text_is_header_safe(name));
        g_assert_null(strstr(name, "\xe2\x80\xae"));
    }
    /* nothing was written outside the folder */
    g_assert_cmpuint(dir_count(p.dir), ==, 2);
    parsed_clear(&p);
}

static void test_dangerous_attachments(void)
{
    Parsed p = parse_fixture("attachment-dangerous-executables.eml");
    g_assert_cmpuint(p.draft->attachments->len, ==, 4);
    /* a real JPEG, but a program by its name */
    assert_attachment(&p, 0, "anh.jpg.exe", "image/jpeg", "image", 183,
                      "99a711ecf4701141bae8c6cb567d20740005132d6ad309cac709fd0f9f49ca43");
    g_assert_true(attachment(p.draft, 0)->dangerous);
    /* named and declared a JPEG, a Windows program by its bytes */
    assert_attachment(&p, 1, "anh-hien-truong.jpg", "image/jpeg", "other", 103,
                      "3363e8d03c2ed4f62cff73ddf92a93bf1490861f553bfc66113a9a6eceaf2e67");
    g_assert_true(attachment(p.draft, 1)->dangerous);
    /* a shell script called ghi-chu.txt */
    assert_attachment(&p, 2, "ghi-chu.txt", "text/plain", "other", 19,
                      "d321df40e26bb64e58d8eee96f16ced6372917c27a0cd8ac755591b9976787e9");
    g_assert_true(attachment(p.draft, 2)->dangerous);
    assert_attachment(&p, 3, "bao-cao.pdf", "application/pdf", "document", 268,
                      "c52652a65cde4374f50e3c60528bd8fe373d92279c8f5e48b74328fd8463868f");
    g_assert_false(attachment(p.draft, 3)->dangerous);
    parsed_clear(&p);
}

static void test_duplicate_names(void)
{
    Parsed p = parse_fixture("attachment-duplicate-names.eml");
    g_assert_cmpuint(p.draft->attachments->len, ==, 4);
    assert_attachment(&p, 0, "IMG_0001.JPG", "image/jpeg", "image", 168,
                      "7b7d121f9b3563965b0647a5fd26f402d2b7cbfb226072f7efc12f91dda12454");
    assert_attachment(&p, 1, "IMG_0001 (2).JPG", "image/jpeg", "image", 168,
                      "a3db8766cf204ecaa0e5944f483e5839caec026d1bd113bd1b8bd1ae41da597d");
    /* RFC 2047 words inside the filename parameter, split inside "ệ" (bug #133 again) */
    assert_attachment(&p, 2, "Ảnh hiện trường vụ cháy.jpg", "image/jpeg", "image", 168,
                      "93854e593a8631db61a1ede7f6e540dd413f703f125e644b98588da86d80859b");
    /* names are unique regardless of case */
    assert_attachment(&p, 3, "img_0001 (3).jpg", "image/jpeg", "image", 168,
                      "c0a32455a1878ad19bfd1712d63464933d929f056ef2d796361ef8ad04ab9f4c");
    parsed_clear(&p);
}

static void test_inline_cid_image(void)
{
    Parsed p = parse_fixture("inline-cid-image.eml");
    g_assert_cmpstr(p.draft->text, ==,
                    "Rác thải đổ trộm ở bờ kè:\n[image: image.png]\n\nMong được xử lý.");
    g_assert_cmpuint(p.draft->attachments->len, ==, 1);
    /* no name at all: ours, with the extension of its type */
    assert_attachment(&p, 0, "tep-dinh-kem-1.png", "image/png", "image", 73,
                      "805924e65dff89ccbac4046a6995a73622a878f5ff9ec17678b4bc33ca55ea12");
    g_assert_cmpstr(attachment(p.draft, 0)->content_id, ==, "ii_m5x3k2p80");
    parsed_clear(&p);
}

static void test_forwarded_message_is_the_submission(void)
{
    Parsed p = parse_fixture("forwarded-message-rfc822.eml");
    Draft *d = p.draft;
    /* the sender stays the forwarder */
    g_assert_cmpstr(d->from_address, ==, "phuong7@soctrang.gov.vn");
    g_assert_cmpstr(d->citizen.email, ==, "phuong7@soctrang.gov.vn");
    g_assert_cmpstr(d->message_id, ==, "fwd-outer@soctrang.gov.vn");
    g_assert_cmpstr(d->subject, ==, "Fwd: Ổ gà trên đường Mạc Đĩnh Chi");
    /* the forwarded message's text and attachments are the report */
    g_assert_cmpstr(d->text, ==,
                    "Đường Mạc Đĩnh Chi có ổ gà sâu, đã có người té xe.\nHọ và tên: Huỳnh Thị "
                    "Ngọc");
    g_assert_cmpstr(d->quoted_text, ==,
                    "Chuyển phản ánh của người dân đến Trung tâm IOC.\n\n--\nVăn thư UBND "
                    "Phường 7");
    g_assert_cmpuint(d->attachments->len, ==, 1);
    assert_attachment(&p, 0, "o-ga.jpg", "image/jpeg", "image", 167,
                      "f68e773e28e2c509f6955ce275e6f40e37e86fb6b1490c5f791d775d012e4177");
    parsed_clear(&p);
}

/* a long cover text: the mail is a report of its own, the message an attachment */
static const char ATTACHED_MESSAGE[] = "From: Le Van Tam <tam@example.vn>\n"
                                       "To: paht@soctrang.gov.vn\n"
                                       "Subject: Bo sung\n"
                                       "Date: Mon, 26 Jan 2026 08:00:00 +0700\n"
                                       "MIME-Version: 1.0\n"
                                       "Content-Type: multipart/mixed; boundary=\"b\"\n"
                                       "\n"
                                       "--b\n"
                                       "Content-Type: text/plain; charset=UTF-8\n"
                                       "\n"
                                       "Dòng 1: cống bị nghẹt ở khóm 2.\n"
                                       "Dòng 2: nước tràn vào nhà.\n"
                                       "Dòng 3: đã ba ngày.\n"
                                       "Dòng 4: nhiều hộ bị ảnh hưởng.\n"
                                       "Dòng 5: mong được xử lý.\n"
                                       "Dòng 6: xin cảm ơn.\n"
                                       "--b\n"
                                       "Content-Type: message/rfc822\n"
                                       "\n"
                                       "From: a@example.vn\n"
                                       "Subject: Thu cu\n"
                                       "\n"
                                       "Noi dung thu cu.\n"
                                       "--b--\n";

static void test_attached_message_with_own_text_is_kept_as_eml(void)
{
    Parsed p = parse_text(ATTACHED_MESSAGE, NULL);
    g_assert_true(g_str_has_prefix(p.draft->text, "Dòng 1: cống bị nghẹt ở khóm 2."));
    g_assert_cmpuint(p.draft->attachments->len, ==, 1);
    DraftAttachment *a = attachment(p.draft, 0);
    g_assert_cmpstr(a->filename, ==, "Thu cu.eml");
    g_assert_cmpstr(a->content_type, ==, "message/rfc822");
    g_assert_cmpstr(a->kind, ==, "other");
    g_autofree char *content = NULL;
    g_assert_true(g_file_get_contents(a->path, &content, NULL, NULL));
    g_assert_nonnull(strstr(content, "Noi dung thu cu."));
    g_assert_cmpint(a->size, ==, (gint64)strlen(content));
    parsed_clear(&p);
}

/* fsync() and fdatasync() as the parser and its libraries see them: counted, then done. Defined
 * in this program they take the place of libc's for GMime too (symbol interposition). */
static int sync_calls;

int fsync(int fd)
{
    sync_calls++;
    return (int)syscall(SYS_fsync, fd);
}

int fdatasync(int fd)
{
    sync_calls++;
    return (int)syscall(SYS_fdatasync, fd);
}

static void test_attached_message_written_without_fsync(void)
{
    /* durability is the gateway's one syncfs per batch (issue 18's group commit); GMime's
     * g_mime_stream_flush() on a file stream is an fsync(), which cost the parse of every mail
     * with an attached message a disk flush */
    sync_calls = 0;
    Parsed p = parse_text(ATTACHED_MESSAGE, NULL);
    g_assert_cmpuint(p.draft->attachments->len, ==, 1);
    g_assert_cmpstr(attachment(p.draft, 0)->content_type, ==, "message/rfc822");
    g_assert_cmpint(sync_calls, ==, 0);
    parsed_clear(&p);
}

static void test_winmail_dat_unpacked(void)
{
    Parsed p = parse_fixture("outlook-winmail-dat.eml");
    g_assert_cmpstr(p.draft->text, ==,
                    "Đèn đường trước trường THPT Hoàng Diệu bị hỏng, gửi kèm ảnh và đơn.");
    /* the files inside winmail.dat, not winmail.dat itself; names from the Unicode MAPI
     * property, not the 8.3 title */
    g_assert_cmpuint(p.draft->attachments->len, ==, 2);
    assert_attachment(&p, 0, "Đèn đường hỏng.jpg", "image/jpeg", "image", 172,
                      "55c139fce1f050931f06fdeb8a26c1024a89d4acca2b7cad51ed2d983fe89370");
    assert_attachment(&p, 1, "Đơn đề nghị.pdf", "application/pdf", "document", 272,
                      "7f219fa3b1113c05c1ef33552cc02808de49a340628c8b46fe5d676936e46e7c");
    /* the decoded winmail.dat was not left behind */
    g_assert_cmpuint(dir_count(p.dir), ==, 2);
    parsed_clear(&p);
}

static void test_winmail_dat_body_when_no_other_text(void)
{
    Parsed p = parse_fixture("outlook-tnef-only-body.eml");
    /* the TNEF body is windows-1258 (its OEM code page) with combining tones */
    g_assert_cmpstr(p.draft->text, ==,
                    "Bể nước công cộng ở ấp Hòa Thành bị rò rỉ.\nNgười báo: Kim Thị Sa Ra");
    assert_nfc(p.draft->text);
    g_assert_cmpuint(p.draft->attachments->len, ==, 1);
    assert_attachment(&p, 0, "Bể nước.png", "image/png", "image", 70,
                      "8777e64916c3f53c7bb1303936270bff41330a6a5b88b24c471dde8ab719595d");
    parsed_clear(&p);
}

/* ---- replies ------------------------------------------------------------------------------- */

static void test_gmail_reply_quote_cut(void)
{
    Parsed p = parse_fixture("gmail-reply-quote.eml");
    Draft *d = p.draft;
    g_assert_cmpstr(d->in_reply_to, ==, "paht.ack.2026-000123.8f3a2c@soctrang.gov.vn");
    g_assert_cmpuint(d->references->len, ==, 1);
    g_assert_cmpstr(d->references->pdata[0], ==, "paht.ack.2026-000123.8f3a2c@soctrang.gov.vn");
    g_assert_cmpstr(d->subject, ==, "Re: [PAHT-2026-000123] Đề nghị bổ sung thông tin");
    g_assert_cmpstr(d->text, ==,
                    "Dạ em xin bổ sung thông tin:\nSố CCCD: 094201001234\nĐịa chỉ: 56 Nguyễn "
                    "Văn Linh, phường 2\n\nCảm ơn anh chị.");
    g_assert_cmpstr(d->quoted_text, ==,
                    "Vào Th 2, 12 thg 1, 2026 vào lúc 09:14 Trung tâm IOC tỉnh Sóc Trăng <\n"
                    "paht@soctrang.gov.vn> đã viết:\n"
                    "\n"
                    "> Kính gửi Quý ông/bà,\n"
                    ">\n"
                    "> Trung tâm IOC đã tiếp nhận phản ánh của Quý ông/bà, mã số "
                    "PAHT-2026-000123.\n"
                    "> Đề nghị bổ sung số căn cước và địa chỉ liên hệ.\n"
                    ">");
    parsed_clear(&p);
}

static void test_outlook_web_reply_divrplyfwdmsg(void)
{
    Parsed p = parse_fixture("outlook-web-reply-divrplyfwdmsg.eml");
    g_assert_cmpstr(p.draft->text, ==, "Gửi Trung tâm,\nSố điện thoại của tôi là 0907 654 321.");
    g_assert_cmpstr(p.draft->quoted_text, ==,
                    "Từ: Trung tâm IOC tỉnh Sóc Trăng <paht@soctrang.gov.vn>\n"
                    "Đã gửi: Thứ Hai, ngày 12 tháng 1 năm 2026 09:14\n"
                    "Đến: Dương Thị Kiều <kieu.duong@outlook.com>\n"
                    "Chủ đề: [PAHT-2026-000124] Đề nghị bổ sung thông tin\n"
                    "\n"
                    "Kính gửi Quý bà,\n"
                    "Đề nghị bổ sung số điện thoại liên hệ.");
    parsed_clear(&p);
}

static void test_outlook_desktop_reply_original_message(void)
{
    Parsed p = parse_fixture("outlook-desktop-reply-original-message.eml");
    g_assert_cmpstr(p.draft->from_name, ==, "Tô Văn Hải");
    g_assert_cmpstr(p.draft->text, ==,
                    "Dạ, địa chỉ của tôi là 12 Trần Phú, phường 7.\n\nTrân trọng,\nTô Văn Hải");
    g_assert_true(g_str_has_prefix(p.draft->quoted_text,
                                   "-----Original Message-----\nFrom: Trung tâm IOC tỉnh Sóc "
                                   "Trăng <paht@soctrang.gov.vn>\n"));
    g_assert_true(g_str_has_suffix(p.draft->quoted_text,
                                   "Kính gửi Quý ông,\nĐề nghị bổ sung địa chỉ liên hệ."));
    parsed_clear(&p);
}

static void test_new_mail_with_quote_marks_is_not_cut(void)
{
    /* not a reply: nothing is cut, even lines that look quoted */
    Parsed p = parse_text("From: a@example.vn\nTo: paht@soctrang.gov.vn\nSubject: Phan anh\n"
                          "Date: Mon, 26 Jan 2026 08:00:00 +0700\n"
                          "Content-Type: text/plain; charset=UTF-8\n\n"
                          "Tôi trích lại thông báo của phường:\n> Cấm đổ rác.\n",
                          NULL);
    g_assert_cmpstr(p.draft->text, ==, "Tôi trích lại thông báo của phường:\n> Cấm đổ rác.");
    g_assert_null(p.draft->quoted_text);
    parsed_clear(&p);
}

/* ---- classification by headers ------------------------------------------------------------- */

static void test_postfix_dsn_bounce(void)
{
    Parsed p = parse_fixture("postfix-dsn-bounce.eml");
    Draft *d = p.draft;
    g_assert_cmpstr(d->classification, ==, "bounce");
    g_assert_cmpstr(d->rule, ==, "multipart/report; report-type=delivery-status");
    g_assert_cmpstr(d->return_path, ==, "");
    g_assert_cmpstr(d->dsn_original_message_id, ==, "paht.ack.2026-000123.8f3a2c@soctrang.gov.vn");
    g_assert_cmpstr(d->dsn_status, ==, "5.1.1");
    g_assert_cmpstr(d->dsn_recipient, ==, "tranthib@example.vn");
    g_assert_cmpstr(d->dsn_diagnostic, ==,
                    "550 5.1.1 <tranthib@example.vn>: Recipient address rejected: User unknown "
                    "in virtual mailbox table");
    g_assert_true(g_str_has_prefix(d->text, "This is the mail system at host"));
    parsed_clear(&p);
}

static void test_out_of_office_vietnamese(void)
{
    Parsed p = parse_fixture("out-of-office-vietnamese.eml");
    /* Auto-Submitted wins over the empty Return-Path a vacation responder uses */
    g_assert_cmpstr(p.draft->classification, ==, "auto");
    g_assert_cmpstr(p.draft->rule, ==, "header Auto-Submitted: auto-replied");
    g_assert_cmpstr(p.draft->subject, ==, "Trả lời tự động: Vắng mặt khỏi văn phòng");
    g_assert_null(p.draft->dsn_status);
    parsed_clear(&p);
}

static void test_out_of_office_english(void)
{
    Parsed p = parse_fixture("out-of-office-english.eml");
    g_assert_cmpstr(p.draft->classification, ==, "auto");
    g_assert_cmpstr(p.draft->rule, ==, "header Auto-Submitted: auto-generated");
    g_assert_cmpstr(p.draft->from_address, ==, "J.Smith@partner.example.com");
    parsed_clear(&p);
}

static void test_mailing_list(void)
{
    Parsed p = parse_fixture("mailing-list-mail.eml");
    g_assert_cmpstr(p.draft->classification, ==, "auto");
    g_assert_cmpstr(p.draft->rule, ==, "header Precedence: list");
    parsed_clear(&p);
}

#define HEADERS_START                                                                              \
    "From: Tran Thi Be <be.tran@example.vn>\nTo: paht@soctrang.gov.vn\n"                           \
    "Date: Mon, 26 Jan 2026 08:00:00 +0700\nSubject: Thu\n"
#define BODY_END "Content-Type: text/plain; charset=UTF-8\n\nNội dung.\n"

static void test_header_rules(void)
{
    static const struct {
        const char *headers;
        const char *our_address;
        const char *classification;
        const char *rule;
    } cases[] = {
        {"Auto-Submitted: no\n", NULL, "report", "default"},
        {"Auto-Submitted: Auto-Replied (vacation)\n", NULL, "auto",
         "header Auto-Submitted: auto-replied"},
        {"Precedence: bulk\n", NULL, "auto", "header Precedence: bulk"},
        {"Precedence: junk\n", NULL, "auto", "header Precedence: junk"},
        {"Precedence: first-class\n", NULL, "report", "default"},
        {"X-Autoreply: yes\n", NULL, "auto", "header X-Autoreply"},
        {"X-Autorespond: Out of office\n", NULL, "auto", "header X-Autorespond"},
        {"List-Id: <tin.example.vn>\n", NULL, "auto", "header List-Id"},
        /* names in any case; with several, the first of the rule's list is named, wherever
         * it stands in the mail */
        {"list-post: <mailto:tin@example.vn>\n", NULL, "auto", "header List-Post"},
        {"List-Unsubscribe: <mailto:u@example.vn>\nX-ML-Name: tin\nx-autoreply: yes\n", NULL,
         "auto", "header X-Autoreply"},
        {"X-PAHT-Loop: 1\nMAILING-LIST: tin\n", NULL, "auto", "header Mailing-List"},
        {"X-Mailer: Outlook\nList-Archive: <https://example.vn>\nMessage-Context: x\n", NULL,
         "report", "default"},
        /* "do not answer me" says nothing about the mail itself */
        {"X-Auto-Response-Suppress: All\n", NULL, "report", "default"},
        {"X-Auto-Response-Suppress: OOF, AutoReply\n", NULL, "report", "default"},
        {"", "BE.TRAN@example.vn", "auto", "From is our own address"},
        /* an empty envelope sender alone is machine mail, not a bounce (Outlook's automatic
         * replies have one: taken for bounces, they failed delivered letters) */
        {"Return-Path: <>\n", NULL, "auto", "empty Return-Path <>"},
        {"Return-Path: <be.tran@example.vn>\n", NULL, "report", "default"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *message = g_strconcat(HEADERS_START, cases[i].headers, BODY_END, NULL);
        Parsed p = parse_text(message, cases[i].our_address);
        g_assert_cmpstr(p.draft->classification, ==, cases[i].classification);
        g_assert_cmpstr(p.draft->rule, ==, cases[i].rule);
        parsed_clear(&p);
    }
}

/* The headers a bounce returns are our letter's (or anyone's), not this mail's: GMime's
 * warnings about them are not the operator's, while the same headers in the mail itself are */
static void test_returned_headers_are_not_this_mails_warnings(void)
{
    static const char odd_headers[] = "Subject: one\n"
                                      "Subject: two\n"
                                      "X-Raw: Nguy\xe1\xbb\x85n \xff\n";
    g_autofree char *bounce = g_strconcat(
        "From: MAILER-DAEMON@mx.example.vn\nTo: paht@soctrang.gov.vn\n"
        "Subject: Undelivered Mail Returned to Sender\nMessage-ID: <b1@mx.example.vn>\n"
        "Date: Mon, 26 Jan 2026 08:00:00 +0700\nMIME-Version: 1.0\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"r\"\n\n"
        "--r\nContent-Type: text/plain\n\nThe mail could not be delivered.\n"
        "--r\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.vn\n\n"
        "Final-Recipient: rfc822; x@example.vn\nAction: failed\nStatus: 5.1.1\n"
        "--r\nContent-Type: text/rfc822-headers\n\n"
        "Message-ID: <paht.ack.2026-000300.cc@soctrang.gov.vn>\n",
        odd_headers, "--r--\n", NULL);
    /* what GMime says of such headers */
    static const char *const gmime_warnings[] = {
        "conflicting headers",
        "header with raw 8-bit characters (not RFC 2047 encoded)",
    };
    Parsed p = parse_text(bounce, NULL);
    g_assert_cmpstr(p.draft->classification, ==, "bounce");
    g_assert_cmpstr(p.draft->dsn_original_message_id, ==,
                    "paht.ack.2026-000300.cc@soctrang.gov.vn");
    for (gsize i = 0; i < G_N_ELEMENTS(gmime_warnings); i++)
        g_assert_false(has_warning(p.draft, gmime_warnings[i]));
    parsed_clear(&p);

    /* the same headers in the mail's own header block: each is warned about */
    g_autofree char *own = g_strconcat("From: a@example.vn\nTo: paht@soctrang.gov.vn\n"
                                       "Message-ID: <m1@example.vn>\n"
                                       "Date: Mon, 26 Jan 2026 08:00:00 +0700\n",
                                       odd_headers, "\nPhản ánh.\n", NULL);
    p = parse_text(own, NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(gmime_warnings); i++)
        g_assert_true(has_warning(p.draft, gmime_warnings[i]));
    parsed_clear(&p);
}

static void test_mailer_daemon_without_dsn_is_bounce(void)
{
    /* an old-style bounce: plain text quoting the returned headers */
    Parsed p = parse_text("From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.vn>\n"
                          "To: paht@soctrang.gov.vn\nSubject: failure notice\n"
                          "Date: Mon, 26 Jan 2026 08:00:00 +0700\n"
                          "Content-Type: text/plain\n\n"
                          "Hi. This is the qmail-send program.\n"
                          "<x@example.vn>: Sorry, no mailbox here by that name.\n\n"
                          "--- Below this line is a copy of the message.\n\n"
                          "Message-ID: <paht.ack.2026-000200.aa@soctrang.gov.vn>\n"
                          "Subject: Da tiep nhan\n",
                          NULL);
    g_assert_cmpstr(p.draft->classification, ==, "bounce");
    g_assert_cmpstr(p.draft->rule, ==,
                    "From MAILER-DAEMON/postmaster with bounce subject \"failure notice\"");
    g_assert_cmpstr(p.draft->dsn_original_message_id, ==,
                    "paht.ack.2026-000200.aa@soctrang.gov.vn");
    g_assert_null(p.draft->dsn_status);
    parsed_clear(&p);
}

/* Bounces as real MTAs write them: a DSN is a bounce whatever else it carries, and the sender
 * of a bounce is spelt many ways (issue 11 item 8) */
static void test_bounce_whatever_else_it_carries(void)
{
    static const struct {
        const char *message;
        const char *rule;
        const char *status, *recipient;
    } cases[] = {
        /* Exim: Auto-Submitted on a bounce in words, the recipient in X-Failed-Recipients */
        {"From: Mail Delivery System <Mailer-Daemon@mx.example.org>\nTo: paht@soctrang.gov.vn\n"
         "Auto-Submitted: auto-replied\nX-Failed-Recipients: tran.b@example.vn\n"
         "Subject: Mail delivery failed: returning message to sender\n\n"
         "This message was created automatically by mail delivery software.\n\n"
         "  tran.b@example.vn\n    SMTP error from remote mail server after RCPT TO:"
         "<tran.b@example.vn>:\n    550 5.1.1 User unknown\n",
         "From MAILER-DAEMON/postmaster with header X-Failed-Recipients", "5.1.1",
         "tran.b@example.vn"},
        /* Postfix behind a list manager: Precedence: bulk on a real DSN */
        {"From: MAILER-DAEMON@mx.example.vn (Mail Delivery System)\nTo: paht@soctrang.gov.vn\n"
         "Precedence: bulk\nSubject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
         "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n"
         "--b\nContent-Type: text/plain\n\nI'm sorry to have to inform you...\n"
         "--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.vn\n\n"
         "Final-Recipient: rfc822; le.c@example.vn\nAction: failed\nStatus: 5.2.1\n--b--\n",
         "multipart/report; report-type=delivery-status", "5.2.1", "le.c@example.vn"},
        /* DragonFly: an empty address after the name */
        {"From: MAILER-DAEMON <>\nTo: paht@soctrang.gov.vn\nSubject: Mail delivery failed\n\n"
         "This is the DragonFly Mail Agent.\nThere was an error delivering your mail to "
         "<x@example.vn>.\n",
         "From MAILER-DAEMON/postmaster with bounce subject \"mail delivery failed\"", NULL,
         "x@example.vn"},
        /* post_master@ and Mail.Delivery.System@ are postmasters too */
        {"From: post_master@vtext.example.com\nTo: paht@soctrang.gov.vn\nSubject: Re:Thu\n\n"
         "Error: Invalid user address\n",
         "From MAILER-DAEMON/postmaster with bounce text \"invalid user address\"", NULL, NULL},
        {"From: Mail Delivery System <Mail.Delivery.System@mx.example.com>\n"
         "To: paht@soctrang.gov.vn\nSubject: Delivery status notification\n\n"
         "Your message could not be delivered to pham.d@example.vn: 550 5.1.1 no such user\n",
         "From MAILER-DAEMON/postmaster with bounce subject \"delivery status notification\"",
         "5.1.1", "pham.d@example.vn"},
        /* Amazon SES: the bounce is JSON in the text */
        {"From: SES <no-reply@sns.amazonaws.com>\nTo: paht@soctrang.gov.vn\n"
         "Subject: AWS Notification Message\n\n"
         "{\"notificationType\":\"Bounce\",\"bounce\":{\"bouncedRecipients\":[{\"emailAddress\":"
         "\"vo.e@example.vn\",\"action\":\"failed\",\"status\":\"5.1.1\",\"diagnosticCode\":"
         "\"smtp; 550 5.1.1 user unknown\"}]}}\n",
         "Amazon SES bounce notification", "5.1.1", "vo.e@example.vn"},
        /* an empty envelope sender with the returned message */
        {"Return-Path: <>\nFrom: System Administrator <admin@mx.example.vn>\n"
         "To: paht@soctrang.gov.vn\nSubject: Thu\nMIME-Version: 1.0\n"
         "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\n"
         "Your message did not reach some or all of the intended recipients.\n--b\n"
         "Content-Type: message/rfc822\n\nMessage-ID: <paht.ack.1@soctrang.gov.vn>\n"
         "Subject: Thu\n\nx\n--b--\n",
         "empty Return-Path <> with the returned message", NULL, NULL},
        /* a provider's notice from no-reply@ (KDDI): a failure subject, the message back */
        {"From: no-reply@mx.example.jp\nTo: paht@soctrang.gov.vn\nSubject: Undeliverable: Thu\n"
         "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\n"
         "Content-Type: text/plain\n\nMailbox full.\n--b\nContent-Type: message/rfc822\n\n"
         "Message-ID: <paht.ack.2@soctrang.gov.vn>\nSubject: Thu\n\nx\n--b--\n",
         "bounce subject \"undeliverable\" with the returned message", NULL, NULL},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        Parsed p = parse_text(cases[i].message, NULL);
        g_test_message("case %zu: %s", i, p.draft->rule);
        g_assert_cmpstr(p.draft->classification, ==, "bounce");
        g_assert_cmpstr(p.draft->rule, ==, cases[i].rule);
        g_assert_cmpstr(p.draft->dsn_status, ==, cases[i].status);
        g_assert_cmpstr(p.draft->dsn_recipient, ==, cases[i].recipient);
        parsed_clear(&p);
    }
}

/* Automatic mail without Auto-Submitted, and what must stay a report (issue 11 items 7, 8) */
static void test_automatic_mail_without_headers(void)
{
    static const struct {
        const char *message;
        const char *classification, *rule;
    } cases[] = {
        /* Outlook's automatic reply: an empty Return-Path, no Auto-Submitted */
        {"Return-Path: <>\nFrom: Tran Van B <b.tran@example.vn>\nTo: paht@soctrang.gov.vn\n"
         "Subject: Automatic reply: [PAHT-2026-000001] Thu\n\nI am out of the office until "
         "Monday.\n",
         "auto", "auto-reply subject \"automatic reply\""},
        {"From: a@example.vn\nTo: paht@soctrang.gov.vn\nSubject: Auto reply: Thu\n\nAway.\n",
         "auto", "auto-reply subject \"auto reply\""},
        {"From: a@example.vn\nTo: paht@soctrang.gov.vn\n"
         "Subject: =?UTF-8?B?VHLhuqMgbOG7nWkgdOG7sSDEkeG7mW5nOiBUaMawIGfhu61p?=\n\nx\n",
         "auto", "auto-reply subject \"trả lời tự động\""},
        {"From: a@example.de\nTo: paht@soctrang.gov.vn\nSubject: Abwesenheitsnotiz: Thu\n\nx\n",
         "auto", "auto-reply subject \"abwesenheitsnotiz\""},
        /* by its first words, without diacritics too */
        {"From: a@example.vn\nTo: paht@soctrang.gov.vn\nSubject: Re: Thu\n\n"
         "Toi hien khong co mat tai co quan den het ngay 30/11. Viec gap xin lien he phong "
         "Hanh chinh.\n",
         "auto", "auto-reply text \"tôi hiện không có mặt tại cơ quan\""},
        /* ARF abuse reports and list robots */
        {"From: fbl@example.com\nTo: paht@soctrang.gov.vn\nSubject: Abuse Report\n"
         "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=feedback-report; "
         "boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nThis is an abuse report.\n--b\n"
         "Content-Type: message/feedback-report\n\nFeedback-Type: abuse\n--b--\n",
         "auto", "abuse report (report-type=feedback-report)"},
        {"From: ds-admin@example.org\nTo: paht@soctrang.gov.vn\n"
         "Mailing-List: contact ds-help@example.org; run by ezmlm\nSubject: You are not a member"
         "\n\nx\n",
         "auto", "header Mailing-List"},
        {"From: ml-admin@example.org\nTo: paht@soctrang.gov.vn\n"
         "Subject: Loop Alert: Duplicated Message-ID (ds ML)\n\nx\n",
         "auto", "auto-reply subject \"loop alert\""},
        /* a mailer with nothing about a failed delivery */
        {"From: postmaster@example.vn\nTo: paht@soctrang.gov.vn\nSubject: Thu\n\nXin chào.\n",
         "auto", "From MAILER-DAEMON/postmaster, not a delivery report"},
        /* a citizen's words that look like it are not */
        {"From: a@example.vn\nTo: paht@soctrang.gov.vn\nSubject: Vắng mặt cán bộ tại UBND xã\n\n"
         "Sáng nay cán bộ không có mặt tại cơ quan, người dân chờ cả buổi.\n",
         "report", "default"},
        {"From: a@example.vn\nTo: paht@soctrang.gov.vn\nSubject: Trộm vào nhà\n\n"
         "Tối qua tôi vắng nhà, kẻ gian cạy cửa lấy xe máy.\n",
         "report", "default"},
        {"From: a@example.vn\nTo: paht@soctrang.gov.vn\nSubject: Sạt lở\n\n"
         "Tôi đang đi công tác ở huyện Cù Lao Dung thì thấy bờ kè sạt lở.\n",
         "report", "default"},
        {"From: a@example.com\nTo: paht@soctrang.gov.vn\nSubject: Pothole\n\n"
         "I am on vacation in Soc Trang and saw a deep pothole on Le Loi street.\n",
         "report", "default"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        Parsed p = parse_text(cases[i].message, NULL);
        g_test_message("case %zu: %s / %s", i, p.draft->classification, p.draft->rule);
        g_assert_cmpstr(p.draft->classification, ==, cases[i].classification);
        g_assert_cmpstr(p.draft->rule, ==, cases[i].rule);
        g_assert_null(p.draft->dsn_status);
        parsed_clear(&p);
    }
}

/* a long report that says "tôi đang đi công tác" somewhere is still a report: body phrases
 * count only at the top of a text as short as an auto-reply */
static void test_long_report_with_away_words_stays_report(void)
{
    GString *body = g_string_new("Kính gửi Trung tâm IOC,\n\n");
    for (int i = 0; i < 40; i++)
        g_string_append(body, "Rác thải đổ bừa bãi ở đầu hẻm 5 đường Lê Lợi gây mùi hôi. ");
    g_string_append(body, "\nTôi đang đi công tác nên nhờ người nhà chụp ảnh gửi kèm.\n");
    g_autofree char *message =
        g_strconcat("From: a@example.vn\nTo: paht@soctrang.gov.vn\nSubject: Rác thải\n"
                    "Content-Type: text/plain; charset=UTF-8\n\n",
                    body->str, NULL);
    g_string_free(body, TRUE);
    Parsed p = parse_text(message, NULL);
    g_assert_cmpstr(p.draft->classification, ==, "report");
    parsed_clear(&p);
}

static void test_read_receipt_is_auto(void)
{
    Parsed p = parse_text("From: a@example.vn\nTo: paht@soctrang.gov.vn\nSubject: Read: x\n"
                          "Date: Mon, 26 Jan 2026 08:00:00 +0700\nMIME-Version: 1.0\n"
                          "Content-Type: multipart/report; report-type=disposition-notification;"
                          " boundary=\"r\"\n\n"
                          "--r\nContent-Type: text/plain\n\nYour message was read.\n"
                          "--r\nContent-Type: message/disposition-notification\n\n"
                          "Final-Recipient: rfc822; a@example.vn\n"
                          "Disposition: manual-action/MDN-sent-manually; displayed\n"
                          "--r--\n",
                          NULL);
    g_assert_cmpstr(p.draft->classification, ==, "auto");
    g_assert_cmpstr(p.draft->rule, ==, "read receipt (report-type=disposition-notification)");
    parsed_clear(&p);
}

static void test_missing_headers_give_warnings(void)
{
    Parsed p = parse_text("Subject: =?UTF-8?B?S2jDtG5nIGPDsyBuZ8aw4budaSBn4butaQ==?=\n"
                          "Content-Type: text/plain; charset=UTF-8\n\nNội dung.\n",
                          NULL);
    g_assert_cmpstr(p.draft->subject, ==, "Không có người gửi");
    g_assert_null(p.draft->message_id);
    g_assert_null(p.draft->from_address);
    g_assert_null(p.draft->citizen.email);
    g_assert_cmpint(p.draft->date, ==, 0);
    g_assert_true(has_warning(p.draft, "no Message-ID header"));
    g_assert_true(has_warning(p.draft, "no usable From address"));
    g_assert_true(has_warning(p.draft, "no valid Date header"));
    g_assert_cmpstr(p.draft->text, ==, "Nội dung.");
    parsed_clear(&p);
}

static void test_references_and_invalid_date(void)
{
    Parsed p =
        parse_text("From: a@Example.VN\nTo: paht+Tok3n@soctrang.gov.vn\n"
                   "Subject: Re: x\nDate: Thứ hai, 32/13/2026\n"
                   "Message-ID: <m1@example.vn>\n"
                   "In-Reply-To: <b@soctrang.gov.vn> (from the ack)\n"
                   "References: <root@example.vn>\n <a@soctrang.gov.vn>  <b@soctrang.gov.vn>\n"
                   "Content-Type: text/plain\n\nok\n",
                   NULL);
    g_assert_cmpstr(p.draft->from_address, ==, "a@example.vn");
    g_assert_cmpstr(p.draft->in_reply_to, ==, "b@soctrang.gov.vn");
    g_assert_cmpuint(p.draft->references->len, ==, 3);
    g_assert_cmpstr(p.draft->references->pdata[0], ==, "root@example.vn");
    g_assert_cmpstr(p.draft->references->pdata[2], ==, "b@soctrang.gov.vn");
    g_assert_cmpstr(p.draft->recipients->pdata[0], ==, "paht+Tok3n@soctrang.gov.vn");
    g_assert_cmpint(p.draft->date, ==, 0);
    parsed_clear(&p);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    parse_init();
    g_test_add_func("/parse/headers/plain-utf8", test_plain_utf8_headers_and_text);
    g_test_add_func("/parse/headers/missing-give-warnings", test_missing_headers_give_warnings);
    g_test_add_func("/parse/headers/references-and-invalid-date", test_references_and_invalid_date);
    g_test_add_func("/parse/text/alternative-prefers-plain", test_alternative_prefers_plain_qp);
    g_test_add_func("/parse/text/html-only", test_html_only_to_text);
    g_test_add_func("/parse/charset/windows-1258-combining-tones",
                    test_windows_1258_combining_tones_nfc);
    g_test_add_func("/parse/charset/utf8-mislabelled-windows-1258",
                    test_utf8_mislabelled_windows_1258);
    g_test_add_func("/parse/charset/none-utf8", test_no_charset_utf8_bytes);
    g_test_add_func("/parse/charset/none-windows-1258", test_no_charset_windows_1258_bytes);
    g_test_add_func("/parse/charset/viscii", test_viscii);
    g_test_add_func("/parse/text/named-inline-text-is-the-text",
                    test_named_inline_text_is_the_text);
    g_test_add_func("/parse/charset/unlabelled-uses-message-charset",
                    test_unlabelled_text_uses_the_charset_the_message_declares);
    g_test_add_func("/parse/charset/iso-8859-1", test_iso_8859_1);
    g_test_add_func("/parse/gmime-bug-133/adjacent-b-words", test_rfc2047_adjacent_b_words);
    g_test_add_func("/parse/gmime-bug-133/vietnamese-subject-split",
                    test_rfc2047_vietnamese_subject_split);
    g_test_add_func("/parse/gmime-bug-150/base64-midstream-padding", test_base64_midstream_padding);
    g_test_add_func("/parse/attachments/iphone-heic-nfd-name", test_iphone_heic_nfd_filename);
    g_test_add_func("/parse/attachments/hostile-names", test_hostile_attachment_names);
    g_test_add_func("/parse/attachments/dangerous", test_dangerous_attachments);
    g_test_add_func("/parse/attachments/duplicate-names", test_duplicate_names);
    g_test_add_func("/parse/attachments/inline-cid-image", test_inline_cid_image);
    g_test_add_func("/parse/attachments/forward-is-submission",
                    test_forwarded_message_is_the_submission);
    g_test_add_func("/parse/attachments/attached-message-kept-as-eml",
                    test_attached_message_with_own_text_is_kept_as_eml);
    g_test_add_func("/parse/attach/attached-message-written-without-fsync",
                    test_attached_message_written_without_fsync);
    g_test_add_func("/parse/attachments/winmail-dat", test_winmail_dat_unpacked);
    g_test_add_func("/parse/attachments/winmail-dat-body",
                    test_winmail_dat_body_when_no_other_text);
    g_test_add_func("/parse/quote/gmail", test_gmail_reply_quote_cut);
    g_test_add_func("/parse/quote/outlook-web", test_outlook_web_reply_divrplyfwdmsg);
    g_test_add_func("/parse/quote/outlook-desktop", test_outlook_desktop_reply_original_message);
    g_test_add_func("/parse/quote/not-a-reply", test_new_mail_with_quote_marks_is_not_cut);
    g_test_add_func("/parse/classify/postfix-dsn", test_postfix_dsn_bounce);
    g_test_add_func("/parse/classify/returned-headers-are-not-this-mails-warnings",
                    test_returned_headers_are_not_this_mails_warnings);
    g_test_add_func("/parse/classify/out-of-office-vi", test_out_of_office_vietnamese);
    g_test_add_func("/parse/classify/out-of-office-en", test_out_of_office_english);
    g_test_add_func("/parse/classify/mailing-list", test_mailing_list);
    g_test_add_func("/parse/classify/header-rules", test_header_rules);
    g_test_add_func("/parse/classify/mailer-daemon-without-dsn",
                    test_mailer_daemon_without_dsn_is_bounce);
    g_test_add_func("/parse/classify/read-receipt", test_read_receipt_is_auto);
    g_test_add_func("/parse/classify/bounce-whatever-else-it-carries",
                    test_bounce_whatever_else_it_carries);
    g_test_add_func("/parse/classify/automatic-mail-without-headers",
                    test_automatic_mail_without_headers);
    g_test_add_func("/parse/classify/long-report-with-away-words",
                    test_long_report_with_away_words_stays_report);
    return g_test_run();
}
