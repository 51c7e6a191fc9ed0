/* util: the text helpers every module relies on, SHA-256, and buffered file writing. */
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static void test_utf8_nfc_matches_glib(void)
{
    /* the piecewise NFC agrees with g_utf8_normalize on what needs changing */
    static const char *const samples[] = {
        "Vie\xcc\xa3\xcc\x82t Nam",                    /* decomposed, marks out of order */
        "\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8 Hangul", /* conjoining jamo */
        "\xe2\x84\xab \xe2\x84\xa6 \xef\xa4\x80",      /* Angstrom, Ohm, CJK compatibility */
        "e\xcc\x81\xcc\xa3 \xe0\xa4\x95\xe0\xa4\xbc",  /* marks; Devanagari nukta */
        "plain ascii",
        "\xc3\xa1\xcc\x81",
        "\xe1\xbb\x87\xcc\x81x",
        "",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(samples); i++) {
        g_autofree char *ours = text_nfc_len(samples[i], -1);
        g_autofree char *glib = g_utf8_normalize(samples[i], -1, G_NORMALIZE_NFC);
        g_assert_cmpstr(ours, ==, glib);
    }
}

/* a run of marks longer than UAX #15's stream-safe 30 is normalised piece by piece: the same
 * result as GLib's for marks of one class, and the letter still composed */
static void test_nfc_long_run_of_marks(void)
{
    GString *zalgo = g_string_new("e");
    for (int i = 0; i < 100; i++)
        g_string_append(zalgo, "\xcc\x81"); /* U+0301 */
    g_autofree char *ours = text_nfc_len(zalgo->str, (gssize)zalgo->len);
    g_autofree char *glib = g_utf8_normalize(zalgo->str, -1, G_NORMALIZE_NFC);
    g_assert_cmpstr(ours, ==, glib);
    g_assert_true(g_str_has_prefix(ours, "\xc3\xa9")); /* é */
    g_string_free(zalgo, TRUE);
}

/* the last character alone unstable: that piece is normalised, the rest kept */
static void test_nfc_unstable_last_character(void)
{
    const char *samples[] = {"Đèn đường hỏng \xf0\x9f\x98\x80", "abc\xef\xbf\xbd",
                             "Vie\xcc\xa3\xcc\x82t"};
    for (gsize i = 0; i < G_N_ELEMENTS(samples); i++) {
        g_autofree char *ours = text_nfc_len(samples[i], -1);
        g_autofree char *glib = g_utf8_normalize(samples[i], -1, G_NORMALIZE_NFC);
        g_assert_cmpstr(ours, ==, glib);
    }
}

static void test_text_nfc_refuses_invalid_utf8(void)
{
    g_assert_null(text_nfc("caf\xe9"));
    g_assert_null(text_nfc(NULL));
    g_autofree char *ok = text_nfc("Vie\xcc\xa3\xcc\x82t");
    g_assert_cmpstr(ok, ==, "Vi\xe1\xbb\x87t"); /* Việt */
}

/* text_nfc validates and finds text NFC in one pass while every character is stable, then
 * hands the rest on: whatever follows a stable prefix of any length (around the eight octets
 * it reads at a time), the answer is GLib's NFC of valid text and NULL for invalid */
static void test_text_nfc_after_a_stable_prefix(void)
{
    static const char prefix[] = "Đèn đường hỏng ở phường 3, TP. Sóc Trăng “khẩn” – ABCDEFGHIJ";
    static const char *const tails[] = {
        "",
        "e\xcc\x81",          /* a mark to compose with the letter before it */
        "\xcc\x81",           /* a mark straight after the prefix */
        "\xe2\x84\xab",       /* Angstrom sign: NFC changes it */
        "\xf0\x9f\x98\x80 x", /* four octets: valid, not stable */
        "\xe1\x84\x80\xe1\x85\xa1",
        "\xc0\x80",         /* overlong NUL */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\x80",     /* overlong */
        "\xed\xa0\x80",     /* a surrogate */
        "\xf4\x90\x80\x80", /* beyond U+10FFFF */
        "\xc3",             /* cut short at the end */
        "\xe1\xbb",
        "\xe1\xbb"
        "a",
        "\x80", /* a continuation octet alone */
        "\xff",
        "\xc3\xa1\xe1\xbb\x87\xe2\x80\x9c", /* stable to the end */
    };
    for (gsize cut = 0; cut < 24; cut++) {
        for (gsize t = 0; t < G_N_ELEMENTS(tails); t++) {
            /* the prefix cut at a character boundary, cut octets or more */
            const char *end = prefix + MIN(cut, strlen(prefix));
            while (*end && ((guchar)*end & 0xC0) == 0x80)
                end++;
            g_autofree char *head = g_strndup(prefix, (gsize)(end - prefix));
            g_autofree char *text = g_strconcat(head, tails[t], "tail", NULL);
            g_autofree char *ours = text_nfc(text);
            g_autofree char *glib = g_utf8_validate(text, -1, NULL)
                                        ? g_utf8_normalize(text, -1, G_NORMALIZE_NFC)
                                        : NULL;
            if (g_strcmp0(ours, glib) != 0)
                g_error("text_nfc(\"%s\"): \"%s\", GLib: \"%s\"", text, ours ? ours : "(null)",
                        glib ? glib : "(null)");
        }
    }
}

/* a pattern made from the configuration is compiled once: the same GRegex comes back for the
 * same pattern and flags, another for other flags, and NULL for a pattern that is not one */
static void test_regex_kept(void)
{
    g_autoptr(GRegex) a = regex_kept("paht-\\d{4}", G_REGEX_CASELESS);
    g_autoptr(GRegex) b = regex_kept("paht-\\d{4}", G_REGEX_CASELESS);
    g_autoptr(GRegex) c = regex_kept("paht-\\d{4}", 0);
    g_assert_nonnull(a);
    g_assert_true(a == b);
    g_assert_true(a != c);
    g_assert_true(g_regex_match(a, "[PAHT-2026]", 0, NULL));
    g_assert_false(g_regex_match(c, "[PAHT-2026]", 0, NULL));
    g_assert_null(regex_kept("paht-(", 0));
}

static void test_text_is_visible_ascii(void)
{
    g_assert_true(text_is_visible_ascii(""));
    g_assert_true(text_is_visible_ascii(" Re: [PAHT-2026-000123] ~ "));
    g_assert_false(text_is_visible_ascii("a\tb"));
    g_assert_false(text_is_visible_ascii("a\x7f"));
    g_assert_false(text_is_visible_ascii("a\r\nBcc: x"));
    g_assert_false(text_is_visible_ascii("Vi\xe1\xbb\x87t"));
}

/* n random octets as 2n lowercase hex digits, different each time */
static void test_random_hex(void)
{
    g_autofree char *a = random_hex(16);
    g_autofree char *b = random_hex(16);
    g_assert_cmpuint(strlen(a), ==, 32);
    g_assert_cmpuint(strspn(a, "0123456789abcdef"), ==, 32);
    g_assert_cmpstr(a, !=, b);
    g_autofree char *none = random_hex(0);
    g_assert_cmpstr(none, ==, "");
    /* every digit turns up in 4,096 of them */
    g_autofree char *many = random_hex(2048);
    for (const char *d = "0123456789abcdef"; *d; d++)
        g_assert_nonnull(strchr(many, *d));
}

static void test_text_fold(void)
{
    g_autofree char *a = text_fold("Họ và Tên");
    g_assert_cmpstr(a, ==, "ho va ten");
    g_autofree char *b = text_fold("ĐỊA CHỈ");
    g_assert_cmpstr(b, ==, "dia chi");
    g_autofree char *c = text_fold("Số điện thoại");
    g_assert_cmpstr(c, ==, "so dien thoai");
}

/* the table-driven fold agrees with the definition: NFD, marks dropped, đ -> d, lowercase */
static void test_text_fold_matches_definition(void)
{
    GString *all = g_string_new(NULL);
    for (gunichar c = 0x20; c < 0x3000; c++) {
        if (g_unichar_validate(c) && !g_unichar_iscntrl(c))
            g_string_append_unichar(all, c);
    }
    g_string_append(all, "\xea\xb0\x80 \xef\xac\x81 \xf0\x9d\x90\x80"); /* Hangul, ﬁ, math A */
    g_autofree char *ours = text_fold(all->str);
    g_autofree char *nfd = g_utf8_normalize(all->str, -1, G_NORMALIZE_NFD);
    GString *expected = g_string_new(NULL);
    for (const char *p = nfd; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        GUnicodeType t = g_unichar_type(c);
        if (t == G_UNICODE_NON_SPACING_MARK || t == G_UNICODE_SPACING_MARK ||
            t == G_UNICODE_ENCLOSING_MARK)
            continue;
        if (c == 0x0111 || c == 0x0110)
            c = 'd';
        g_string_append_unichar(expected, g_unichar_tolower(c));
    }
    g_assert_cmpstr(ours, ==, expected->str);
    g_string_free(all, TRUE);
    g_string_free(expected, TRUE);
}

/* the fold with its way back: each folded byte names the character it came from; folds that
 * make more bytes than they take (Hangul into its letters, Ⱥ into ⱥ) grow both arrays */
static void test_text_fold_mapped(void)
{
    const char *text = "\xc3\x94ng AN \xc8\xba\xea\xb0\x80 \xef\xac\x81"; /* Ông AN Ⱥ가 ﬁ */
    gsize len = 0;
    g_autofree guint *origin = NULL;
    g_autofree char *folded = text_fold_mapped(text, strlen(text), &len, &origin);
    g_autofree char *plain = text_fold(text);
    g_assert_cmpstr(folded, ==, plain);
    g_assert_cmpuint(len, ==, strlen(folded));
    /* "ong an " then ⱥ (3 bytes) from Ⱥ at 8, two jamo (6 bytes) from 가 at 10, " ", and ﬁ
     * as it is (no canonical decomposition) */
    static const guint want[] = {0,  2,  3,  4,  5,  6,  7,  8,  8,  8,
                                 10, 10, 10, 10, 10, 10, 13, 14, 14, 14};
    g_assert_cmpuint(len, ==, G_N_ELEMENTS(want));
    for (gsize i = 0; i < len; i++)
        g_assert_cmpuint(origin[i], ==, want[i]);

    /* a prefix is folded alone; bytes that are not UTF-8 are left out */
    g_autofree char *prefix = text_fold_mapped(text, 7, &len, NULL);
    g_assert_cmpstr(prefix, ==, "ong an");
    g_autofree char *broken = text_fold_mapped("a\xff\xc3\x42", 4, &len, NULL); /* a 0xFF 0xC3 B */
    g_assert_cmpstr(broken, ==, "ab");

    /* 3 bytes become 6, a thousand times: far past the room made for the text's own length */
    GString *hangul = g_string_new(NULL);
    for (int i = 0; i < 1000; i++)
        g_string_append(hangul, "\xea\xb0\x80");
    g_autofree guint *far = NULL;
    g_autofree char *grown = text_fold_mapped(hangul->str, hangul->len, &len, &far);
    g_assert_cmpuint(len, ==, 6000);
    g_assert_cmpuint(far[5999], ==, 2997);
    g_string_free(hangul, TRUE);
}

static void test_header_sanitize(void)
{
    g_autofree char *a = text_header_sanitize("An\r\nBcc: x@y.vn");
    g_assert_cmpstr(a, ==, "An  Bcc: x@y.vn");
    g_assert_false(text_is_header_safe("a\nb"));
    g_assert_true(text_is_header_safe("Nguyễn Văn An"));
    g_autofree char *b = text_header_sanitize("x\xe2\x80\xa8y"); /* U+2028 */
    g_assert_cmpstr(b, ==, "x y");
}

static void test_sha256_known_answers(void)
{
    /* FIPS 180-2 test vectors */
    g_autofree char *empty = sha256_bytes("", 0);
    g_assert_cmpstr(empty, ==, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    g_autofree char *abc = sha256_bytes("abc", 3);
    g_assert_cmpstr(abc, ==, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* streamed in pieces, the same digest */
    Sha256 *sum = sha256_new();
    sha256_update(sum, "a", 1);
    sha256_update(sum, "", 0);
    sha256_update(sum, "bc", 2);
    g_autofree char *pieces = sha256_finish(sum);
    g_assert_cmpstr(pieces, ==, abc);
    sha256_free(NULL);
    sha256_free(sha256_new());
}

static void test_sha256_file_matches_bytes(void)
{
    g_autofree char *dir = g_dir_make_tmp("paht-util-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "f", NULL);
    GString *data = g_string_new(NULL);
    for (int i = 0; i < 200000; i++)
        g_string_append_c(data, (char)(i * 7));
    g_assert_true(g_file_set_contents(path, data->str, (gssize)data->len, NULL));
    gint64 size = 0;
    GError *error = NULL;
    g_autofree char *from_file = sha256_file(path, &size, &error);
    g_assert_no_error(error);
    g_autofree char *from_bytes = sha256_bytes(data->str, data->len);
    g_assert_cmpstr(from_file, ==, from_bytes);
    g_assert_cmpint(size, ==, 200000);
    g_autofree char *glib =
        g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data->str, data->len);
    g_assert_cmpstr(from_file, ==, glib);
    g_string_free(data, TRUE);
    unlink(path);
    g_rmdir(dir);
}

static void test_fd_writer_keeps_order_and_bytes(void)
{
    g_autofree char *dir = g_dir_make_tmp("paht-util-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "w", NULL);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    g_assert_cmpint(fd, >=, 0);
    /* pieces smaller than the buffer, one that straddles it, one bigger than it, and empty */
    static const gsize sizes[] = {1, 4000, 0, 61535, 3, 70000, 200000, 17, 65536, 5};
    GString *expected = g_string_new(NULL);
    FdWriter *w = fd_writer_new(fd);
    guint32 seed = 1;
    for (gsize i = 0; i < G_N_ELEMENTS(sizes); i++) {
        g_autofree char *piece = g_malloc(sizes[i] + 1);
        for (gsize k = 0; k < sizes[i]; k++) {
            seed = seed * 1103515245u + 12345u;
            piece[k] = (char)(seed >> 16);
        }
        int err = 0;
        g_assert_true(fd_writer_write(w, piece, sizes[i], &err));
        g_assert_cmpint(err, ==, 0);
        g_string_append_len(expected, piece, (gssize)sizes[i]);
    }
    int err = 0;
    g_assert_true(fd_writer_flush(w, &err));
    fd_writer_free(w);
    close(fd);
    g_autofree char *got = NULL;
    gsize got_len = 0;
    g_assert_true(g_file_get_contents(path, &got, &got_len, NULL));
    g_assert_cmpuint(got_len, ==, expected->len);
    g_assert_true(memcmp(got, expected->str, got_len) == 0);
    g_string_free(expected, TRUE);
    unlink(path);
    g_rmdir(dir);
}

static void test_fd_writer_reports_write_errors(void)
{
    /* a descriptor open for reading only: the write fails with EBADF, at the flush for a
     * small piece and at once for one bigger than the buffer */
    int fd = open("/dev/null", O_RDONLY);
    g_assert_cmpint(fd, >=, 0);
    FdWriter *w = fd_writer_new(fd);
    int err = 0;
    g_assert_true(fd_writer_write(w, "abc", 3, &err));
    g_assert_false(fd_writer_flush(w, &err));
    g_assert_cmpint(err, ==, EBADF);
    g_autofree char *big = g_malloc0(100000);
    err = 0;
    g_assert_false(fd_writer_write(w, big, 100000, &err));
    g_assert_cmpint(err, ==, EBADF);
    fd_writer_free(w);
    close(fd);
}

/* base64_decode_step is GLib's decoder, faster: the same bytes for any input cut anywhere.
 * Random input made mostly of base64 lines, with what real mail also holds: line ends, '='
 * padding in the middle (pieces encoded separately and joined), stray characters outside the
 * alphabet, and groups cut by the chunk boundaries of a stream. */
static void test_base64_decode_matches_glib(void)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char *const oddities[] = {"\r\n", "\n",       "=", "==", "=\r\n", " ",
                                           "!",    "\xc3\xa9", "-", "\t", "\0"};
    GRand *rand = g_rand_new_with_seed(18);
    for (int round = 0; round < 400; round++) {
        GString *in = g_string_new(NULL);
        int pieces = g_rand_int_range(rand, 1, 40);
        for (int k = 0; k < pieces; k++) {
            int n = g_rand_int_range(rand, 0, 120);
            for (int j = 0; j < n; j++)
                g_string_append_c(in, alphabet[g_rand_int_range(rand, 0, 64)]);
            if (g_rand_int_range(rand, 0, 3) == 0) {
                const char *odd = oddities[g_rand_int_range(rand, 0, G_N_ELEMENTS(oddities))];
                g_string_append_len(in, odd, *odd ? (gssize)strlen(odd) : 1);
            }
        }
        GByteArray *ours = g_byte_array_new(), *glib = g_byte_array_new();
        gint state = 0, glib_state = 0;
        guint save = 0, glib_save = 0;
        for (gsize at = 0; at < in->len;) {
            /* drawn first: MIN evaluates its arguments twice */
            gsize chunk = (gsize)g_rand_int_range(rand, 1, 300);
            gsize n = MIN(in->len - at, chunk);
            guchar out[300 / 4 * 3 + 3], glib_out[300 / 4 * 3 + 3];
            gsize got = base64_decode_step(in->str + at, n, out, &state, &save);
            gsize want = g_base64_decode_step(in->str + at, n, glib_out, &glib_state, &glib_save);
            g_byte_array_append(ours, out, (guint)got);
            g_byte_array_append(glib, glib_out, (guint)want);
            g_assert_cmpint(state, ==, glib_state);
            at += n;
        }
        g_assert_cmpmem(ours->data, ours->len, glib->data, glib->len);
        g_byte_array_unref(ours);
        g_byte_array_unref(glib);
        g_string_free(in, TRUE);
    }
    g_rand_free(rand);
    /* the case GMime gets wrong (bug #150): "VI" + "RUS!!" */
    guchar out[32];
    gint state = 0;
    guint save = 0;
    gsize n = base64_decode_step("Vkk=\r\nUlVTISE=", 15, out, &state, &save);
    g_assert_cmpmem(out, n, "VIRUS!!", 7);
}

/* base64_encode_lines writes what GLib writes with line breaks, but for the empty line GLib
 * adds after a last line that is full (and the lone LF it writes for no input), which GMime's
 * encoder does not write either (test_notify_letter compares with GMime's): every length from
 * none to a few lines, each side of a line's 57 octets, and a letter's size. The room it asks
 * for is exactly what it writes, and our decoder reads it back. */
static void test_base64_encode_matches_glib(void)
{
    GRand *rand = g_rand_new_with_seed(29);
    for (gsize len = 0; len <= 12000; len = len < 400 ? len + 1 : len * 3 + 7) {
        guchar *data = g_malloc(len + 1);
        for (gsize i = 0; i < len; i++)
            data[i] = (guchar)g_rand_int_range(rand, 0, 256);
        gsize room = base64_encoded_lines_size(len);
        char *ours = g_malloc(room + 1);
        gsize n = base64_encode_lines(data, len, ours);
        g_assert_cmpuint(n, ==, room);

        char *glib = g_malloc(len / 3 * 4 + len / 57 + 16);
        gint state = 0, save = 0;
        gsize m = g_base64_encode_step(data, len, TRUE, glib, &state, &save);
        m += g_base64_encode_close(TRUE, glib + m, &state, &save);
        if (len % 57 == 0) { /* GLib's extra LF */
            g_assert_cmpint(glib[m - 1], ==, '\n');
            m--;
        }
        if (n != m || memcmp(ours, glib, n) != 0)
            g_error("%" G_GSIZE_FORMAT " octets: ours \"%.*s\", GLib's \"%.*s\"", len, (int)n, ours,
                    (int)m, glib);
        for (gsize i = 0; i < n; i += 77) /* 76 characters and LF, the last line shorter */
            g_assert_true(n - i <= 77 ? ours[n - 1] == '\n' : ours[i + 76] == '\n');

        guchar *back = g_malloc(n / 4 * 3 + 3);
        gint dstate = 0;
        guint dsave = 0;
        gsize got = base64_decode_step(ours, n, back, &dstate, &dsave);
        g_assert_cmpmem(back, got, data, len);
        g_free(back);
        g_free(glib);
        g_free(ours);
        g_free(data);
    }
    g_rand_free(rand);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/util/nfc-matches-glib", test_utf8_nfc_matches_glib);
    g_test_add_func("/util/nfc-refuses-invalid", test_text_nfc_refuses_invalid_utf8);
    g_test_add_func("/util/nfc-after-a-stable-prefix", test_text_nfc_after_a_stable_prefix);
    g_test_add_func("/util/regex-kept", test_regex_kept);
    g_test_add_func("/util/random-hex", test_random_hex);
    g_test_add_func("/util/text-is-visible-ascii", test_text_is_visible_ascii);
    g_test_add_func("/util/nfc-long-run-of-marks", test_nfc_long_run_of_marks);
    g_test_add_func("/util/nfc-unstable-last-character", test_nfc_unstable_last_character);
    g_test_add_func("/util/fold", test_text_fold);
    g_test_add_func("/util/fold-matches-definition", test_text_fold_matches_definition);
    g_test_add_func("/util/fold-mapped", test_text_fold_mapped);
    g_test_add_func("/util/header-sanitize", test_header_sanitize);
    g_test_add_func("/util/sha256-known-answers", test_sha256_known_answers);
    g_test_add_func("/util/sha256-file", test_sha256_file_matches_bytes);
    g_test_add_func("/util/fd-writer", test_fd_writer_keeps_order_and_bytes);
    g_test_add_func("/util/fd-writer-errors", test_fd_writer_reports_write_errors);
    g_test_add_func("/util/base64-decode-matches-glib", test_base64_decode_matches_glib);
    g_test_add_func("/util/base64-encode-matches-glib", test_base64_encode_matches_glib);
    return g_test_run();
}
