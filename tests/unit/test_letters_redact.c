/* Redaction, value by value: what an agency, a leader or the IOC may read of a citizen's
 * subject, file names and text (Điều 4.5, 9.3.b). */
#include "letters/letters.h"
#include "util/util.h"

#include <locale.h>
#include <string.h>

static const DraftCitizen bich = {
    .name = (char *)"Trần Thị Bích",
    .address = (char *)"45 Trần Hưng Đạo, Phường 2",
    .id_number = (char *)"094078001234",
    .phone = (char *)"0939000111",
    .email = (char *)"tranthib@example.vn",
};

static void assert_line(const char *in, const RedactCitizen *who, const char *expected)
{
    g_autofree char *out = redact_line(in, who);
    g_assert_cmpstr(out, ==, expected);
}

static void test_name_is_found_however_it_is_written(void)
{
    RedactCitizen who = {.citizen = &bich};
    assert_line("Phản ánh của Trần Thị Bích", &who, "Phản ánh của [đã ẩn]");
    assert_line("Phan anh cua Tran Thi Bich", &who, "Phan anh cua [đã ẩn]");
    assert_line("PHAN ANH CUA TRAN THI BICH", &who, "PHAN ANH CUA [đã ẩn]");
    assert_line("tran_thi_bich-ho-so", &who, "[đã ẩn]-ho-so");
    assert_line("TranThiBich.pdf", &who, "[đã ẩn].pdf");
    /* decomposed (NFD) diacritics, as some phones write them */
    assert_line("Tra\xcc\x82\xcc\x80n Thi\xcc\xa3 Bi\xcc\x81"
                "ch",
                &who, "[đã ẩn]");
    /* part of a longer word is not the name */
    assert_line("Trần Thị Bíchngọc", &who, "Trần Thị Bíchngọc");
}

static void test_one_word_name_only_as_written(void)
{
    DraftCitizen tuan = {.name = (char *)"Tuấn"};
    RedactCitizen who = {.citizen = &tuan};
    /* without diacritics "Tuấn" is "tuần", a week: an ordinary word stays */
    assert_line("Hơn một tuần nay, anh Tuấn báo", &who, "Hơn một tuần nay, anh [đã ẩn] báo");
    /* two letters are no name to look for */
    DraftCitizen an = {.name = (char *)"An"};
    RedactCitizen short_name = {.citizen = &an};
    assert_line("An toàn giao thông", &short_name, "An toàn giao thông");
}

static void test_numbers_and_addresses_in_a_line(void)
{
    /* no citizen known: shapes alone */
    assert_line("CCCD 094078001234, SDT 0939 000 111", NULL, "CCCD [đã ẩn], SDT [đã ẩn]");
    assert_line("CMND 381234567 / +84 939.000.111 / 0299 3822 123", NULL,
                "CMND [đã ẩn] / [đã ẩn] / [đã ẩn]");
    assert_line("gửi từ a.b+c@mail.example.com.vn nhé", NULL, "gửi từ [đã ẩn] nhé");
    /* what is not personal stays: a tracking code, a date, a house number, a year */
    assert_line("PAHT-2026-000123 ngày 07.05.2026 số 12 năm 2026", NULL,
                "PAHT-2026-000123 ngày 07.05.2026 số 12 năm 2026");
    /* a date and a time are not a phone number; a phone after a time still is */
    assert_line("Sự cố lúc 07.05.2026 08:10, gọi 0912 345 678", NULL,
                "Sự cố lúc 07.05.2026 08:10, gọi [đã ẩn]");
    assert_line("lúc 10:30 0912 345 678", NULL, "lúc 10:30 [đã ẩn]");
    RedactCitizen who = {.citizen = &bich};
    assert_line("Nhà 45 Trần Hưng Đạo, Phường 2 ngập", &who, "Nhà [đã ẩn] ngập");
}

static void test_subject_and_file_name(void)
{
    RedactCitizen who = {.citizen = &bich};
    g_autofree char *subject = redact_subject(
        "Phan anh cua Tran Thi Bich, CCCD 094078001234, SDT 0939000111", "PAHT-2026-000001", &who);
    g_assert_cmpstr(subject, ==, "Phan anh cua [đã ẩn], CCCD [đã ẩn], SDT [đã ẩn]");
    g_autofree char *none = redact_subject(NULL, "PAHT-2026-000001", &who);
    g_assert_cmpstr(none, ==, "(không có tiêu đề)");
    g_autofree char *file = redact_filename("CCCD_Tran_Thi_Bich_094078001234.jpg", 1, &who);
    g_assert_cmpstr(file, ==, "CCCD_[đã ẩn]_[đã ẩn].jpg");
    g_autofree char *mail = redact_filename("tranthib@example.vn.pdf", 1, &who);
    g_assert_cmpstr(mail, ==, "[đã ẩn].pdf");

    who.confidential = TRUE;
    g_autofree char *neutral = redact_subject("Đèn hỏng", "PAHT-2026-000001", &who);
    g_assert_cmpstr(neutral, ==, "Phản ánh PAHT-2026-000001 (bảo mật)");
    g_autofree char *numbered = redact_filename("cong-tac.JPG", 3, &who);
    g_assert_cmpstr(numbered, ==, "Tệp 3.JPG");
    g_autofree char *bare = redact_filename("ghi-am", 2, &who);
    g_assert_cmpstr(bare, ==, "Tệp 2");
}

static void test_text_for_an_agency(void)
{
    const char *text = "Cống tắc trước nhà.\nHọ và tên: Trần Thị Bích\nCCCD: 0940 7800 1234\n"
                       "Địa chỉ: 45 Trần Hưng Đạo, Phường 2\nĐiện thoại: 0939 000 111\n"
                       "Liên hệ tran thi bich qua tranthib@example.vn";
    RedactCitizen who = {.citizen = &bich};
    g_autofree char *ordinary = redact_text(text, &who);
    g_assert_cmpstr(ordinary, ==,
                    "Cống tắc trước nhà.\nHọ và tên: Trần Thị Bích\nCCCD: [đã ẩn]\n"
                    "Địa chỉ: [đã ẩn]\nĐiện thoại: 0939 000 111\n"
                    "Liên hệ tran thi bich qua tranthib@example.vn");
    who.confidential = TRUE;
    g_autofree char *secret = redact_text(text, &who);
    g_assert_cmpstr(secret, ==,
                    "Cống tắc trước nhà.\nHọ và tên: [đã ẩn]\nCCCD: [đã ẩn]\n"
                    "Địa chỉ: [đã ẩn]\nĐiện thoại: [đã ẩn]\n"
                    "Liên hệ [đã ẩn] qua [đã ẩn]");
}

static void test_excerpt_cut_at_a_word(void)
{
    RedactCitizen who = {.citizen = &bich};
    g_autofree char *short_one = redact_excerpt("Cháy nhà\n\nở chợ   Phường 2.", &who, 100);
    g_assert_cmpstr(short_one, ==, "Cháy nhà ở chợ Phường 2.");
    g_autofree char *cut = redact_excerpt(
        "Đang cháy lớn ở dãy ki-ốt chợ Phường 2, khói rất nhiều, Trần Thị Bích gọi 0939000111",
        &who, 40);
    g_assert_cmpstr(cut, ==, "Đang cháy lớn ở dãy ki-ốt chợ Phường 2…");
    g_assert_cmpint(g_utf8_strlen(cut, -1), <=, 40);
    /* one word longer than the excerpt is cut inside it */
    g_autofree char *word = redact_excerpt("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &who, 10);
    g_assert_cmpstr(word, ==, "aaaaaaaaa…");
    g_autofree char *empty = redact_excerpt("", &who, 10);
    g_assert_cmpstr(empty, ==, "");
    /* a mail of megabytes on one line: only its head is read; broken UTF-8 is no crash */
    GString *big = g_string_new("Cháy chợ. SĐT 0939000111 ");
    for (int i = 0; i < 200000; i++)
        g_string_append(big, "khói rất nhiều ");
    g_string_append(big, "\xe1");
    g_autofree char *head = redact_excerpt(big->str, &who, 20);
    g_assert_cmpstr(head, ==, "Cháy chợ. SĐT [đã…");
    g_string_free(big, TRUE);
}

static void test_hostile_input_is_handled(void)
{
    RedactCitizen who = {.citizen = &bich, .sender_name = "Bích"};
    /* not UTF-8: nothing crashes, the numbers still go */
    g_autofree char *bad = redact_line("\xff\xfe 094078001234 Tr\xe1n", &who);
    g_assert_nonnull(bad);
    g_assert_null(strstr(bad, "094078001234"));
    /* long runs of digits, separators and at signs */
    GString *big = g_string_new(NULL);
    for (int i = 0; i < 20000; i++)
        g_string_append(big, i % 3 ? "1 " : "@.");
    g_autofree char *out = redact_line(big->str, &who);
    g_assert_nonnull(out);
    g_string_free(big, TRUE);
    g_assert_null(redact_line(NULL, &who));
    g_assert_null(redact_text(NULL, &who));
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "C.UTF-8");
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/redact/name-however-written", test_name_is_found_however_it_is_written);
    g_test_add_func("/redact/one-word-name", test_one_word_name_only_as_written);
    g_test_add_func("/redact/numbers-and-addresses", test_numbers_and_addresses_in_a_line);
    g_test_add_func("/redact/subject-and-file-name", test_subject_and_file_name);
    g_test_add_func("/redact/text-for-an-agency", test_text_for_an_agency);
    g_test_add_func("/redact/excerpt", test_excerpt_cut_at_a_word);
    g_test_add_func("/redact/hostile", test_hostile_input_is_handled);
    return g_test_run();
}
