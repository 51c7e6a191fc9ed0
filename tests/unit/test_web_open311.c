/* Open311's two formats (issue 15) as pure functions: one JSON tree written as the spec's
 * XML, element by element (lists named after their items, null as an empty element, text
 * escaped, Vietnamese kept), and the format a path names. */
#include "web/web_private.h"
#include "util/util.h"

#include <string.h>

static JsonNode *tree_of(const char *json)
{
    GError *error = NULL;
    JsonNode *node = json_from_string(json, &error);
    g_assert_no_error(error);
    return node;
}

static char *xml_of(const char *json, const char *root)
{
    g_autoptr(JsonNode) node = tree_of(json);
    gsize len = 0;
    char *xml = open311_xml(node, root, &len);
    g_assert_cmpuint(len, ==, strlen(xml));
    return xml;
}

static void test_lists_are_named_after_their_items(void)
{
    g_autofree char *xml =
        xml_of("[{\"service_code\":\"chieu-sang\",\"metadata\":false,\"lat\":9.6025,\"order\":2,"
               "\"group\":null,\"formats\":[\"text/xml\",\"application/json\"]}]",
               "services");
    g_assert_cmpstr(xml, ==,
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<services><service><service_code>chieu-sang</service_code>"
                    "<metadata>false</metadata><lat>9.6025</lat><order>2</order><group/>"
                    "<formats><format>text/xml</format><format>application/json</format>"
                    "</formats></service></services>\n");
}

static void test_hostile_text_is_escaped_and_vietnamese_kept(void)
{
    g_autofree char *xml = xml_of("[{\"description\":\"Đèn <script>alert(1)</script> & "
                                  "\\\"ổ gà\\\" ]]>\"}]",
                                  "service_requests");
    g_assert_nonnull(strstr(xml, "<request><description>Đèn &lt;script&gt;alert(1)&lt;/script"
                                 "&gt; &amp; &quot;ổ gà&quot; ]]&gt;</description></request>"));
    g_assert_null(strstr(xml, "<script>"));
}

static void test_errors_list_in_both_formats(void)
{
    Response res = {.headers = g_ptr_array_new_with_free_func(g_free)};
    open311_error(&res, OPEN311_XML, 404, "service_code not found");
    g_assert_cmpint(res.status, ==, 404);
    g_assert_cmpstr(res.content_type, ==, "text/xml; charset=utf-8");
    g_assert_cmpstr(g_bytes_get_data(res.body, NULL), ==,
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<errors><error><code>404</code>"
                    "<description>service_code not found</description></error></errors>\n");
    open311_error(&res, OPEN311_JSON, 400, "lat, long: tọa độ");
    g_assert_cmpstr(res.content_type, ==, "application/json; charset=utf-8");
    gsize len = 0;
    const char *body = g_bytes_get_data(res.body, &len);
    g_autofree char *text = g_strndup(body, len);
    g_assert_cmpstr(text, ==, "[{\"code\":400,\"description\":\"lat, long: tọa độ\"}]");
    g_free(res.content_type);
    g_bytes_unref(res.body);
    g_ptr_array_unref(res.headers);
}

static void test_the_format_a_path_names(void)
{
    Open311Format f = OPEN311_XML;
    g_autofree char *stem = NULL;
    g_assert_true(open311_format_of("PAHT-2026-000001.json", &f, &stem));
    g_assert_cmpint(f, ==, OPEN311_JSON);
    g_assert_cmpstr(stem, ==, "PAHT-2026-000001");
    g_assert_true(open311_format_of("services.xml", &f, NULL));
    g_assert_cmpint(f, ==, OPEN311_XML);
    const char *bad[] = {"services", "services.html", ".json", "services.json.", ""};
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++)
        g_assert_false(open311_format_of(bad[i], &f, NULL));
    g_assert_false(open311_format_of(NULL, &f, NULL));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    log_init("test");
    log_set_level(LOG_LEVEL_ERROR);
    g_test_add_func("/open311/lists-are-named-after-their-items",
                    test_lists_are_named_after_their_items);
    g_test_add_func("/open311/hostile-text-is-escaped-and-vietnamese-kept",
                    test_hostile_text_is_escaped_and_vietnamese_kept);
    g_test_add_func("/open311/errors-list-in-both-formats", test_errors_list_in_both_formats);
    g_test_add_func("/open311/the-format-a-path-names", test_the_format_a_path_names);
    return g_test_run();
}
