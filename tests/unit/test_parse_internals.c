/* parse: the pieces behind the steps (parse/parse_private.h), case by case. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "parse/parse_private.h"
#include "util/util.h"

static ParseContext *context_new(void)
{
    ParseContext *ctx = g_new0(ParseContext, 1);
    ctx->draft = draft_new();
    ctx->used_names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    ctx->warning_set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    ctx->created_files = g_ptr_array_new_with_free_func(g_free);
    ctx->gmime_options = g_mime_parser_options_new();
    const char *fallback[] = {"utf-8", "windows-1258", NULL}; /* as parse.c sets them */
    g_mime_parser_options_set_fallback_charsets(ctx->gmime_options, fallback);
    return ctx;
}

static void context_free(ParseContext *ctx)
{
    draft_free(ctx->draft);
    g_hash_table_unref(ctx->used_names);
    g_hash_table_unref(ctx->warning_set);
    g_ptr_array_unref(ctx->created_files);
    g_mime_parser_options_free(ctx->gmime_options);
    g_free(ctx);
}

/* ---- RFC 2047 (GMime bug #133) ------------------------------------------------------------- */

static char *decode_header(const char *raw)
{
    ParseContext *ctx = context_new();
    g_autofree char *merged = rfc2047_merge_adjacent(raw);
    char *text = header_decode_text(ctx, merged);
    context_free(ctx);
    return text;
}

static void test_rfc2047_merge(void)
{
    g_autofree char *merged = rfc2047_merge_adjacent("=?UTF-8?B?SGVsbG8=?= =?UTF-8?B?IHdvcmxk?=");
    g_assert_cmpstr(merged, ==, "=?UTF-8?B?SGVsbG8gd29ybGQ=?=");
    g_autofree char *hello = decode_header("=?UTF-8?B?SGVsbG8=?= =?UTF-8?B?IHdvcmxk?=");
    g_assert_cmpstr(hello, ==, "Hello world");

    /* "Thông báo" with "ô" (C3 B4) split across words, Q and B mixed, folded */
    g_autofree char *vi = decode_header("=?utf-8?q?Th=C3?=\r\n =?UTF-8?B?tG5nIGLDoW8=?=");
    g_assert_cmpstr(vi, ==, "Thông báo");

    /* Outlook's UTF-8 labelled windows-1258, in a header too; real windows-1258 stays */
    g_autofree char *mislabel = decode_header("=?windows-1258?Q?Vi=E1=BB=87t?= Nam");
    g_assert_cmpstr(mislabel, ==, "Việt Nam");
    g_autofree char *real = decode_header("=?windows-1258?Q?Vi=EA=F2t?=");
    g_assert_cmpstr(real, ==, "Việt");

    /* different charsets are separate words */
    g_autofree char *mixed = rfc2047_merge_adjacent("=?UTF-8?B?SGk=?= =?ISO-8859-1?Q?caf=E9?=");
    g_assert_cmpstr(mixed, ==, "=?UTF-8?B?SGk=?= =?ISO-8859-1?Q?caf=E9?=");
    g_autofree char *mixed_text = decode_header("=?UTF-8?B?SGk=?= =?ISO-8859-1?Q?caf=E9?=");
    g_assert_cmpstr(mixed_text, ==, "Hicafé");

    /* text between words keeps them apart; plain text is untouched */
    g_autofree char *apart = rfc2047_merge_adjacent("=?UTF-8?B?SGk=?= and =?UTF-8?B?SGk=?=");
    g_assert_cmpstr(apart, ==, "=?UTF-8?B?SGk=?= and =?UTF-8?B?SGk=?=");
    g_autofree char *plain = rfc2047_merge_adjacent("Phan anh =? not a word ?=");
    g_assert_cmpstr(plain, ==, "Phan anh =? not a word ?=");

    /* broken words are left to GMime's loose decoder */
    g_autofree char *broken = rfc2047_merge_adjacent("=?UTF-8?X?abc?= =?UTF-8?B?SGk=");
    g_assert_cmpstr(broken, ==, "=?UTF-8?X?abc?= =?UTF-8?B?SGk=");
}

static void test_header_decode_one_line(void)
{
    ParseContext *ctx = context_new();
    g_autofree char *s =
        header_decode_text(ctx, "  Ph\xe1\xba\xa3n \t\xc3\xa1nh\r\n  m\xe1\xbb\x9bi ");
    g_assert_cmpstr(s, ==, "Phản ánh mới");
    /* raw 8-bit windows-1258 in a header (no RFC 2047): the fallback charset */
    g_autofree char *cp = header_decode_text(ctx, "Nu\xf4\xec"
                                                  "c"); /* "nuốc": ô + U+0301 */
    g_assert_cmpstr(cp, ==, "Nuốc");
    g_autofree char *addr = address_lower_domain("Nguyen.Van.A@Gmail.COM");
    g_assert_cmpstr(addr, ==, "Nguyen.Van.A@gmail.com");
    /* a subject far over the bound: cut to MAX_HEADER_TEXT bytes, whatever the input */
    g_autofree char *huge = g_strnfill(100000, 'a');
    g_autofree char *cut = header_decode_text(ctx, huge);
    g_assert_cmpuint(strlen(cut), ==, 2000);
    context_free(ctx);
}

/* one line: every run of white space, control characters (C0, DEL, C1) and invisible spaces
 * is one space, none at the ends; the text NFC; cut on a character boundary */
static void test_text_one_line(void)
{
    g_autofree char *a = text_one_line("\t Tr\x01 \x7fung\r\n\tt\xc3\xa2m\x0b ", 100);
    g_assert_cmpstr(a, ==, "Tr ung tâm");
    g_autofree char *b = text_one_line("x\xc2\xa0\xe2\x80\x8b\xc2\x85y\xef\xbb\xbfz", 100);
    g_assert_cmpstr(b, ==, "x y z"); /* NBSP + ZWSP + NEL one space; BOM a space */
    g_autofree char *c = text_one_line("To\xcc\x82\xcc\x81i", 100); /* o + marks: NFC */
    g_assert_cmpstr(c, ==, "Tối");
    g_autofree char *d = text_one_line("ab\xe1\xbb\x91", 4); /* "abố" cut inside the ố */
    g_assert_cmpstr(d, ==, "ab");
    g_autofree char *e = text_one_line("a\xff"
                                       "b",
                                       100); /* invalid UTF-8 made valid */
    g_assert_cmpstr(e, ==,
                    "a\xef\xbf\xbd"
                    "b");
    g_autofree char *f = text_one_line(" \t\r\n ", 100);
    g_assert_cmpstr(f, ==, "");
    g_autofree char *g = text_one_line(NULL, 100);
    g_assert_cmpstr(g, ==, "");
}

static void test_subject_prefixes(void)
{
    static const struct {
        const char *subject;
        gboolean reply, forward;
    } cases[] = {
        {"Re: [PAHT-2026-000123] x", TRUE, FALSE},
        {"RE: x", TRUE, FALSE},
        {"TL: Đề nghị", TRUE, FALSE},
        {"Trả lời: x", TRUE, FALSE},
        {"Fwd: Ổ gà", FALSE, TRUE},
        {"FW: x", FALSE, TRUE},
        {"Chuyển tiếp: x", FALSE, TRUE},
        {"Phản ánh: Re: x", FALSE, FALSE},
        {"Reo: x", FALSE, FALSE},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        gboolean reply, forward;
        subject_reply_forward(cases[i].subject, &reply, &forward);
        g_assert_cmpint(reply, ==, cases[i].reply);
        g_assert_cmpint(forward, ==, cases[i].forward);
    }
}

/* ---- charsets and normalisation ------------------------------------------------------------ */

static void test_charset_conversions(void)
{
    ParseContext *ctx = context_new();
    /* windows-1258 with combining tones -> NFC after normalisation */
    const char cp[] = "Vi\xea\xf2t Nam \xf0\xe2\xcc"
                      "i";
    g_autofree char *a = charset_to_utf8(ctx, cp, sizeof cp - 1, "Windows-1258");
    g_autofree char *an = text_normalise(a, -1);
    g_assert_cmpstr(an, ==, "Việt Nam đầi");
    /* VISCII and ISO-8859-1 */
    g_autofree char *v = charset_to_utf8(ctx,
                                         "Vi\xae"
                                         "t",
                                         4, "viscii");
    g_assert_cmpstr(v, ==, "Việt");
    g_autofree char *l = charset_to_utf8(ctx, "caf\xe9", 4, "\"iso-8859-1\"");
    g_assert_cmpstr(l, ==, "café");
    g_assert_cmpuint(ctx->draft->warnings->len, ==, 0);
    /* UTF-8 labelled ISO-8859-1 is UTF-8 */
    g_autofree char *l8 = charset_to_utf8(ctx, "Vi\xe1\xbb\x87t", 6, "ISO-8859-1");
    g_assert_cmpstr(l8, ==, "Việt");
    g_assert_true(g_ptr_array_find_with_equal_func(
        ctx->draft->warnings, "text declared iso-8859-1 is UTF-8; read as UTF-8", g_str_equal,
        NULL));
    /* declared UTF-8, not UTF-8 at all: 8-bit text, read as windows-1258 */
    g_autofree char *u = charset_to_utf8(ctx, "Vi\xea\xf2t", 5, "utf-8");
    g_autofree char *un = text_normalise(u, -1);
    g_assert_cmpstr(un, ==, "Việt");
    /* UTF-8 with one bad byte: the byte becomes U+FFFD, the rest stays */
    g_autofree char *bad = charset_to_utf8(ctx, "Vi\xe1\xbb\x87t \xff!", 9, "utf-8");
    g_assert_cmpstr(bad, ==, "Việt \xef\xbf\xbd!");
    /* unknown charset: valid UTF-8 stays UTF-8 */
    g_autofree char *unknown = charset_to_utf8(ctx, "Vi\xe1\xbb\x87t", 6, "x-klingon");
    g_assert_cmpstr(unknown, ==, "Việt");
    g_assert_true(g_ptr_array_find_with_equal_func(
        ctx->draft->warnings, "unknown charset x-klingon; text read as UTF-8", g_str_equal, NULL));
    /* UTF-16 keeps its NUL bytes (they are data) */
    g_autofree char *wide = charset_to_utf8(ctx, "V\0i\0\xc7\x1e", 6, "UTF-16LE");
    g_assert_cmpstr(wide, ==, "Việ");
    /* an invalid sequence in a multibyte charset is replaced, not fatal */
    g_autofree char *sjis = charset_to_utf8(ctx, "a\x82", 2, "Shift_JIS");
    g_assert_cmpstr(sjis, ==, "a\xef\xbf\xbd");
    context_free(ctx);
}

/* issue 11 item 8: charsets as real mail uses them */
static void test_charset_real_world_labels(void)
{
    ParseContext *ctx = context_new();
    /* ISO-2022-JP is 7-bit: its escape sequences are decoded, not returned as they are */
    const char jis[] = "\x1b$B$3$s$K$A$O\x1b(B";
    g_autofree char *j = charset_to_utf8(ctx, jis, sizeof jis - 1, "ISO-2022-JP");
    g_assert_cmpstr(j, ==, "こんにちは");
    /* GB2312-labelled text with a GBK character (镕) is read as GB18030, not U+FFFD */
    const char gbk[] = "\xd6\xec\xe9\x46\xbb\xf9";
    g_autofree char *g = charset_to_utf8(ctx, gbk, sizeof gbk - 1, "gb2312");
    g_assert_cmpstr(g, ==, "朱镕基");
    /* valid UTF-8 mislabelled Big5 or GB2312 is UTF-8 */
    const char taiwan[] = "\xe5\x8f\xb0\xe7\x81\xa3";
    g_autofree char *b = charset_to_utf8(ctx, taiwan, sizeof taiwan - 1, "big5");
    g_assert_cmpstr(b, ==, "台灣");
    g_autofree char *b2 = charset_to_utf8(ctx, taiwan, sizeof taiwan - 1, "GB2312");
    g_assert_cmpstr(b2, ==, "台灣");
    /* 8-bit bytes under the 7-bit ISO-2022-JP label: EUC-JP (or UTF-8), as Japanese mail
     * programs send it */
    const char euc[] = "\xa5\xe1\xa1\xbc\xa5\xeb";
    g_autofree char *e = charset_to_utf8(ctx, euc, sizeof euc - 1, "iso-2022-jp");
    g_assert_cmpstr(e, ==, "メール");
    g_autofree char *u =
        charset_to_utf8(ctx, "\xe3\x83\xa1\xe3\x83\xbc\xe3\x83\xab", 9, "ISO-2022-JP");
    g_assert_cmpstr(u, ==, "メール");
    /* ISO-8859-1 labels windows-1252 text: its curly quotes are quotes, not C1 controls */
    g_autofree char *q = charset_to_utf8(ctx, "\x93ok\x94", 4, "iso-8859-1");
    g_assert_cmpstr(q, ==, "\xe2\x80\x9cok\xe2\x80\x9d");
    context_free(ctx);
}

static void test_text_normalise(void)
{
    g_autofree char *a =
        text_normalise("\xef\xbb\xbf\r\n\r\nD\xc3\xb2ng 1  \t\r\nd\x01\xc3\xb2ng\xc2\xa0\xc2\xa0"
                       "2\rd\xc3\xb2ng 3\xe2\x80\xa8"
                       "cu\xe1\xbb\x91i\r\n\r\n\r\n",
                       -1);
    g_assert_cmpstr(a, ==, "Dòng 1\ndòng  2\ndòng 3\ncuối");
    /* NFD in, NFC out */
    g_autofree char *nfd = g_utf8_normalize("Nguyễn Thị Hồng", -1, G_NORMALIZE_NFD);
    g_autofree char *b = text_normalise(nfd, -1);
    g_assert_cmpstr(b, ==, "Nguyễn Thị Hồng");
    /* at most 30 combining marks on one letter (UAX #15 stream-safe) */
    GString *zalgo = g_string_new("a");
    for (int i = 0; i < 100; i++)
        g_string_append(zalgo, "\xcc\x81"); /* U+0301 */
    g_string_append(zalgo, "b");
    g_autofree char *c = text_normalise(zalgo->str, -1);
    g_assert_cmpuint(g_utf8_strlen(c, -1), ==, 1 + 29 + 1); /* á + 29 marks + b */
    g_string_free(zalgo, TRUE);
}

/* the letters copied straight through (U+00A1-U+02FF, U+1E00-U+1EFF) still compose with a
 * mark after them; the code points beside them keep their own rules */
static void test_normalise_kept_letters(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"\xc3\xaa\xcc\x81", "\xe1\xba\xbf"},         /* ê + acute: ế */
        {"\xe1\xba\xa1\xcc\x82 x", "\xe1\xba\xad x"}, /* ạ + circumflex: ậ */
        {"\xc3\xa1\xc3\xa0 \xc6\xb0\xe1\xbb\x9d", "\xc3\xa1\xc3\xa0 \xc6\xb0\xe1\xbb\x9d"},
        {"x\xc2\x85y\xc2\x9f", "xy"}, /* C1 controls dropped */
        {"x\xc2\xa0y", "x y"},        /* no-break space */
        {"\xc2\xa1\xcb\xbf\xe1\xb8\x80\xe1\xbb\xbf", "\xc2\xa1\xcb\xbf\xe1\xb8\x80\xe1\xbb\xbf"},
        {"a\xc3(b", "a\xef\xbf\xbd(b"},             /* a cut two-octet form */
        {"a\xe1\xbb", "a\xef\xbf\xbd\xef\xbf\xbd"}, /* cut at the end */
        {"\xe1\xbc\x80\xcc\x81", "\xe1\xbc\x84"},   /* Greek beside the range */
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *out = text_normalise(cases[i].in, -1);
        g_assert_cmpstr(out, ==, cases[i].out);
    }
}

static void test_normalise_large_decomposed_text(void)
{
    /* GLib's NFC alone is quadratic here (31 s for these 2 MiB); ours is linear. The time is
     * bench/run's "hostile_nfc" figure; here, that every character of it comes out right */
    g_autofree char *line =
        g_utf8_normalize("Người dân phản ánh việc lấn chiếm vỉa hè. ", -1, G_NORMALIZE_NFD);
    g_autofree char *composed = g_utf8_normalize(line, -1, G_NORMALIZE_NFC);
    GString *big = g_string_new(NULL);
    GString *expected = g_string_new(NULL);
    while (big->len < 2 * 1024 * 1024) {
        g_string_append(big, line);
        g_string_append(expected, composed);
    }
    g_autofree char *out = text_normalise(big->str, (gssize)big->len);
    g_assert_cmpstr(out, ==, g_strchomp(expected->str)); /* trailing space stripped */
    g_string_free(big, TRUE);
    g_string_free(expected, TRUE);
}

static void test_unflow(void)
{
    g_autofree char *a = text_unflow("Dòng dài \r\nnối tiếp\r\n-- \r\nChữ ký\r\n", FALSE);
    g_assert_cmpstr(a, ==, "Dòng dài nối tiếp\n-- \nChữ ký\n");
    g_autofree char *b = text_unflow("abc \ndef\n", TRUE);
    g_assert_cmpstr(b, ==, "abcdef\n");
    g_autofree char *c = text_unflow("> trich \n> dan\nmoi\n", FALSE);
    g_assert_cmpstr(c, ==, "> trich dan\nmoi\n");
    /* space-stuffed lines lose one space */
    g_autofree char *d = text_unflow(" From here\n", FALSE);
    g_assert_cmpstr(d, ==, "From here\n");
}

/* ---- HTML ---------------------------------------------------------------------------------- */

static char *html(const char *markup, gboolean find_quote, char **quoted)
{
    char *q = NULL;
    char *raw = html_to_text(markup, strlen(markup), find_quote, &q);
    char *text = text_normalise(raw, -1);
    g_free(raw);
    if (quoted)
        *quoted = q ? text_normalise(q, -1) : NULL;
    g_free(q);
    return text;
}

static void test_html_layout(void)
{
    g_autofree char *a = html("<p>a<br>b</p><p>c</p><div><br></div><div>d</div>", FALSE, NULL);
    g_assert_cmpstr(a, ==, "a\nb\nc\n\nd");
    g_autofree char *b =
        html("<table><tr><td>x</td><td>y</td></tr><tr><td>z</td></tr></table>", FALSE, NULL);
    g_assert_cmpstr(b, ==, "x\ty\nz");
    g_autofree char *c = html("<ol><li>một</li><li>hai</li></ol>sau", FALSE, NULL);
    g_assert_cmpstr(c, ==, "một\nhai\nsau");
    g_autofree char *d = html("<pre>  a\n    b</pre>x", FALSE, NULL);
    g_assert_cmpstr(d, ==, "  a\n    b\nx");
    g_autofree char *e = html("<a href=\"http://www.x.vn/\">www.x.vn</a> "
                              "<a href=\"javascript:alert(1)\">bấm</a> "
                              "<a href=\"https://t.vn/a\"><img src=x></a> "
                              "<a href=\"https://t.vn/b\">xem</a>",
                              FALSE, NULL);
    g_assert_cmpstr(e, ==, "www.x.vn bấm xem (https://t.vn/b)");
    g_autofree char *f = html("<head><title>T</title><style>x{}</style></head><script>s()</script>"
                              "<span hidden>h</span><p style=\"DISPLAY : none\">n</p>"
                              "&lt;ok&gt; &amp; &#7879; &nbsp;x",
                              FALSE, NULL);
    g_assert_cmpstr(f, ==, "<ok> & ệ  x");
}

static void test_html_never_loads_entities_or_files(void)
{
    g_autofree char *a = html("<!DOCTYPE html [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
                              "<p>&x;</p><p>an toàn</p>",
                              FALSE, NULL);
    g_assert_null(strstr(a, "root:"));
    g_assert_nonnull(strstr(a, "an toàn"));
}

static void test_html_quote_markers(void)
{
    char *quoted = NULL;
    g_autofree char *a =
        html("<div>Trả lời mới</div><div class=\"gmail_quote gmail_quote_container\">"
             "<div class=\"gmail_attr\">On Mon wrote:</div><blockquote>cũ</blockquote></div>",
             TRUE, &quoted);
    g_assert_cmpstr(a, ==, "Trả lời mới");
    g_assert_cmpstr(quoted, ==, "On Mon wrote:\ncũ");
    g_free(quoted);
    g_autofree char *b = html("<p>mới</p><blockquote type=\"cite\">cũ</blockquote>", TRUE, &quoted);
    g_assert_cmpstr(b, ==, "mới");
    g_assert_cmpstr(quoted, ==, "cũ");
    g_free(quoted);
    /* not asked: nothing cut */
    g_autofree char *c =
        html("<p>mới</p><blockquote type=\"cite\">cũ</blockquote>", FALSE, &quoted);
    g_assert_cmpstr(c, ==, "mới\ncũ");
    g_assert_null(quoted);
}

static void test_html_deep_nesting(void)
{
    /* 100 levels (an Outlook thread) are read; libxml2 stops at its depth limit (256 without
     * HTML_PARSE_HUGE, which we never set) and what came before is kept */
    GString *deep = g_string_new("<p>trước</p>");
    for (int i = 0; i < 100; i++)
        g_string_append(deep, "<blockquote><div>");
    g_string_append(deep, "sâu 100");
    g_autofree char *a = html(deep->str, TRUE, NULL);
    g_assert_cmpstr(a, ==, "trước\nsâu 100");
    for (int i = 0; i < 20000; i++)
        g_string_append(deep, "<div><span>");
    g_string_append(deep, "sâu 20000");
    g_autofree char *b = html(deep->str, FALSE, NULL);
    g_assert_cmpstr(b, ==, "trước\nsâu 100");
    g_string_free(deep, TRUE);
}

/* ---- quotes -------------------------------------------------------------------------------- */

static void test_quote_split_cases(void)
{
    static const struct {
        const char *text, *kept, *quoted;
    } cases[] = {
        /* top posting */
        {"Mới\n\nOn Mon, Jan 12, 2026 at 9:14 AM IOC <paht@x.vn> wrote:\n> cũ\n> cũ 2", "Mới",
         "On Mon, Jan 12, 2026 at 9:14 AM IOC <paht@x.vn> wrote:\n> cũ\n> cũ 2"},
        /* bottom posting: the answer below the quote stays */
        {"Vào 12/1/2026 IOC đã viết:\n> Đề nghị bổ sung.\n\nSố điện thoại: 0912345678",
         "Số điện thoại: 0912345678", "Vào 12/1/2026 IOC đã viết:\n> Đề nghị bổ sung."},
        /* only ">" lines */
        {"Trả lời\n> cũ\n>\n> cũ", "Trả lời", "> cũ\n>\n> cũ"},
        /* Outlook header block in Vietnamese after a line of underscores */
        {"Dạ vâng.\n________________________________\nTừ: IOC <paht@x.vn>\nĐã gửi: Thứ Hai\n"
         "Đến: a@b.vn\nChủ đề: PAHT\n\nNội dung cũ",
         "Dạ vâng.",
         "________________________________\nTừ: IOC <paht@x.vn>\nĐã gửi: Thứ Hai\nĐến: "
         "a@b.vn\nChủ đề: PAHT\n\nNội dung cũ"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *kept = NULL;
        g_autofree char *quoted = NULL;
        g_assert_true(quote_split(cases[i].text, &kept, &quoted));
        g_assert_cmpstr(kept, ==, cases[i].kept);
        g_assert_cmpstr(quoted, ==, cases[i].quoted);
    }
}

static void test_quote_split_refuses(void)
{
    static const char *const texts[] = {
        /* everything quoted: never the whole text */
        "On Mon, Jan 12, 2026 IOC <paht@x.vn> wrote:\n> cũ",
        "> chỉ có trích dẫn",
        /* a citizen's own "I wrote:" is not an attribution */
        "Tôi đã viết:\nCống bị nghẹt.",
        /* an inline forward is the submission, not a quote */
        ("Chuyển anh xem.\n---------- Forwarded message ---------\nFrom: Dân <d@x.vn>\n"
         "Date: Mon\nSubject: Ổ gà\nTo: p7@x.vn\n\nĐường có ổ gà."),
        "Không có gì để cắt.",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(texts); i++) {
        char *kept = NULL, *quoted = NULL;
        g_assert_false(quote_split(texts[i], &kept, &quoted));
        g_assert_null(kept);
        g_assert_null(quoted);
    }
    g_assert_true(quote_starts_with_forward("\n---------- Thư được chuyển tiếp ---------\nTừ: x"));
    g_assert_false(quote_starts_with_forward("Từ: x\nĐã gửi: y"));
}

/* Our own letter forwarded back to us: the marker line is found however it is written (ASCII
 * lines are matched without folding, the others folded), and only a marker followed by our
 * address in the forwarded header block counts */
static void test_quote_forward_of_ours(void)
{
    static const char *const markers[] = {
        "---------- Forwarded message ---------",
        "  ---------- FORWARDED MESSAGE ----------  ",
        "Begin forwarded message:",
        "\tbegin  forwarded message:",
        "-------- Thư được chuyển tiếp --------",
        "Bắt đầu thư được chuyển tiếp:",
        "BẮT ĐẦU THƯ ĐƯỢC CHUYỂN TIẾP:",
        "Tin nhắn được chuyển tiếp",
        "bat dau thu duoc chuyen tiep:",
        "-- THU DUOC CHUYEN TIEP --",
        "———— Forwarded message ————",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(markers); i++) {
        g_autofree char *text =
            g_strdup_printf("Nhờ anh xem lại.\n%s\nFrom: Trung tâm IOC <paht@soctrang.gov.vn>\n"
                            "Subject: PAHT-2026-000123\n\nNội dung cũ",
                            markers[i]);
        g_autofree char *kept = NULL, *quoted = NULL;
        g_assert_true(quote_forward_of_ours(text, "paht@soctrang.gov.vn", &kept, &quoted));
        g_assert_cmpstr(kept, ==, "Nhờ anh xem lại.");
        g_assert_true(g_str_has_prefix(quoted, markers[i]));
    }
    static const char *const not_ours[] = {
        /* a forward of someone else's mail */
        "Xem.\n---------- Forwarded message ---------\nFrom: Dân <d@x.vn>\n\nổ gà",
        /* our address too far below the marker */
        "Xem.\nForwarded message\na\nb\nc\nd\ne\nf\nFrom: <paht@soctrang.gov.vn>",
        /* no marker */
        "Xem.\n---------- Original message ---------\nFrom: <paht@soctrang.gov.vn>",
        "Xem.\n---------- Forwarded mess age ---------\nFrom: <paht@soctrang.gov.vn>",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(not_ours); i++) {
        g_autofree char *kept = NULL, *quoted = NULL;
        g_assert_false(quote_forward_of_ours(not_ours[i], "paht@soctrang.gov.vn", &kept, &quoted));
        g_assert_null(kept);
        g_assert_null(quoted);
    }
    /* a marker in a line of more than 400 bytes is prose, not a marker, ASCII or not */
    for (int vietnamese = 0; vietnamese < 2; vietnamese++) {
        GString *text = g_string_new("Xem.\n");
        while (text->len < 420)
            g_string_append(text, vietnamese ? "chữ " : "word ");
        g_string_append(text, "forwarded message\nFrom: <paht@soctrang.gov.vn>\n");
        g_autofree char *kept = NULL, *quoted = NULL;
        g_assert_false(quote_forward_of_ours(text->str, "paht@soctrang.gov.vn", &kept, &quoted));
        g_string_truncate(text, 5);
        g_string_append(text, "forwarded message\nFrom: <paht@soctrang.gov.vn>\n");
        g_assert_true(quote_forward_of_ours(text->str, "paht@soctrang.gov.vn", &kept, &quoted));
        g_clear_pointer(&kept, g_free);
        g_clear_pointer(&quoted, g_free);
        g_string_free(text, TRUE);
    }
    /* without an address of ours nothing is ours */
    g_autofree char *kept = NULL, *quoted = NULL;
    g_assert_false(quote_forward_of_ours("Xem.\nForwarded message\nFrom: <paht@x.vn>", "paht",
                                         &kept, &quoted));
    g_assert_false(
        quote_forward_of_ours("Xem.\nForwarded message\nFrom: <paht@x.vn>", NULL, &kept, &quoted));
    g_assert_null(kept);
}

/* ---- attachments --------------------------------------------------------------------------- */

static void test_sniff(void)
{
    static const struct {
        const char *head;
        gsize len;
        const char *type, *kind;
        gboolean executable;
    } cases[] = {
        {"\xff\xd8\xff\xe0", 4, "image/jpeg", "image", FALSE},
        {"\x89PNG\r\n\x1a\n", 8, "image/png", "image", FALSE},
        {"GIF89a", 6, "image/gif", "image", FALSE},
        {"RIFF\0\0\0\0WEBPVP8 ", 16, "image/webp", "image", FALSE},
        {"\0\0\0\x18"
         "ftypheic",
         12, "image/heic", "image", FALSE},
        {"\0\0\0\x18"
         "ftypmif1",
         12, "image/heif", "image", FALSE},
        {"\0\0\0\x18"
         "ftypisom",
         12, "video/mp4", "video", FALSE},
        {"\0\0\0\x14"
         "ftypqt  ",
         12, "video/quicktime", "video", FALSE},
        {"\0\0\0\x14"
         "ftyp3gp4",
         12, "video/3gpp", "video", FALSE},
        {"\0\0\0\x20"
         "ftypM4A ",
         12, "audio/mp4", "audio", FALSE},
        {"RIFF\0\0\0\0AVI LIST", 16, "video/x-msvideo", "video", FALSE},
        {"\x1a\x45\xdf\xa3\x9f\x42\x82\x84webm", 12, "video/webm", "video", FALSE},
        {"\x1a\x45\xdf\xa3\x9f\x42\x82\x88matroska", 16, "video/x-matroska", "video", FALSE},
        {"ID3\x04", 4, "audio/mpeg", "audio", FALSE},
        {"\xff\xfb\x90\x64", 4, "audio/mpeg", "audio", FALSE},
        {"#!AMR\n", 6, "audio/amr", "audio", FALSE},
        {"RIFF\0\0\0\0WAVEfmt ", 16, "audio/wav", "audio", FALSE},
        {"OggS\0\x02", 6, "audio/ogg", "audio", FALSE},
        {"%PDF-1.7", 8, "application/pdf", "document", FALSE},
        {"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8, "application/x-ole-storage", "document", FALSE},
        {"{\\rtf1\\ansi", 11, "application/rtf", "document", FALSE},
        {"MZ\x90\0", 4, "application/octet-stream", "other", TRUE},
        {"\x7f"
         "ELF\x02\x01",
         6, "application/octet-stream", "other", TRUE},
        {"\xcf\xfa\xed\xfe\x07", 5, "application/octet-stream", "other", TRUE},
        {"#!/bin/sh\n", 10, "text/x-script", "other", TRUE},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        SniffResult r;
        sniff_content((const guchar *)cases[i].head, cases[i].len, &r);
        g_assert_cmpstr(r.content_type, ==, cases[i].type);
        g_assert_cmpstr(r.kind, ==, cases[i].kind);
        g_assert_cmpint(r.executable, ==, cases[i].executable);
    }
    /* zip containers by their first entries */
    guchar zip[200] = "PK\x03\x04";
    memcpy(zip + 30, "[Content_Types].xml....word/document.xml", 41);
    SniffResult r;
    sniff_content(zip, sizeof zip, &r);
    g_assert_cmpstr(r.kind, ==, "document");
    g_assert_true(g_str_has_suffix(r.content_type, "wordprocessingml.document"));
    memcpy(zip + 30, "mimetypeapplication/vnd.oasis.opendocument.text", 47);
    sniff_content(zip, sizeof zip, &r);
    g_assert_cmpstr(r.content_type, ==, "application/vnd.oasis.opendocument.text");
    memcpy(zip + 30, "META-INF/MANIFEST.MF\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
           47);
    sniff_content(zip, sizeof zip, &r);
    g_assert_true(r.executable);
    /* plain text: a document, its declared type says which */
    sniff_content((const guchar *)"Biên bản họp", strlen("Biên bản họp"), &r);
    g_assert_null(r.content_type);
    g_assert_cmpstr(r.kind, ==, "document");
}

static void test_dangerous_names(void)
{
    static const char *const yes[] = {"a.exe", "ANH.JPG.EXE", "x.scr", "y.js",  "z.vbs",
                                      "s.sh",  "p.ps1",       "q.jar", "m.msi", "app.apk",
                                      "l.lnk", "h.hta",       "d.dll", "c.cmd", "b.bat",
                                      "w.wsf", "e.jse",       "v.vbe", "c.com", "p.pif"};
    static const char *const no[] = {"a.jpg",    "anh.exe.jpg", "exe", "b.pdf",
                                     "tep.docx", "x.",          "js"};
    for (gsize i = 0; i < G_N_ELEMENTS(yes); i++)
        g_assert_true(filename_is_dangerous(yes[i]));
    for (gsize i = 0; i < G_N_ELEMENTS(no); i++)
        g_assert_false(filename_is_dangerous(no[i]));
    g_assert_true(content_type_is_dangerous("application/x-msdownload"));
    g_assert_false(content_type_is_dangerous("image/jpeg"));
}

static void test_safe_filenames(void)
{
    ParseContext *ctx = context_new();
    static const struct {
        const char *raw, *type, *expected;
    } cases[] = {
        {"../../etc/passwd", NULL, "passwd"},
        {"C:\\Users\\An\\Desktop\\ảnh.jpg", "image/jpeg", "ảnh.jpg"},
        {".htaccess", NULL, "htaccess"},
        {"...", "application/pdf", "tep-dinh-kem-1.pdf"},
        {"", "image/heic", "tep-dinh-kem-1.heic"},
        {NULL, "application/x-unknown", "tep-dinh-kem-1.bin"},
        {"virus.exe. . .", NULL, "virus.exe"},
        {"bi\xc3\xaan\tb\xe1\xba\xa3n\x01.pdf", NULL, "biên bản.pdf"},
        {"a:b*c?d\"e<f>g|h.txt", NULL, "a_b_c_d_e_f_g_h.txt"},
        {"\xff\xfe bad utf8.txt", NULL, "\xef\xbf\xbd\xef\xbf\xbd bad utf8.txt"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_hash_table_remove_all(ctx->used_names);
        g_autofree char *name = attachment_safe_filename(ctx, cases[i].raw, cases[i].type);
        g_assert_cmpstr(name, ==, cases[i].expected);
    }
    /* 150 bytes at most, cut on a character, the extension kept */
    GString *lng = g_string_new(NULL);
    for (int i = 0; i < 100; i++)
        g_string_append(lng, "ảnh ");
    g_string_append(lng, "cuối.jpeg");
    g_hash_table_remove_all(ctx->used_names);
    g_autofree char *a = attachment_safe_filename(ctx, lng->str, "image/jpeg");
    g_assert_cmpuint(strlen(a), <=, 150);
    g_assert_true(g_utf8_validate(a, -1, NULL));
    g_assert_true(g_str_has_suffix(a, ".jpeg"));
    g_assert_true(g_str_has_prefix(a, "ảnh ảnh"));
    /* a duplicate of a long name still fits */
    g_autofree char *b = attachment_safe_filename(ctx, lng->str, "image/jpeg");
    g_assert_cmpuint(strlen(b), <=, 150);
    g_assert_true(g_str_has_suffix(b, " (2).jpeg"));
    g_string_free(lng, TRUE);
    context_free(ctx);
}

/* ---- DSN ----------------------------------------------------------------------------------- */

static void test_dsn_fields(void)
{
    char *status, *recipient, *diagnostic;
    dsn_parse_fields("Reporting-MTA: dns; mx.example.vn\n\n"
                     "Final-Recipient: rfc822; ok@example.vn\nAction: delivered\nStatus: 2.0.0\n\n"
                     "Final-Recipient: rfc822; <Bad@Example.VN>\nAction: failed\n"
                     "Status: 5.2.2 (mailbox full)\n"
                     "Diagnostic-Code: smtp; 552 5.2.2 Mailbox\n   full\n",
                     &status, &recipient, &diagnostic);
    g_assert_cmpstr(status, ==, "5.2.2");
    g_assert_cmpstr(recipient, ==, "Bad@example.vn");
    g_assert_cmpstr(diagnostic, ==, "552 5.2.2 Mailbox full");
    g_free(status);
    g_free(recipient);
    g_free(diagnostic);
    /* delayed only: the first recipient; a status that is no status is dropped */
    dsn_parse_fields("Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822;x@y.vn\n"
                     "Action: delayed\nStatus: soon\n",
                     &status, &recipient, &diagnostic);
    g_assert_null(status);
    g_assert_cmpstr(recipient, ==, "x@y.vn");
    g_assert_null(diagnostic);
    g_free(recipient);
    dsn_parse_fields("no fields at all", &status, &recipient, &diagnostic);
    g_assert_null(status);
    g_assert_null(recipient);
    g_assert_null(diagnostic);
}

/* ---- the fields' labels (fields.c) --------------------------------------------------------- */

/* "start-end:label" of every label fields_label_next() finds, one after the other */
static char *labels_found(const char *folded, gsize len)
{
    GString *out = g_string_new(NULL);
    gsize start = 0, end = 0;
    for (const char *label = fields_label_next(folded, len, 0, &start, &end); label;
         label = fields_label_next(folded, len, end, &start, &end))
        g_string_append_printf(out, "%zu-%zu:%s|", start, end, label);
    return g_string_free(out, FALSE);
}

static char *labels_in(const char *folded)
{
    return labels_found(folded, strlen(folded));
}

static void assert_labels(const char *folded, const char *expected)
{
    g_autofree char *found = labels_in(folded);
    g_assert_cmpstr(found, ==, expected);
}

static void test_labels_found_at_word_starts(void)
{
    /* written with diacritics and without: both fold to the same label */
    g_autofree char *with = text_fold("Số điện thoại: 0912 345 678");
    g_autofree char *without = text_fold("SO DIEN THOAI: 0912 345 678");
    assert_labels(with, "0-13:so dien thoai|");
    assert_labels(without, "0-13:so dien thoai|");
    g_autofree char *name = text_fold("Họ và tên:\tNguyễn Văn An; Địa chỉ: 12 Lê Lợi");
    assert_labels(name, "0-9:ho va ten|26-33:dia chi|");
    /* a label's words apart by any run of spaces and tabs */
    assert_labels("ho \t  ten: a", "0-9:ho ten|");
    /* only at a word start: not inside a word, an address, a number or a path */
    assert_labels("bsdt x@sdt 3sdt a.sdt a/sdt a&sdt a-sdt a_sdt", "");
    assert_labels("(sdt) ,sdt \"sdt", "1-4:sdt|7-10:sdt|12-15:sdt|");
    /* nor followed by a letter or digit ("tenant", "sdt2"); "_" is no letter */
    assert_labels("tenant sdt2 ten_", "12-15:ten|");
    /* letters of other scripts are letters: before and after */
    assert_labels("中sdt sdt中 ßten —sdt", "23-26:sdt|");
    /* overlapping labels: the longest that ends a word wins, then the scan goes on after it */
    assert_labels("dia chi email: a", "0-13:dia chi email|");
    assert_labels("dia chi emailx", "0-7:dia chi|");
    assert_labels("ho ten nguoi phan anh: a", "0-21:ho ten nguoi phan anh|");
    assert_labels("dia chi xay ra su viec dia diem", "0-22:dia chi xay ra su viec|23-31:dia diem|");
    /* at the buffer's ends: a label cut by the length is no label, one ending there is */
    assert_labels("sdt", "0-3:sdt|");
    g_autofree char *cut = labels_found("so dien thoai", 10);
    g_assert_cmpstr(cut, ==, "");
    g_autofree char *ends = labels_found("sdtx", 3);
    g_assert_cmpstr(ends, ==, "0-3:sdt|");
    assert_labels("", "");
}

static gsize labels_counted(const char *folded, gsize len)
{
    gsize start = 0, end = 0, count = 0;
    for (const char *l = fields_label_next(folded, len, 0, &start, &end); l;
         l = fields_label_next(folded, len, end, &start, &end))
        count++;
    return count;
}

static void test_labels_hostile_text(void)
{
    /* a megabyte of label beginnings that never finish, and of words run into one */
    GString *text = g_string_new(NULL);
    while (text->len < 1024 * 1024)
        g_string_append(text, "so dien thoa ho va te dia ch thoi gia ngay xay r sdtsdt ");
    g_assert_cmpuint(labels_counted(text->str, text->len), ==, 0);
    g_string_truncate(text, 0);
    for (int i = 0; i < 100000; i++)
        g_string_append(text, "sdt ");
    g_assert_cmpuint(labels_counted(text->str, text->len), ==, 100000);
    /* invalid UTF-8 around a label (the folded text never has it): no read out of bounds */
    assert_labels("\xff\xfe"
                  "sdt \xe1\xba",
                  "2-5:sdt|");
    assert_labels("\x80sdt", "1-4:sdt|");
    g_string_free(text, TRUE);
}

/* the alternation of the labels that fields.c ran before the scan (PCRE2), to check that the
 * scan finds exactly what it found */
static GRegex *labels_as_a_regex(void)
{
    g_autoptr(GPtrArray) sorted = g_ptr_array_new();
    for (guint i = 0; fields_label_text(i); i++)
        g_ptr_array_add(sorted, (gpointer)fields_label_text(i));
    for (guint i = 1; i < sorted->len; i++) /* stable: longest first */
        for (guint k = i; k > 0 && strlen(sorted->pdata[k - 1]) < strlen(sorted->pdata[k]); k--) {
            gpointer t = sorted->pdata[k];
            sorted->pdata[k] = sorted->pdata[k - 1];
            sorted->pdata[k - 1] = t;
        }
    g_autoptr(GString) pattern = g_string_new("(?<![\\p{L}\\p{N}_@./&-])(");
    for (guint i = 0; i < sorted->len; i++) {
        if (i > 0)
            g_string_append_c(pattern, '|');
        g_auto(GStrv) words = g_strsplit(sorted->pdata[i], " ", -1);
        for (char **w = words; *w; w++) {
            if (w != words)
                g_string_append(pattern, "[ \\t]+");
            g_autofree char *escaped = g_regex_escape_string(*w, -1);
            g_string_append(pattern, escaped);
        }
    }
    g_string_append(pattern, ")(?![\\p{L}\\p{N}])");
    GRegex *re = g_regex_new(pattern->str, 0, 0, NULL);
    g_assert_nonnull(re);
    return re;
}

static char *labels_by_regex(GRegex *re, const char *text)
{
    GString *out = g_string_new(NULL);
    g_autoptr(GMatchInfo) m = NULL;
    for (gboolean found = g_regex_match(re, text, 0, &m); found;
         found = g_match_info_next(m, NULL)) {
        gint start = 0, end = 0;
        g_match_info_fetch_pos(m, 1, &start, &end);
        g_autofree char *matched = g_match_info_fetch(m, 1);
        g_autofree char *label = text_clean_line(matched);
        g_string_append_printf(out, "%d-%d:%s|", start, end, label);
    }
    return g_string_free(out, FALSE);
}

static void test_labels_as_the_regex_found_them(void)
{
    g_autoptr(GRegex) re = labels_as_a_regex();
    /* random text out of the labels' words and what may stand around them */
    static const char *const pieces[] = {
        "ho",   "ten",  "va",    "dia",  "chi",  "email",   "e-mail", "so",   "dien", "thoai",
        "sdt",  "dt",   "cccd",  "cmnd", "/",    "d/c",     "dc",     "&",    ",",    "nguoi",
        "phan", "anh",  "xay",   "ra",   "su",   "viec",    "vu",     "thoi", "gian", "luc",
        "vao",  "mail", "gmail", "tel",  "time", "name",    " ",      " ",    " ",    "  ",
        "\t",   "\n",   ":",     "-",    ".",    "_",       "@",      "(",    "1",    "x",
        "é",    "中",   "—",     "•",    "😀",    "\xcc\x81"};
    g_autoptr(GRand) rand = g_rand_new_with_seed(18);
    for (int round = 0; round < 20000; round++) {
        g_autoptr(GString) text = g_string_new(NULL);
        int n = g_rand_int_range(rand, 1, 40);
        for (int k = 0; k < n; k++)
            g_string_append(text, pieces[g_rand_int_range(rand, 0, G_N_ELEMENTS(pieces))]);
        g_autofree char *expected = labels_by_regex(re, text->str);
        g_autofree char *found = labels_in(text->str);
        if (g_strcmp0(expected, found) != 0)
            g_test_message("text: \"%s\"", text->str);
        g_assert_cmpstr(found, ==, expected);
    }
}

/* the iconv descriptors are kept from one text to the next: each text reads as if alone */
static void test_charset_each_text_alone(void)
{
    ParseContext *ctx = context_new();
    for (int round = 0; round < 3; round++) {
        /* windows-1258 holds a base letter back, waiting for a tone mark */
        g_autofree char *held = charset_to_utf8(ctx, "Vi\xea", 3, "windows-1258");
        g_assert_cmpstr(held, ==, "Vi\xc3\xaa");
        /* a tone mark first belongs to no letter of the text before */
        g_autofree char *mark = charset_to_utf8(ctx, "\xf2t", 2, "windows-1258");
        g_assert_cmpstr(mark, ==, "\xcc\xa3t");
        g_autofree char *latin = charset_to_utf8(ctx, "caf\xe9", 4, "iso-8859-1");
        g_assert_cmpstr(latin, ==, "caf\xc3\xa9");
        /* an alias only GMime knows, then a name nobody knows */
        g_autofree char *korean = charset_to_utf8(ctx, "abc", 3, "ks_c_5601-1987");
        g_assert_cmpstr(korean, ==, "abc");
    }
    context_free(ctx);
}

/* ---- the delimiter prescan (parse.c) ------------------------------------------------------- */

/* the lines that begin with "--", counted line by line */
static gint64 delimiters_by_lines(const GString *text)
{
    gint64 count = 0;
    for (gsize i = 0; i + 1 < text->len; i++)
        if ((i == 0 || text->str[i - 1] == '\n') && text->str[i] == '-' && text->str[i + 1] == '-')
            count++;
    return count;
}

static gint64 delimiters_prescanned(const GString *text, gint64 limit)
{
    g_autofree char *path = NULL;
    int fd = g_file_open_tmp("prescan-XXXXXX", &path, NULL);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, text->str, text->len), ==, (gssize)text->len);
    gint64 count = -1;
    g_autoptr(GError) error = NULL;
    g_assert_true(parse_prescan_delimiters(fd, limit, &count, &error));
    close(fd);
    g_unlink(path);
    /* held in memory, the whole text is counted: the same unless the file's count stopped
     * early past the limit */
    gint64 in_memory = parse_prescan_delimiters_of(text->str, text->len);
    if (count <= limit)
        g_assert_cmpint(in_memory, ==, count);
    else
        g_assert_cmpint(in_memory, >=, count);
    return count;
}

static void test_prescan_counts_delimiter_lines(void)
{
    /* at the start, after a newline, never inside a line, never a lone dash */
    g_autoptr(GString) text = g_string_new("--a\nx--b\n-c\n--\n---\n\n--");
    g_assert_cmpint(delimiters_prescanned(text, 1000), ==, 4);
    g_assert_cmpint(delimiters_by_lines(text), ==, 4);
    /* "\n--" straddling the prescan's 64 KiB reads, each way it can be cut */
    for (gsize at = 65530; at < 65540; at++) {
        g_string_truncate(text, 0);
        while (text->len < at)
            g_string_append_c(text, 'A'); /* base64 has no dashes */
        g_string_append(text, "\n--x\n-y\n--");
        while (text->len < 140000)
            g_string_append(text, "QUJD-REVG\n");
        g_assert_cmpint(delimiters_prescanned(text, 1000000), ==, delimiters_by_lines(text));
    }
    /* random text of dashes, newlines and letters across several reads */
    g_autoptr(GRand) rand = g_rand_new_with_seed(18);
    for (int round = 0; round < 20; round++) {
        g_string_truncate(text, 0);
        gsize len = (gsize)g_rand_int_range(rand, 1, 300000);
        while (text->len < len) {
            static const char pieces[] = "--\n-xA";
            g_string_append_c(text, pieces[g_rand_int_range(rand, 0, 6)]);
        }
        g_assert_cmpint(delimiters_prescanned(text, G_MAXINT64), ==, delimiters_by_lines(text));
    }
    /* it stops reading soon after the limit: a bound, not the count */
    g_string_truncate(text, 0);
    for (int i = 0; i < 200000; i++)
        g_string_append(text, "--\n");
    gint64 stopped = delimiters_prescanned(text, 100);
    g_assert_cmpint(stopped, >, 100);
    g_assert_cmpint(stopped, <, 200000);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    parse_init();
    g_test_add_func("/parse/internals/rfc2047-merge", test_rfc2047_merge);
    g_test_add_func("/parse/internals/header-one-line", test_header_decode_one_line);
    g_test_add_func("/parse/internals/text-one-line", test_text_one_line);
    g_test_add_func("/parse/internals/subject-prefixes", test_subject_prefixes);
    g_test_add_func("/parse/internals/charsets", test_charset_conversions);
    g_test_add_func("/parse/internals/charsets-real-world-labels", test_charset_real_world_labels);
    g_test_add_func("/parse/internals/normalise", test_text_normalise);
    g_test_add_func("/parse/internals/normalise-kept-letters", test_normalise_kept_letters);
    g_test_add_func("/parse/internals/nfc-large", test_normalise_large_decomposed_text);
    g_test_add_func("/parse/internals/unflow", test_unflow);
    g_test_add_func("/parse/internals/html-layout", test_html_layout);
    g_test_add_func("/parse/internals/html-no-entities", test_html_never_loads_entities_or_files);
    g_test_add_func("/parse/internals/html-quote-markers", test_html_quote_markers);
    g_test_add_func("/parse/internals/html-deep-nesting", test_html_deep_nesting);
    g_test_add_func("/parse/internals/quote-split", test_quote_split_cases);
    g_test_add_func("/parse/internals/quote-split-refuses", test_quote_split_refuses);
    g_test_add_func("/parse/internals/quote-forward-of-ours", test_quote_forward_of_ours);
    g_test_add_func("/parse/internals/sniff", test_sniff);
    g_test_add_func("/parse/internals/dangerous-names", test_dangerous_names);
    g_test_add_func("/parse/internals/safe-filenames", test_safe_filenames);
    g_test_add_func("/parse/internals/dsn-fields", test_dsn_fields);
    g_test_add_func("/parse/internals/charsets-each-text-alone", test_charset_each_text_alone);
    g_test_add_func("/parse/internals/prescan-delimiter-lines",
                    test_prescan_counts_delimiter_lines);
    g_test_add_func("/parse/internals/labels-at-word-starts", test_labels_found_at_word_starts);
    g_test_add_func("/parse/internals/labels-hostile-text", test_labels_hostile_text);
    g_test_add_func("/parse/internals/labels-as-the-regex-found-them",
                    test_labels_as_the_regex_found_them);
    return g_test_run();
}
