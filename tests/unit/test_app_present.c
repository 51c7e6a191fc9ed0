/* What pahtctl prints: JSON that any JSON reader takes back as it was, coordinates as the
 * citizen wrote them. */
#include "app/present.h"
#include "notify/notify.h"

#include <string.h>

static void test_coordinates_as_written(void)
{
    static const struct {
        double value;
        const char *text;
    } cases[] = {
        {9.6031, "9.6031"},
        {105.9802, "105.9802"},
        {105.98012345678, "105.9801235"},
        {105.973888888, "105.9738889"},
        {-33.8688, "-33.8688"},
        {10.0, "10"},
        {-0.00000001, "0"},
        {0.1 + 0.2, "0.3"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = coordinate_text(cases[i].value);
        g_assert_cmpstr(text, ==, cases[i].text);
    }
}

static void test_json_text_reads_back(void)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_member_string(b, "quoted", "\"Đèn\" \\ hỏng\n\tdòng 2\r\x01");
    json_member_string(b, "none", NULL);
    json_member_int(b, "id", -42);
    json_member_bool(b, "confidential", TRUE);
    json_builder_set_member_name(b, "lat");
    json_builder_add_double_value(b, 9.6031);
    json_member_strv(b, "empty", NULL);
    json_builder_set_member_name(b, "nested");
    json_builder_begin_object(b);
    json_builder_end_object(b);
    json_builder_end_object(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    g_autofree char *text = json_text(root);
    g_assert_nonnull(strstr(text, "\"lat\" : 9.6031,"));
    g_assert_null(strstr(text, "\x01"));

    g_autoptr(JsonParser) parser = json_parser_new();
    GError *error = NULL;
    g_assert_true(json_parser_load_from_data(parser, text, -1, &error));
    g_assert_no_error(error);
    JsonObject *o = json_node_get_object(json_parser_get_root(parser));
    g_assert_cmpstr(json_object_get_string_member(o, "quoted"), ==,
                    "\"Đèn\" \\ hỏng\n\tdòng 2\r\x01");
    g_assert_true(json_object_get_null_member(o, "none"));
    g_assert_cmpint(json_object_get_int_member(o, "id"), ==, -42);
    g_assert_true(json_object_get_boolean_member(o, "confidential"));
    g_assert_cmpfloat(json_object_get_double_member(o, "lat"), ==, 9.6031);
    g_assert_cmpuint(json_array_get_length(json_object_get_array_member(o, "empty")), ==, 0);
    g_assert_cmpuint(json_object_get_size(json_object_get_object_member(o, "nested")), ==, 0);
    /* members in the order they were added */
    g_autoptr(GList) names = json_object_get_members(o);
    g_assert_cmpstr(names->data, ==, "quoted");
}

/* pahtctl show --json: a report whose sender the province's MX doubted (its event
 * "sender_unverified", issue 11) says so, and no other does */
static void test_report_says_sender_unverified(void)
{
    ReportEvent received = {.at = 1, .actor = "pahtd", .kind = "received"};
    ReportEvent doubted = {.at = 1, .actor = "pahtd", .kind = "sender_unverified"};
    g_autoptr(GPtrArray) events = g_ptr_array_new();
    g_ptr_array_add(events, &received);
    Report r = {.id = 1, .code = "PAHT-2026-000001", .state = "incomplete", .events = events};
    g_autoptr(GTimeZone) zone = g_time_zone_new_identifier("Asia/Ho_Chi_Minh");
    g_autoptr(JsonNode) plain = report_to_json(&r, zone);
    g_assert_false(
        json_object_get_boolean_member(json_node_get_object(plain), "sender_unverified"));
    g_ptr_array_add(events, &doubted);
    g_autoptr(JsonNode) unverified = report_to_json(&r, zone);
    g_assert_true(
        json_object_get_boolean_member(json_node_get_object(unverified), "sender_unverified"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/present/coordinates-as-written", test_coordinates_as_written);
    g_test_add_func("/present/json-text-reads-back", test_json_text_reads_back);
    g_test_add_func("/present/report-says-sender-unverified", test_report_says_sender_unverified);
    return g_test_run();
}
