/* parse, step "classify": emergency, complaint, report and the request for secrecy, by the
 * province's keyword file; and the false alarms the phrase rules exist to avoid. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "parse/parse_private.h"
#include "util/util.h"

static char *keywords_file_path(void)
{
    const char *dir = g_getenv("PAHT_SOURCE_DIR");
    if (dir && *dir)
        return g_build_filename(dir, "conf", "keywords.conf", NULL);
    g_autofree char *here = g_path_get_dirname(__FILE__);
    return g_build_filename(here, "..", "..", "conf", "keywords.conf", NULL);
}

typedef struct {
    char *dir;
    Draft *draft;
} Parsed;

static char *message_file(const char *subject, const char *body, const char *extra_headers)
{
    g_autofree char *subject_word = g_base64_encode((const guchar *)subject, strlen(subject));
    g_autofree char *message = g_strdup_printf(
        "From: citizen@example.vn\nTo: paht@soctrang.gov.vn\nSubject: =?UTF-8?B?%s?=\n"
        "Date: Sat, 28 Nov 2026 09:00:00 +0700\nMIME-Version: 1.0\n%s"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n%s\n",
        subject_word, extra_headers ? extra_headers : "", body);
    g_auto(GStrv) lines = g_strsplit(message, "\n", -1);
    g_autofree char *crlf = g_strjoinv("\r\n", lines);
    char *path = NULL;
    int fd = g_file_open_tmp("paht-classify-XXXXXX.eml", &path, NULL);
    g_assert_cmpint(fd, >=, 0);
    g_assert_true(write(fd, crlf, strlen(crlf)) == (ssize_t)strlen(crlf));
    close(fd);
    return path;
}

static Draft *parse_with(const char *subject, const char *body, const char *keywords_file,
                         const char *extra_headers, GError **error)
{
    g_autofree char *path = message_file(subject, body, extra_headers);
    g_autofree char *dir = g_dir_make_tmp("paht-classify-XXXXXX", NULL);
    ParseOptions opts = {.attachments_dir = dir, .keywords_file = keywords_file};
    Draft *d = parse_message_file(path, &opts, error);
    g_unlink(path);
    fs_remove_tree(dir);
    return d;
}

static Draft *parse_mail(const char *subject, const char *body)
{
    GError *error = NULL;
    Draft *d = parse_with(subject, body, NULL, NULL, &error);
    g_assert_no_error(error);
    return d;
}

static void assert_class(const char *subject, const char *body, const char *classification,
                         const char *rule)
{
    g_autoptr(Draft) d = parse_mail(subject, body);
    if (g_strcmp0(d->classification, classification) != 0 || g_strcmp0(d->rule, rule) != 0)
        g_test_message("subject \"%s\", body \"%s\": %s / %s", subject, body, d->classification,
                       d->rule);
    g_assert_cmpstr(d->classification, ==, classification);
    g_assert_cmpstr(d->rule, ==, rule);
}

/* ---- emergencies (Điều 8.6) ------------------------------------------------------------------ */

static void test_emergencies(void)
{
    assert_class("Báo cháy", "Nhà kho đầu hẻm 5 đang cháy, khói bốc lên rất nhiều!", "emergency",
                 "keyword emergency \"đang cháy\" (text)");
    assert_class("Cháy lớn ở chợ Phường 1", "Xin cứu giúp.", "emergency",
                 "keyword emergency \"cháy lớn\" (subject)");
    /* folded: no diacritics, capitals, a phrase wrapped over two lines */
    assert_class("BAO CHAY", "NHA KHO DANG CHAY", "emergency",
                 "keyword emergency \"đang cháy\" (text)");
    assert_class("x", "Chiếc xe tải đang\nbốc cháy giữa cầu.", "emergency",
                 "keyword emergency \"đang bốc cháy\" (text)");
    assert_class("Tai nạn", "Vừa xảy ra tai nạn ở chân cầu Quay, có người bị thương.", "emergency",
                 "keyword emergency \"vừa xảy ra tai nạn\" (text)");
    assert_class("x", "Có người đuối nước ở kênh Maspero!", "emergency",
                 "keyword emergency \"đuối nước\" (text)");
    assert_class("x", "Hai nhóm thanh niên đánh nhau, có hung khí.", "emergency",
                 "keyword emergency \"đánh nhau\" (text)");
    assert_class("x", "Tôi vừa bị cướp giật túi xách ở đường Lê Lợi.", "emergency",
                 "keyword emergency \"cướp giật\" (text)");
    assert_class("x", "Vỡ đê bao ấp 3, nước tràn vào nhà.", "emergency",
                 "keyword emergency \"vỡ đê\" (text)");
}

/* a long body: the fields read its first 64 KiB, the classification its first 256 KiB, each
 * from the one fold of the text the parse makes (and a second when the lengths differ) */
static void test_long_body_read_to_each_steps_own_bound(void)
{
    GString *body = g_string_new("Họ tên: Nguyễn Văn An\n\n");
    while (body->len < 100 * 1024)
        g_string_append(body, "Đường sá ở ấp này hư hỏng đã nhiều năm, xe cộ đi lại rất khó.\n");
    g_string_append(body, "Nhà kho đầu hẻm 5 đang cháy.\n");
    g_autoptr(Draft) d = parse_mail("Phản ánh", body->str);
    g_assert_cmpstr(d->citizen.name, ==, "Nguyễn Văn An");
    g_assert_cmpstr(d->classification, ==, "emergency");
    g_assert_cmpstr(d->rule, ==, "keyword emergency \"đang cháy\" (text)");

    /* past 256 KiB, no more */
    while (body->len < 300 * 1024)
        g_string_prepend(body, "Đường sá ở ấp này hư hỏng đã nhiều năm, xe cộ đi lại rất khó.\n");
    g_autoptr(Draft) far = parse_mail("Phản ánh", body->str);
    g_assert_cmpstr(far->classification, ==, "report");
    g_string_free(body, TRUE);
}

static void test_not_emergencies(void)
{
    /* words that look like it and are not: each would be a false alarm to the IOC */
    static const char *const bodies[] = {
        "Trẻ em chơi buổi trưa bị cháy nắng vì công viên không có cây.",
        "Bóng đèn đường bị cháy từ lâu, khu vực rất tối.",
        "Dây điện chằng chịt có nguy cơ cháy nổ, đề nghị chỉnh trang.",
        "Đề nghị kiểm tra thiết bị phòng cháy chữa cháy ở chợ.",
        "Ổ gà lớn dễ gây tai nạn cho người đi xe máy.",
        "Tuần trước tôi bị cướp giật điện thoại ở chợ đêm, đề nghị lắp camera.",
        "Tình trạng cướp giật thường xuyên xảy ra ở đoạn đường này.",
        "Bờ kênh có nguy cơ sạt lở đất vào nhà dân.",
        "Đêm qua hai nhóm thanh niên đánh nhau trước quán, sáng nay vẫn còn mảnh chai.",
        "Đường Nguyễn Huệ kẹt xe nghiêm trọng giờ tan tầm.",
        "Diễn tập phòng chống cháy lớn tại chợ gây ồn.",
        "Ông Tài bị thương ở chân từ lâu nên không đi lại được, xin hỗ trợ.",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bodies); i++)
        assert_class("Phản ánh", bodies[i], "report", "default");
    /* a whole word only */
    assert_class("x", "Chúng tôi đánh nhauxx", "report", "default");
}

/* ---- complaints (Điều 1.1.c, 3.9) ------------------------------------------------------------ */

static void test_complaints(void)
{
    assert_class("Đơn khiếu nại về việc thu hồi đất", "Tôi không đồng ý với quyết định.",
                 "complaint", "keyword complaint \"đơn khiếu nại\" (subject)");
    assert_class("Khiếu nại", "Về tiền bồi thường.", "complaint",
                 "keyword complaint \"khiếu nại\" (subject)");
    assert_class("Phản ánh cán bộ", "Nay tôi làm đơn tố cáo ông Trần Văn X đã nhận tiền.",
                 "complaint", "keyword complaint \"đơn tố cáo\" (text)");
    /* "khiếu nại" as a plain word in the text is not enough; a denial is not one */
    assert_class("Rác thải", "Tôi đã khiếu nại nhiều lần nhưng rác vẫn không được dọn.", "report",
                 "default");
    assert_class("Không phải khiếu nại", "Chỉ phản ánh đèn đường hỏng.", "report", "default");
    /* emergency first (SPEC §3.5 order) */
    assert_class("Đơn tố cáo", "Nhà bên cạnh đang cháy!", "emergency",
                 "keyword emergency \"đang cháy\" (text)");
}

/* ---- confidentiality (Điều 9.3.b) ------------------------------------------------------------ */

static void test_confidential(void)
{
    g_autoptr(Draft) d = parse_mail("Karaoke", "Đề nghị giữ bí mật thông tin người phản ánh.");
    g_assert_true(d->confidential);
    g_assert_cmpstr(d->classification, ==, "report");
    g_assert_cmpstr(d->rule, ==, "default; confidential: keyword \"giữ bí mật\" (text)");
    g_autoptr(Draft) anonymous = parse_mail("Xin ẩn danh", "Quán nhậu lấn chiếm vỉa hè.");
    g_assert_true(anonymous->confidential);
    g_autoptr(Draft) emergency = parse_mail("x", "Đang cháy nhà, xin giấu tên tôi.");
    g_assert_cmpstr(emergency->classification, ==, "emergency");
    g_assert_true(emergency->confidential);
    g_assert_cmpstr(
        emergency->rule, ==,
        "keyword emergency \"đang cháy\" (text); confidential: keyword \"xin giấu tên\" "
        "(text)");
    static const char *const open[] = {
        "Tôi không cần giữ bí mật thông tin.",
        "Tôi đồng ý công khai tên.",
        "Vỉa hè bị lấn chiếm.",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(open); i++) {
        g_autoptr(Draft) o = parse_mail("x", open[i]);
        g_assert_false(o->confidential);
        g_assert_cmpstr(o->rule, ==, "default");
    }
}

/* ---- first match wins: automatic mail stays automatic ------------------------------------------
 */

static void test_auto_before_keywords(void)
{
    GError *error = NULL;
    g_autoptr(Draft) d = parse_with("Trả lời tự động", "Tôi đang nghỉ phép. Nhà đang cháy.", NULL,
                                    "Auto-Submitted: auto-replied\n", &error);
    g_assert_no_error(error);
    g_assert_cmpstr(d->classification, ==, "auto");
    g_assert_false(d->confidential);
}

/* ---- the keyword file -------------------------------------------------------------------------
 */

static void test_shipped_file_is_the_builtin_list(void)
{
    g_autofree char *path = keywords_file_path();
    GError *error = NULL;
    g_assert_true(parse_keywords_check(path, &error));
    g_assert_no_error(error);
    g_assert_true(parse_keywords_check(NULL, &error));
    /* the same decision through the file and through the built-in copy */
    g_autoptr(Draft) a = parse_with("x", "Nhà đang cháy", path, NULL, &error);
    g_assert_no_error(error);
    g_autoptr(Draft) b = parse_with("x", "Nhà đang cháy", NULL, NULL, &error);
    g_assert_cmpstr(a->rule, ==, b->rule);
}

static void test_province_edits_the_file(void)
{
    g_autofree char *dir = g_dir_make_tmp("paht-keywords-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "keywords.conf", NULL);
    g_assert_true(g_file_set_contents(path,
                                      "\xEF\xBB\xBF# tỉnh thêm\n[emergency]\nngập sâu quá đầu\n"
                                      "[confidential]\nđừng nêu tên tôi\n",
                                      -1, NULL));
    GError *error = NULL;
    g_autoptr(Draft) d =
        parse_with("x", "Nước NGẬP SÂU QUÁ ĐẦU, đừng nêu tên tôi", path, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(d->classification, ==, "emergency");
    g_assert_cmpstr(d->rule, ==,
                    "keyword emergency \"ngập sâu quá đầu\" (text); confidential: keyword \"đừng "
                    "nêu tên tôi\" (text)");
    /* the built-in phrases are not in this file */
    g_autoptr(Draft) fire = parse_with("x", "Nhà đang cháy", path, NULL, &error);
    g_assert_cmpstr(fire->classification, ==, "report");

    /* an edit is seen by the next message, without a restart */
    g_assert_true(g_file_set_contents(path, "[emergency]\nnhà đang cháy rồi\n", -1, NULL));
    g_autoptr(Draft) again = parse_with("x", "Nhà đang cháy rồi", path, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(again->rule, ==, "keyword emergency \"nhà đang cháy rồi\" (text)");

    /* a broken file stops parsing with a configuration error naming file and line */
    g_assert_true(g_file_set_contents(path, "[emergency]\ncháy lớn\n[khẩn cấp]\n", -1, NULL));
    g_autoptr(Draft) none = parse_with("x", "Nhà đang cháy", path, NULL, &error);
    g_assert_null(none);
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
    g_assert_nonnull(strstr(error->message, path));
    g_assert_nonnull(strstr(error->message, "line 3"));
    g_clear_error(&error);
    g_assert_true(g_file_set_contents(path, "cháy lớn\n", -1, NULL));
    g_assert_false(parse_keywords_check(path, &error));
    g_assert_nonnull(strstr(error->message, "line 1"));
    g_clear_error(&error);
    g_assert_true(g_file_set_contents(path, "[emergency]\n\xC3\x28\n", -1, NULL));
    g_assert_false(parse_keywords_check(path, &error));
    g_assert_nonnull(strstr(error->message, "UTF-8"));
    g_clear_error(&error);
    g_unlink(path);
    g_assert_false(parse_keywords_check(path, &error));
    g_assert_error(error, PAHT_ERROR, PAHT_ERROR_CONFIG);
    g_clear_error(&error);
    g_rmdir(dir);
}

/* a province's copy of keywords.conf made before [auto] and [bounce] existed still knows
 * auto-replies; a copy with its own [auto.subject] uses only its own */
static void test_old_keywords_file_still_knows_auto_replies(void)
{
    g_autofree char *dir = g_dir_make_tmp("paht-keywords-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "keywords.conf", NULL);
    g_assert_true(g_file_set_contents(path, "[emergency]\nđang cháy\n", -1, NULL));
    GError *error = NULL;
    g_autoptr(Draft) d =
        parse_with("Trả lời tự động: Đã tiếp nhận", "Tôi vắng mặt.", path, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(d->classification, ==, "auto");
    g_assert_cmpstr(d->rule, ==, "auto-reply subject \"trả lời tự động\"");
    g_assert_true(
        g_file_set_contents(path, "[emergency]\nđang cháy\n[auto.subject]\nvắng nhà\n", -1, NULL));
    g_autoptr(Draft) own = parse_with("Vắng nhà: x", "y", path, NULL, &error);
    g_assert_cmpstr(own->rule, ==, "auto-reply subject \"vắng nhà\"");
    g_autoptr(Draft) other = parse_with("Trả lời tự động: x", "y", path, NULL, &error);
    g_assert_cmpstr(other->classification, ==, "report");
    g_unlink(path);
    g_rmdir(dir);
}

static void test_keywords_match_directly(void)
{
    GError *error = NULL;
    const char *text = "[complaint]\nkhiếu nại\n[complaint.except]\nkhông khiếu nại\n"
                       "[emergency]\ncướp\n[emergency.past]\nhôm qua\n";
    Keywords *k = keywords_parse(text, strlen(text), "test", &error);
    g_assert_no_error(error);
    g_autofree char *a = keywords_match(k, "complaint", "", "Tôi khiếu nại.");
    g_assert_cmpstr(a, ==, "keyword complaint \"khiếu nại\" (text)");
    g_autofree char *b = keywords_match(k, "complaint", "", "Tôi không khiếu nại.");
    g_assert_null(b);
    /* a past marker cancels only in its own sentence */
    g_autofree char *c = keywords_match(k, "emergency", "", "Hôm qua mưa. Bọn chúng đang cướp.");
    g_assert_cmpstr(c, ==, "keyword emergency \"cướp\" (text)");
    g_autofree char *e = keywords_match(k, "emergency", "", "Hôm qua bọn chúng cướp xe.");
    g_assert_null(e);
    /* paragraphs are sentences too */
    g_autofree char *f = keywords_match(k, "emergency", "", "Hôm qua mưa\n\nBọn chúng cướp xe");
    g_assert_cmpstr(f, ==, "keyword emergency \"cướp\" (text)");
    keywords_free(k);
}

/* ---- the one-pass scan against its definition -------------------------------------------------
 * keywords_match looks for every phrase in one pass over the text; what it must find is what
 * a search per phrase finds: the first phrase of the list, in file order, that occurs on word
 * boundaries and is not cancelled by an exception overlapping it or a past marker in its
 * sentence. The definition, written out the slow way, on random texts made of the phrases. */

typedef struct {
    const char *section;
    const char *written;
    char *folded;
} RefPhrase;

/* folded, white space collapsed, a paragraph break " . " (as the scan's input is made) */
static char *ref_fold(const char *text)
{
    g_autofree char *folded = text_fold(text);
    GString *out = g_string_new(NULL);
    int newlines = 0;
    gboolean space = FALSE;
    for (const char *p = folded; *p; p++) {
        if (g_ascii_isspace(*p)) {
            space = TRUE;
            newlines += *p == '\n';
            continue;
        }
        if (space && out->len)
            g_string_append(out, newlines >= 2 ? " . " : " ");
        space = FALSE;
        newlines = 0;
        g_string_append_c(out, *p);
    }
    return g_string_free(out, FALSE);
}

static gboolean ref_word_byte(char c)
{
    return g_ascii_isalnum(c) || (guchar)c >= 0x80;
}

/* the starts of phrase in text on word boundaries */
static GArray *ref_find(const char *text, const char *phrase)
{
    GArray *starts = g_array_new(FALSE, FALSE, sizeof(gsize));
    gsize n = strlen(phrase);
    for (const char *p = strstr(text, phrase); p; p = strstr(p + 1, phrase)) {
        if ((p > text && ref_word_byte(p[-1]) && ref_word_byte(phrase[0])) ||
            (p[n] && ref_word_byte(p[n]) && ref_word_byte(phrase[n - 1])))
            continue;
        gsize at = (gsize)(p - text);
        g_array_append_val(starts, at);
    }
    return starts;
}

static guint ref_sentence(const char *text, gsize at)
{
    guint n = 0;
    for (gsize i = 0; i < at; i++)
        n += strchr(".!?;", text[i]) && text[i] && (text[i + 1] == ' ' || !text[i + 1]);
    return n;
}

static gboolean ref_cancelled(const char *text, gsize start, gsize end, GPtrArray *phrases,
                              const char *category)
{
    g_autofree char *except = g_strconcat(category, ".except", NULL);
    g_autofree char *past = g_strconcat(category, ".past", NULL);
    for (guint i = 0; i < phrases->len; i++) {
        RefPhrase *p = phrases->pdata[i];
        gboolean is_except = g_str_equal(p->section, except);
        if (!is_except && !g_str_equal(p->section, past))
            continue;
        g_autoptr(GArray) starts = ref_find(text, p->folded);
        for (guint j = 0; j < starts->len; j++) {
            gsize s = g_array_index(starts, gsize, j), e = s + strlen(p->folded);
            if (is_except ? s < end && start < e
                          : ref_sentence(text, s) == ref_sentence(text, start))
                return TRUE;
        }
    }
    return FALSE;
}

static const char *ref_first(const char *text, GPtrArray *phrases, const char *section,
                             const char *category)
{
    for (guint i = 0; i < phrases->len; i++) {
        RefPhrase *p = phrases->pdata[i];
        if (!g_str_equal(p->section, section))
            continue;
        g_autoptr(GArray) starts = ref_find(text, p->folded);
        for (guint j = 0; j < starts->len; j++) {
            gsize s = g_array_index(starts, gsize, j);
            if (!ref_cancelled(text, s, s + strlen(p->folded), phrases, category))
                return p->written;
        }
    }
    return NULL;
}

static char *ref_match(GPtrArray *phrases, const char *category, const char *subject,
                       const char *text)
{
    g_autofree char *s = ref_fold(subject), *t = ref_fold(text);
    g_autofree char *subject_list = g_strconcat(category, ".subject", NULL);
    const char *found = ref_first(s, phrases, category, category);
    if (!found)
        found = ref_first(s, phrases, subject_list, category);
    const char *where = "subject";
    if (!found) {
        found = ref_first(t, phrases, category, category);
        where = "text";
    }
    return found ? g_strdup_printf("keyword %s \"%s\" (%s)", category, found, where) : NULL;
}

static void test_one_pass_scan_matches_a_search_per_phrase(void)
{
    static const struct {
        const char *section, *written;
    } lists[] = {
        {"emergency", "đang cháy"},
        {"emergency", "cháy"},
        {"emergency", "cướp"},
        {"emergency", "tai nạn giao thông"},
        {"emergency", "nạn"},
        {"emergency.except", "nguy cơ cháy"},
        {"emergency.except", "cháy nắng"},
        {"emergency.past", "hôm qua"},
        {"emergency.past", "đã"},
        {"complaint", "khiếu nại"},
        {"complaint", "tố cáo"},
        {"complaint.subject", "đơn thư"},
        {"complaint.except", "không khiếu nại"},
        {"confidential", "giữ bí mật"},
        {"confidential", "bí mật"},
        {"confidential.except", "không cần giữ bí mật"},
        {"emergency", "a.b"},
        {"emergency", "!!"},
    };
    GString *file = g_string_new(NULL);
    g_autoptr(GPtrArray) phrases = g_ptr_array_new();
    for (gsize i = 0; i < G_N_ELEMENTS(lists); i++) {
        g_string_append_printf(file, "[%s]\n%s\n", lists[i].section, lists[i].written);
        RefPhrase *p = g_new0(RefPhrase, 1);
        p->section = lists[i].section;
        p->written = lists[i].written;
        p->folded = ref_fold(lists[i].written);
        g_ptr_array_add(phrases, p);
    }
    GError *error = NULL;
    Keywords *k = keywords_parse(file->str, file->len, "test", &error);
    g_assert_no_error(error);
    static const char *const filler[] = {
        "Nhà",   "ĐANG",  "Cháy", "x",  "ab",  "hôm", "qua", "đã",         "nguy cơ", "bí", "mật",
        "không", "khiếu", "nại",  "tố", "cáo", "tai", "nạn", "giao thông", "cướp",    "a",  "b"};
    static const char *const glue[] = {" ", " ", " ", ". ", "! ", "\n",  "\n\n",
                                       "",  ".", ";", ", ", "x",  "  \t"};
    GRand *rand = g_rand_new_with_seed(18);
    for (int round = 0; round < 3000; round++) {
        GString *parts[2] = {g_string_new(NULL), g_string_new(NULL)};
        for (int w = 0; w < 2; w++) {
            int words = g_rand_int_range(rand, 0, w ? 30 : 6);
            for (int j = 0; j < words; j++) {
                if (g_rand_int_range(rand, 0, 3) == 0)
                    g_string_append(parts[w],
                                    lists[g_rand_int_range(rand, 0, G_N_ELEMENTS(lists))].written);
                else
                    g_string_append(parts[w],
                                    filler[g_rand_int_range(rand, 0, G_N_ELEMENTS(filler))]);
                g_string_append(parts[w], glue[g_rand_int_range(rand, 0, G_N_ELEMENTS(glue))]);
            }
        }
        static const char *const categories[] = {"emergency", "complaint", "confidential"};
        for (gsize c = 0; c < G_N_ELEMENTS(categories); c++) {
            g_autofree char *want = ref_match(phrases, categories[c], parts[0]->str, parts[1]->str);
            g_autofree char *got = keywords_match(k, categories[c], parts[0]->str, parts[1]->str);
            if (g_strcmp0(want, got) != 0)
                g_test_message("subject \"%s\", text \"%s\"", parts[0]->str, parts[1]->str);
            g_assert_cmpstr(got, ==, want);
        }
        g_string_free(parts[0], TRUE);
        g_string_free(parts[1], TRUE);
    }
    g_rand_free(rand);
    for (guint i = 0; i < phrases->len; i++) {
        RefPhrase *p = phrases->pdata[i];
        g_free(p->folded);
        g_free(p);
    }
    g_string_free(file, TRUE);
    keywords_free(k);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    parse_init();
    g_test_add_func("/parse/classify/emergencies", test_emergencies);
    g_test_add_func("/parse/classify/not-emergencies", test_not_emergencies);
    g_test_add_func("/parse/classify/long-body", test_long_body_read_to_each_steps_own_bound);
    g_test_add_func("/parse/classify/complaints", test_complaints);
    g_test_add_func("/parse/classify/confidential", test_confidential);
    g_test_add_func("/parse/classify/auto-first", test_auto_before_keywords);
    g_test_add_func("/parse/classify/shipped-file", test_shipped_file_is_the_builtin_list);
    g_test_add_func("/parse/classify/province-edits", test_province_edits_the_file);
    g_test_add_func("/parse/classify/match", test_keywords_match_directly);
    g_test_add_func("/parse/classify/one-pass-scan-matches-a-search-per-phrase",
                    test_one_pass_scan_matches_a_search_per_phrase);
    g_test_add_func("/parse/classify/old-keywords-file-knows-auto-replies",
                    test_old_keywords_file_still_knows_auto_replies);
    return g_test_run();
}
