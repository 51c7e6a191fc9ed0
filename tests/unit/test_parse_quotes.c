/* parse: a reply that quotes our own letter (issue 11 item 6, SPEC §3.3).
 *
 * The fixtures tests/mail/reply-quotes-*.eml are what real clients sent in answer to the
 * letters in tests/mail/reply-quotes-letters/ (the "please complete" letter and the
 * acknowledgement, as pahtd stored them in its outbox): mutt and s-nail replies captured
 * as sent, and Gmail, Outlook on the web, Thunderbird and iPhone replies in those clients'
 * shapes. The gateway's ParseOptions.our_letters is played here by a callback that returns
 * those letters, as the outbox would. Each reply asserts what must never come out of our
 * own words (an emergency, a confidential report, a time of the incident, an address from
 * the hints) and what the citizen did write. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "parse/parse.h"
#include "util/util.h"

static char *fixture_path(const char *name)
{
    const char *dir = g_getenv("PAHT_TEST_MAIL_DIR");
    if (dir && *dir)
        return g_build_filename(dir, name, NULL);
    g_autofree char *here = g_path_get_dirname(__FILE__);
    return g_build_filename(here, "..", "mail", name, NULL);
}

static GBytes *fixture_bytes(const char *name)
{
    g_autofree char *path = fixture_path(name);
    char *data = NULL;
    gsize len = 0;
    GError *error = NULL;
    g_assert_true(g_file_get_contents(path, &data, &len, &error));
    g_assert_no_error(error);
    return g_bytes_new_take(data, len);
}

/* the letters the store would give: NULL-terminated fixture names, or "" for none */
typedef struct {
    const char *const *letters;
    guint calls;
    const Draft *seen; /* the headers parse asked with */
} Outbox;

static gboolean outbox_letters(const Draft *headers, GPtrArray **letters_out, gpointer data,
                               GError **error)
{
    Outbox *o = data;
    o->calls++;
    g_assert_nonnull(headers->from_address); /* the headers are read first */
    *letters_out = NULL;
    if (!o->letters)
        return TRUE;
    *letters_out = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    for (const char *const *l = o->letters; *l; l++)
        g_ptr_array_add(*letters_out, fixture_bytes(*l));
    return TRUE;
}

static const char *const both_letters[] = {"reply-quotes-letters/incomplete.eml",
                                           "reply-quotes-letters/ack.eml", NULL};

typedef struct {
    char *dir;
    Draft *draft;
    Outbox outbox;
} Parsed;

static Parsed parse_path(const char *path, const char *const *letters)
{
    GError *error = NULL;
    Parsed p = {g_dir_make_tmp("paht-quotes-XXXXXX", &error), NULL, {letters, 0, NULL}};
    g_assert_no_error(error);
    ParseOptions opts = {
        .attachments_dir = p.dir,
        .our_address = "paht@soctrang.gov.vn",
        .code_prefix = "PAHT",
        .our_letters = outbox_letters,
        .our_letters_data = &p.outbox,
    };
    p.draft = parse_message_file(path, &opts, &error);
    g_assert_no_error(error);
    g_assert_nonnull(p.draft);
    return p;
}

static Parsed parse_reply(const char *name, const char *const *letters)
{
    g_autofree char *path = fixture_path(name);
    return parse_path(path, letters);
}

/* a message written for one test (CRLF line ends, like mail on disk) */
static Parsed parse_written(const char *message, const char *const *letters)
{
    g_auto(GStrv) lines = g_strsplit(message, "\n", -1);
    g_autofree char *crlf = g_strjoinv("\r\n", lines);
    g_autofree char *path = NULL;
    GError *error = NULL;
    int fd = g_file_open_tmp("paht-quotes-msg-XXXXXX.eml", &path, &error);
    g_assert_no_error(error);
    g_assert_true(write(fd, crlf, strlen(crlf)) == (ssize_t)strlen(crlf));
    close(fd);
    Parsed p = parse_path(path, letters);
    g_unlink(path);
    return p;
}

static void parsed_clear(Parsed *p)
{
    draft_free(p->draft);
    fs_remove_tree(p->dir);
    g_free(p->dir);
}

/* nothing of our letter was read: the false emergency, secrecy, time and address of the
 * issue cannot come out of it */
static void assert_nothing_of_ours(const Draft *d)
{
    g_assert_cmpstr(d->classification, ==, "report");
    g_assert_cmpstr(d->rule, ==, "default");
    g_assert_false(d->confidential);
    g_assert_null(d->occurred_at);
    g_assert_null(strstr(d->text, "hỏa hoạn"));
    g_assert_null(strstr(d->text, "không công khai"));
    g_assert_null(strstr(d->text, "số nhà"));
    g_assert_null(strstr(d->text, "PAHT-2026"));
    g_assert_nonnull(d->quoted_text); /* kept, never read */
}

static void assert_block_answers(const Draft *d, const char *location)
{
    assert_nothing_of_ours(d);
    g_assert_cmpstr(d->citizen.address, ==, "27/5 Trần Hưng Đạo, khóm 2, phường 2, TP Sóc Trăng");
    g_assert_cmpstr(d->citizen.id_number, ==, "094088002468");
    g_assert_cmpstr(d->citizen.phone, ==, "0939135791");
    g_assert_cmpstr(d->location.text, ==, location);
}

/* each reply quotes our letter and adds nothing to read: none of it is */
static void assert_replies_read_nothing(const char *const *replies, const char *const *letters)
{
    for (const char *const *r = replies; *r; r++) {
        g_test_message("%s", *r);
        Parsed p = parse_reply(*r, letters);
        assert_nothing_of_ours(p.draft);
        g_assert_null(p.draft->citizen.address);
        g_assert_null(p.draft->location.text);
        if (letters)
            g_assert_cmpstr(p.draft->text, ==, "");
        parsed_clear(&p);
    }
}

static void test_reply_quoting_only_our_letter_reads_nothing(void)
{
    static const char *const replies[] = {
        "reply-quotes-mutt-photo-only.eml",      "reply-quotes-gmail-photo-only.eml",
        "reply-quotes-iphone-photo-only.eml",    "reply-quotes-mutt-ack-photo-only.eml",
        "reply-quotes-snail-ack-photo-only.eml", NULL,
    };
    assert_replies_read_nothing(replies, both_letters);
    /* the photo is what they sent; the store was asked once */
    Parsed p = parse_reply(replies[0], both_letters);
    g_assert_cmpuint(p.draft->attachments->len, ==, 1);
    g_assert_cmpuint(p.outbox.calls, ==, 1);
    parsed_clear(&p);
}

static void test_block_filled_in_the_quote_is_the_citizens(void)
{
    static const struct {
        const char *reply, *location;
    } cases[] = {
        /* mutt: values typed after the colons of the quoted block */
        {"reply-quotes-mutt-filled-in-quote.eml",
         "đầu hẻm 5 đường Trần Hưng Đạo, cạnh tiệm tạp hóa Thanh Bình"},
        /* mutt: the quoted empty lines replaced by unquoted filled ones */
        {"reply-quotes-mutt-filled-between-quote.eml",
         "đầu hẻm 5 đường Trần Hưng Đạo, cạnh tiệm tạp hóa Thanh Bình"},
        /* Gmail: filled inside the quote, its plain text wrapped at 78 */
        {"reply-quotes-gmail-filled-in-quote.eml",
         "đầu hẻm 5 đường Trần Hưng Đạo, cạnh tiệm tạp hóa Thanh Bình"},
        /* Outlook on the web (HTML only): the block copied above the quote */
        {"reply-quotes-outlook-web-filled-above.eml",
         "đầu hẻm 5 đường Trần Hưng Đạo, cạnh tiệm tạp hóa Thanh Bình"},
        /* Thunderbird (HTML only) and s-nail (tab-indented quote): written below it */
        {"reply-quotes-thunderbird-below-quote.eml", "đầu hẻm 5 đường Trần Hưng Đạo"},
        {"reply-quotes-snail-filled-below-quote.eml", "đầu hẻm 5 đường Trần Hưng Đạo"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_test_message("%s", cases[i].reply);
        Parsed p = parse_reply(cases[i].reply, both_letters);
        assert_block_answers(p.draft, cases[i].location);
        parsed_clear(&p);
    }
}

static void test_emergency_written_above_our_quote_is_an_emergency(void)
{
    Parsed p = parse_reply("reply-quotes-mutt-emergency-above.eml", both_letters);
    g_assert_cmpstr(p.draft->classification, ==, "emergency");
    g_assert_cmpstr(p.draft->rule, ==, "keyword emergency \"đang cháy\" (text)");
    g_assert_false(p.draft->confidential);
    g_assert_null(p.draft->occurred_at);
    g_assert_cmpstr(p.draft->text, ==,
                    "Nhà kho cạnh hẻm 5 đang cháy, lửa bốc cao, có người mắc kẹt bên trong!\n"
                    "Xin gửi người đến ngay.");
    parsed_clear(&p);
}

/* the store no longer has the letter (or never had it: another installation's), but the
 * quote is ours by our Message-ID, our address in its attribution or a tracking code: none
 * of it is read, not even the lines we cannot tell from ours */
static void test_our_quote_without_the_letter_is_not_read(void)
{
    static const char *const replies[] = {
        "reply-quotes-mutt-photo-only.eml",      "reply-quotes-mutt-filled-in-quote.eml",
        "reply-quotes-gmail-photo-only.eml",     "reply-quotes-iphone-photo-only.eml",
        "reply-quotes-snail-ack-photo-only.eml", NULL,
    };
    assert_replies_read_nothing(replies, NULL);
    /* the answer below Thunderbird's quote is outside it: still read */
    Parsed p = parse_reply("reply-quotes-thunderbird-below-quote.eml", NULL);
    g_assert_cmpstr(p.draft->citizen.phone, ==, "0939135791");
    parsed_clear(&p);
}

/* our letter forwarded back to us (Gmail's inline forward) with a photo: only the note */
static void test_our_letter_forwarded_back_is_not_read(void)
{
    const char *const *with[] = {both_letters, NULL};
    for (gsize i = 0; i < G_N_ELEMENTS(with); i++) {
        Parsed p = parse_reply("reply-quotes-gmail-forward-of-ours.eml", with[i]);
        assert_nothing_of_ours(p.draft);
        g_assert_cmpstr(p.draft->text, ==, "Gửi lại anh chị ảnh hiện trường.");
        g_assert_null(p.draft->citizen.address);
        g_assert_cmpuint(p.draft->attachments->len, ==, 1);
        parsed_clear(&p);
    }
}

static const char *const neighbour_quote =
    "From: Trần Văn Tư <tranvantu.st@gmail.com>\n"
    "To: paht@soctrang.gov.vn\n"
    "Subject: Re: Nhà kho hẻm 5\n"
    "Date: Sat, 28 Nov 2026 10:00:00 +0700\n"
    "Message-ID: <neighbour-reply@gmail.com>\n"
    "In-Reply-To: <CAneighbour@mail.gmail.com>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "Vào 28/11/2026 lúc 09:55, Lâm Thị Hoa <lamthihoa@gmail.com> đã viết:\n"
    "> Anh Tư ơi, nhà kho cạnh hẻm 5 đang cháy, anh báo giúp em với.\n"
    "> Số điện thoại của em: 0907 112 233\n";

/* someone else's mail quoted, nothing written around it: the mail is what it quotes */
static void test_quote_of_someone_elses_mail_is_read_as_before(void)
{
    Parsed p = parse_written(neighbour_quote, both_letters);
    g_assert_cmpstr(p.draft->classification, ==, "emergency");
    g_assert_cmpstr(p.draft->citizen.phone, ==, "0907112233");
    g_assert_nonnull(strstr(p.draft->text, "đang cháy"));
    parsed_clear(&p);
}

/* a rating (Điều 10.3) answering our result letter, with the given Subject header */
static char *rating_reply(const char *subject)
{
    return g_strdup_printf("From: Trần Văn Tư <tranvantu.st@gmail.com>\n"
                           "To: paht+5e1f@soctrang.gov.vn\n"
                           "Subject: %s\n"
                           "Date: Sat, 28 Nov 2026 10:00:00 +0700\n"
                           "Message-ID: <rating@gmail.com>\n"
                           "In-Reply-To: <paht.0123456789abcdef0123456789abcdef@soctrang.gov.vn>\n"
                           "MIME-Version: 1.0\n"
                           "Content-Type: text/plain; charset=utf-8\n"
                           "Content-Transfer-Encoding: 8bit\n"
                           "\n"
                           "1\n",
                           subject);
}

/* the subject of our letter (with the citizen's first subject in it) is ours too */
static void test_our_subject_in_a_reply_is_not_classified(void)
{
    /* without the letter: "Re: [PAHT-...] ..." answering our Message-ID is our subject */
    g_autofree char *ours =
        rating_reply("=?utf-8?b?UmU6IFtQQUhULTIwMjYtMDAwMDAzXSBL4bq/"
                     "dCBxdeG6oyB44butIGzDvSBwaOG6o24gw6FuaDogQ8OieSDEkeG7lSDEkcOoIG5nxrDhu51pLCBjw"
                     "7MgbmfGsOG7nWkgYuG7iyB0aMawxqFuZw==?=");
    Parsed p = parse_written(ours, NULL);
    g_assert_cmpstr(p.draft->subject, ==,
                    "Re: [PAHT-2026-000003] Kết quả xử lý phản ánh: Cây đổ đè người, có người "
                    "bị thương");
    g_assert_cmpstr(p.draft->classification, ==, "report");
    g_assert_cmpstr(p.draft->text, ==, "1");
    parsed_clear(&p);
    /* a subject the citizen wrote is theirs */
    g_autofree char *theirs = rating_reply(
        "=?utf-8?b?Q8OieSDEkeG7lSwgY8OzIG5nxrDhu51pIGLhu4sgdGjGsMahbmcg4bufIGjhurttIDk=?=");
    p = parse_written(theirs, NULL);
    g_assert_cmpstr(p.draft->classification, ==, "emergency");
    g_assert_cmpstr(p.draft->rule, ==, "keyword emergency \"có người bị thương\" (subject)");
    parsed_clear(&p);
}

/* A hostile (or just huge) quote: only its first part is compared with our letters, the
 * rest of a quote of ours is dropped unread, and parsing still ends. */
static void test_huge_quote_of_ours_is_compared_in_a_bounded_prefix(void)
{
    static const char *const safety =
        "> - Thư điện tử không phải kênh tiếp nhận phản ánh khẩn cấp. Khi có việc khẩn cấp như "
        "thiên tai, hỏa hoạn, tai nạn, trộm cắp, cướp giật, mất an ninh trật tự, xin gọi ngay "
        "Tổng đài 1022, hoạt động 24/24 giờ, 7 ngày/tuần (khoản 2 Điều 6 Quy chế).\n";
    GString *m = g_string_new("From: Trần Văn Tư <tranvantu.st@gmail.com>\n"
                              "To: paht@soctrang.gov.vn\n"
                              "Subject: Re: [PAHT-2026-000001] bổ sung\n"
                              "Date: Sat, 28 Nov 2026 10:00:00 +0700\n"
                              "Message-ID: <huge@gmail.com>\n"
                              "MIME-Version: 1.0\n"
                              "Content-Type: text/plain; charset=utf-8\n"
                              "Content-Transfer-Encoding: 8bit\n"
                              "\n"
                              "On Sat, Nov 28, 2026, Trung tâm IOC <paht@soctrang.gov.vn> wrote:\n"
                              "> Số điện thoại: 0939 135 791\n");
    for (int i = 0; i < 20000; i++) /* 5 MB of our safety paragraph */
        g_string_append(m, safety);
    g_string_append(m, "> Nhà kho đang cháy!\n"); /* far past what is compared */
    Parsed p = parse_written(m->str, both_letters);
    g_string_free(m, TRUE);
    assert_nothing_of_ours(p.draft);
    g_assert_cmpstr(p.draft->citizen.phone, ==, "0939135791");
    g_assert_cmpstr(p.draft->text, ==, "Số điện thoại: 0939 135 791");
    parsed_clear(&p);
}

/* the callback is asked once, and only for mail that answers or quotes something */
static void test_letters_asked_only_for_replies(void)
{
    g_autofree char *path = fixture_path("reply-quotes-report.eml");
    Parsed p = parse_path(path, both_letters);
    g_assert_cmpuint(p.outbox.calls, ==, 0);
    g_assert_cmpstr(p.draft->citizen.name, ==, "Trần Văn Tư");
    parsed_clear(&p);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_setenv("PAHT_NOW", "2026-11-28T10:30:00+07:00", TRUE);
    parse_init();
    g_test_add_func("/parse/quotes/reply-quoting-only-our-letter-reads-nothing",
                    test_reply_quoting_only_our_letter_reads_nothing);
    g_test_add_func("/parse/quotes/block-filled-in-the-quote-is-the-citizens",
                    test_block_filled_in_the_quote_is_the_citizens);
    g_test_add_func("/parse/quotes/emergency-written-above-our-quote-is-an-emergency",
                    test_emergency_written_above_our_quote_is_an_emergency);
    g_test_add_func("/parse/quotes/our-quote-without-the-letter-is-not-read",
                    test_our_quote_without_the_letter_is_not_read);
    g_test_add_func("/parse/quotes/our-letter-forwarded-back-is-not-read",
                    test_our_letter_forwarded_back_is_not_read);
    g_test_add_func("/parse/quotes/quote-of-someone-elses-mail-is-read-as-before",
                    test_quote_of_someone_elses_mail_is_read_as_before);
    g_test_add_func("/parse/quotes/our-subject-in-a-reply-is-not-classified",
                    test_our_subject_in_a_reply_is_not_classified);
    g_test_add_func("/parse/quotes/huge-quote-of-ours-is-compared-in-a-bounded-prefix",
                    test_huge_quote_of_ours_is_compared_in_a_bounded_prefix);
    g_test_add_func("/parse/quotes/letters-asked-only-for-replies",
                    test_letters_asked_only_for_replies);
    return g_test_run();
}
