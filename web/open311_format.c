/* Open311 GeoReport v2 answers in its two formats (issue 15): each answer is built once as a
 * JSON tree (json-glib) and written as JSON, or as the spec's XML with libxml2's writer, by
 * one rule: an object's members are elements, an array's items are elements named after
 * their list ("services" holds "service"s), scalars are text. The spec's error list is an
 * answer like the others. */
#include "web/web_private.h"
#include "util/util.h"

#include <libxml/xmlwriter.h>
#include <string.h>

/* the XML element of one item of each list the spec has */
static const char *const item_names[][2] = {
    {"services", "service"}, {"service_requests", "request"},
    {"errors", "error"},     {"endpoints", "endpoint"},
    {"formats", "format"},   {"attributes", "attribute"},
    {"values", "value"},     {"service_request_ids", "service_request_id"},
};

static const char *item_name(const char *list)
{
    for (gsize i = 0; i < G_N_ELEMENTS(item_names); i++) {
        if (g_str_equal(item_names[i][0], list))
            return item_names[i][1];
    }
    return "item";
}

gboolean open311_format_of(const char *segment, Open311Format *format, char **stem)
{
    const char *dot = segment ? strrchr(segment, '.') : NULL;
    if (!dot || dot == segment)
        return FALSE;
    if (g_str_equal(dot, ".xml"))
        *format = OPEN311_XML;
    else if (g_str_equal(dot, ".json"))
        *format = OPEN311_JSON;
    else
        return FALSE;
    if (stem)
        *stem = g_strndup(segment, (gsize)(dot - segment));
    return TRUE;
}

static void xml_write_node(xmlTextWriterPtr w, const char *name, JsonNode *node);

/* the shortest text that reads back as v: 9.6025, not 9.6024999999999991 */
static const char *shortest_number(char buf[G_ASCII_DTOSTR_BUF_SIZE], double v)
{
    static const char *const formats[] = {"%.15g", "%.16g", "%.17g"};
    for (gsize i = 0; i < G_N_ELEMENTS(formats); i++) {
        g_ascii_formatd(buf, G_ASCII_DTOSTR_BUF_SIZE, formats[i], v);
        if (g_ascii_strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

static void xml_write_scalar(xmlTextWriterPtr w, const char *name, JsonNode *node)
{
    xmlTextWriterStartElement(w, BAD_CAST name);
    GType type = json_node_get_value_type(node);
    if (type == G_TYPE_STRING) {
        xmlTextWriterWriteString(w, BAD_CAST json_node_get_string(node));
    } else if (type == G_TYPE_BOOLEAN) {
        xmlTextWriterWriteString(w, BAD_CAST(json_node_get_boolean(node) ? "true" : "false"));
    } else if (type == G_TYPE_DOUBLE) {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        xmlTextWriterWriteString(w, BAD_CAST shortest_number(buf, json_node_get_double(node)));
    } else {
        g_autofree char *text = g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(node));
        xmlTextWriterWriteString(w, BAD_CAST text);
    }
    xmlTextWriterEndElement(w);
}

static void xml_write_node(xmlTextWriterPtr w, const char *name, JsonNode *node)
{
    switch (json_node_get_node_type(node)) {
    case JSON_NODE_NULL:
        xmlTextWriterStartElement(w, BAD_CAST name);
        xmlTextWriterEndElement(w);
        return;
    case JSON_NODE_VALUE:
        xml_write_scalar(w, name, node);
        return;
    case JSON_NODE_ARRAY: {
        JsonArray *a = json_node_get_array(node);
        xmlTextWriterStartElement(w, BAD_CAST name);
        for (guint i = 0; i < json_array_get_length(a); i++)
            xml_write_node(w, item_name(name), json_array_get_element(a, i));
        xmlTextWriterEndElement(w);
        return;
    }
    case JSON_NODE_OBJECT: {
        JsonObject *o = json_node_get_object(node);
        xmlTextWriterStartElement(w, BAD_CAST name);
        g_autoptr(GList) members = json_object_get_members(o);
        for (GList *m = members; m; m = m->next)
            xml_write_node(w, m->data, json_object_get_member(o, m->data));
        xmlTextWriterEndElement(w);
        return;
    }
    }
}

char *open311_xml(JsonNode *root, const char *root_name, gsize *len)
{
    xmlBufferPtr buf = xmlBufferCreate();
    xmlTextWriterPtr w = xmlNewTextWriterMemory(buf, 0);
    xmlTextWriterStartDocument(w, "1.0", "utf-8", NULL);
    xml_write_node(w, root_name, root);
    xmlTextWriterEndDocument(w);
    xmlFreeTextWriter(w);
    *len = (gsize)xmlBufferLength(buf);
    char *out = g_strndup((const char *)xmlBufferContent(buf), *len);
    xmlBufferFree(buf);
    return out;
}

void open311_answer(Response *res, int status, Open311Format format, JsonNode *root,
                    const char *root_name)
{
    gsize len = 0;
    char *body = NULL;
    if (format == OPEN311_XML) {
        body = open311_xml(root, root_name, &len);
    } else {
        g_autoptr(JsonGenerator) gen = json_generator_new();
        json_generator_set_root(gen, root);
        body = json_generator_to_data(gen, &len);
    }
    response_body(res, status,
                  format == OPEN311_XML ? "text/xml; charset=utf-8"
                                        : "application/json; charset=utf-8",
                  body, len);
}

void open311_errors(Response *res, Open311Format format, int status, GPtrArray *descriptions)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_array(b);
    for (guint i = 0; i < descriptions->len; i++) {
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "code");
        json_builder_add_int_value(b, status);
        json_add_string(b, "description", g_ptr_array_index(descriptions, i));
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    open311_answer(res, status, format, root, "errors");
}

void open311_error(Response *res, Open311Format format, int status, const char *description)
{
    g_autoptr(GPtrArray) one = g_ptr_array_new();
    g_ptr_array_add(one, (gpointer)description);
    open311_errors(res, format, status, one);
}
