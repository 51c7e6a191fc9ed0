/* parse: HTML mail -> plain text with libxml2's HTML parser.
 *
 * Safety: htmlReadMemory with RECOVER (mail HTML is rarely valid), NOERROR/NOWARNING (no
 * output on stderr), NONET (no fetching), IGNORE_ENC (the text is already UTF-8 whatever a
 * <meta> says). Never NOENT, DTDLOAD or HUGE: entity expansion and external DTDs are how
 * untrusted markup reads local files or eats memory.
 *
 * Layout: the people who read the result (IOC operators, the field extractor) need the lines
 * of the original. Block elements and <br> start new lines, table cells are separated by a
 * tab, list items get their own lines, links keep their target as "text (URL)" when the
 * target differs from the text. script, style, head and hidden elements are skipped.
 *
 * The tree is walked without recursion (parent pointers), so a deeply nested document
 * cannot exhaust the stack. */
#include "parse/parse_private.h"

#include <libxml/HTMLparser.h>
#include <string.h>

typedef struct {
    gsize start; /* out->len when the <a> opened */
    const char *href;
} OpenLink;

typedef struct {
    GString *out; /* where text goes now: main or quoted */
    GString *main, *quoted;
    guint pending_newlines;
    gboolean pending_space;
    gboolean pending_cell;
    int pre;
    gboolean find_quote;
    gboolean quote_found;
    const xmlNode *quote_node; /* the quote being written; NULL: the sender's text */
    gboolean quote_to_end;     /* everything after a header-only marker is the quote */
    GArray *links;             /* OpenLink */
} Writer;

/* NAME in lowercase; the first letter rejects most elements before the whole name is
 * compared (asked of every element, against lists of names) */
static gboolean name_is(const xmlNode *node, const char *name)
{
    const char *n = (const char *)node->name;
    return n && g_ascii_tolower(n[0]) == name[0] && g_ascii_strcasecmp(n, name) == 0;
}

static gboolean name_in(const xmlNode *node, const char *const *names)
{
    for (; *names; names++) {
        if (name_is(node, *names))
            return TRUE;
    }
    return FALSE;
}

/* borrowed value of an attribute (its first text child), or NULL */
static const char *attribute(const xmlNode *node, const char *name)
{
    for (const xmlAttr *a = node->properties; a; a = a->next) {
        if (a->name && g_ascii_strcasecmp((const char *)a->name, name) == 0)
            return a->children && a->children->content ? (const char *)a->children->content : "";
    }
    return NULL;
}

static gboolean has_class(const xmlNode *node, const char *const *classes)
{
    const char *value = attribute(node, "class");
    if (!value)
        return FALSE;
    g_auto(GStrv) tokens = g_strsplit_set(value, " \t\r\n", -1);
    for (char **t = tokens; *t; t++) {
        for (const char *const *c = classes; *c; c++) {
            if (g_ascii_strcasecmp(*t, *c) == 0)
                return TRUE;
        }
    }
    return FALSE;
}

static const char *const skipped_elements[] = {"script",   "style",  "head",   "title",
                                               "template", "svg",    "object", "iframe",
                                               "noframes", "applet", "embed",  NULL};

static const char *const block_elements[] = {
    "address", "article", "aside",   "blockquote", "center",   "dd",         "details", "dialog",
    "dir",     "div",     "dl",      "dt",         "fieldset", "figcaption", "figure",  "footer",
    "form",    "h1",      "h2",      "h3",         "h4",       "h5",         "h6",      "header",
    "hgroup",  "hr",      "li",      "main",       "menu",     "nav",        "ol",      "p",
    "pre",     "section", "summary", "table",      "tbody",    "thead",      "tfoot",   "tr",
    "ul",      "caption", "body",    "html",       "legend",   "option",     NULL};

/* Where quoted earlier mail is (SPEC §3.3). Most markers hold the whole quote (Gmail's
 * gmail_quote, cite blockquotes of Apple Mail, iPhone and Thunderbird, Thunderbird's
 * attribution moz-cite-prefix): what follows them is the sender's again (an answer written
 * below the quote). Outlook's markers hold only the header block of the quoted mail, whose
 * body follows: from them on everything is the quote. */
typedef enum {
    QUOTE_NONE,
    QUOTE_INSIDE, /* the element holds the quote */
    QUOTE_TO_END, /* the quote starts here and runs to the end */
} QuoteMark;

static QuoteMark quote_mark(const xmlNode *node)
{
    static const char *const classes[] = {"gmail_quote",      "gmail_quote_container",
                                          "yahoo_quoted",     "moz-cite-prefix",
                                          "protonmail_quote", NULL};
    static const char *const header_classes[] = {"OutlookMessageHeader", NULL};
    static const char *const ids[] = {"mail-editor-reference-message-container",
                                      "OLK_SRC_BODY_SECTION", NULL};
    static const char *const header_ids[] = {"divRplyFwdMsg", "x_divRplyFwdMsg", "appendonsend",
                                             NULL};
    if (has_class(node, classes))
        return QUOTE_INSIDE;
    if (has_class(node, header_classes))
        return QUOTE_TO_END;
    const char *id = attribute(node, "id");
    for (const char *const *i = ids; id && *i; i++) {
        if (g_ascii_strcasecmp(id, *i) == 0)
            return QUOTE_INSIDE;
    }
    for (const char *const *i = header_ids; id && *i; i++) {
        if (g_ascii_strcasecmp(id, *i) == 0)
            return QUOTE_TO_END;
    }
    if (name_is(node, "blockquote")) {
        const char *type = attribute(node, "type");
        if (type && g_ascii_strcasecmp(type, "cite") == 0)
            return QUOTE_INSIDE;
    }
    return QUOTE_NONE;
}

static gboolean is_hidden(const xmlNode *node)
{
    if (attribute(node, "hidden"))
        return TRUE;
    const char *style = attribute(node, "style");
    if (!style)
        return FALSE;
    /* "display: none" in any spacing and case */
    GString *compact = g_string_new(NULL);
    for (const char *p = style; *p; p++) {
        if (!g_ascii_isspace(*p))
            g_string_append_c(compact, g_ascii_tolower(*p));
    }
    gboolean hidden = strstr(compact->str, "display:none") != NULL;
    g_string_free(compact, TRUE);
    return hidden;
}

static guint trailing_newlines(const GString *s)
{
    guint n = 0;
    while (n < s->len && n < 2 && s->str[s->len - 1 - n] == '\n')
        n++;
    return n;
}

/* before visible text: the separators it asked for */
static void writer_flush(Writer *w)
{
    if (w->out->len > 0) {
        if (w->pending_newlines > 0) {
            guint want = MIN(w->pending_newlines, 2);
            for (guint have = trailing_newlines(w->out); have < want; have++)
                g_string_append_c(w->out, '\n');
        } else if (w->out->str[w->out->len - 1] != '\n') {
            if (w->pending_cell)
                g_string_append_c(w->out, '\t');
            else if (w->pending_space)
                g_string_append_c(w->out, ' ');
        }
    }
    w->pending_newlines = 0;
    w->pending_space = FALSE;
    w->pending_cell = FALSE;
}

static void writer_block(Writer *w)
{
    if (w->out->len > 0)
        w->pending_newlines = MAX(w->pending_newlines, 1);
    w->pending_space = FALSE;
    w->pending_cell = FALSE;
}

static void writer_text(Writer *w, const char *s)
{
    if (!s || !*s)
        return;
    if (w->pre > 0) {
        writer_flush(w);
        for (const char *p = s; *p; p++) {
            if (*p != '\r')
                g_string_append_c(w->out, *p);
        }
        return;
    }
    const char *p = s;
    while (*p) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f') {
            w->pending_space = TRUE;
            p++;
            continue;
        }
        /* a run of visible characters */
        const char *run = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != '\f')
            p++;
        writer_flush(w);
        g_string_append_len(w->out, run, p - run);
    }
}

/* "www.example.com", "http://www.example.com/" and "mailto:a@b" name the same thing as
 * their text; anything else is shown after the text */
static char *link_target_key(const char *s)
{
    g_autofree char *trimmed = g_strstrip(g_strdup(s));
    const char *p = trimmed;
    if (g_ascii_strncasecmp(p, "mailto:", 7) == 0) {
        p += 7;
        const char *q = strchr(p, '?');
        return g_ascii_strdown(p, q ? q - p : -1);
    }
    if (g_ascii_strncasecmp(p, "https://", 8) == 0)
        p += 8;
    else if (g_ascii_strncasecmp(p, "http://", 7) == 0)
        p += 7;
    char *key = g_ascii_strdown(p, -1);
    gsize n = strlen(key);
    while (n > 0 && key[n - 1] == '/')
        key[--n] = '\0';
    return key;
}

static void writer_close_link(Writer *w, const OpenLink *link)
{
    if (!link->href)
        return;
    g_autofree char *href = g_strstrip(g_strdup(link->href));
    if (!*href || href[0] == '#' || g_ascii_strncasecmp(href, "javascript:", 11) == 0 ||
        g_ascii_strncasecmp(href, "cid:", 4) == 0 || g_ascii_strncasecmp(href, "data:", 5) == 0 ||
        strlen(href) > 2048)
        return;
    if (link->start > w->out->len)
        return;
    g_autofree char *text =
        g_strstrip(g_strndup(w->out->str + link->start, w->out->len - link->start));
    if (!*text)
        return;
    g_autofree char *text_key = link_target_key(text);
    g_autofree char *href_key = link_target_key(href);
    if (strcmp(text_key, href_key) == 0)
        return;
    /* no line breaks or controls from the attribute into the text */
    for (char *p = href; *p; p++) {
        if ((guchar)*p < 0x20)
            *p = ' ';
    }
    g_string_append(w->out, " (");
    g_string_append(w->out, g_strstrip(href));
    g_string_append_c(w->out, ')');
}

/* FALSE: do not descend */
static gboolean writer_enter(Writer *w, xmlNode *node)
{
    if (name_in(node, skipped_elements) || is_hidden(node))
        return FALSE;
    QuoteMark mark =
        w->find_quote && !w->quote_node && !w->quote_to_end ? quote_mark(node) : QUOTE_NONE;
    if (mark != QUOTE_NONE) {
        writer_block(w);
        w->pending_newlines = 0;
        w->out = w->quoted;
        writer_block(w); /* the quote's parts, one after the other */
        w->quote_found = TRUE;
        w->quote_node = mark == QUOTE_INSIDE ? node : NULL;
        w->quote_to_end = mark == QUOTE_TO_END;
    }
    if (name_is(node, "br")) {
        if (w->out->len > 0)
            w->pending_newlines++;
        w->pending_space = FALSE;
        w->pending_cell = FALSE;
        return TRUE;
    }
    if (name_is(node, "td") || name_is(node, "th")) {
        gboolean first = TRUE;
        for (xmlNode *s = node->prev; s && first; s = s->prev) {
            if (s->type == XML_ELEMENT_NODE && (name_is(s, "td") || name_is(s, "th")))
                first = FALSE;
        }
        if (!first && w->pending_newlines == 0)
            w->pending_cell = TRUE;
        return TRUE;
    }
    if (name_in(node, block_elements))
        writer_block(w);
    if (name_is(node, "pre"))
        w->pre++;
    if (name_is(node, "a")) {
        OpenLink link = {w->out->len, attribute(node, "href")};
        g_array_append_val(w->links, link);
    }
    return TRUE;
}

static void writer_leave(Writer *w, xmlNode *node)
{
    if (node == w->quote_node) {
        /* the quote ends here: what follows is the sender's again */
        w->quote_node = NULL;
        w->out = w->main;
        writer_block(w);
        return;
    }
    if (name_is(node, "a") && w->links->len > 0) {
        OpenLink link = g_array_index(w->links, OpenLink, w->links->len - 1);
        g_array_set_size(w->links, w->links->len - 1);
        writer_close_link(w, &link);
        return;
    }
    if (name_is(node, "pre") && w->pre > 0)
        w->pre--;
    if (name_in(node, block_elements))
        writer_block(w);
}

char *html_to_text(const char *html, gsize len, gboolean find_quote, char **quoted_out)
{
    *quoted_out = NULL;
    if (len > G_MAXINT)
        len = G_MAXINT;
    /* bench/gmime_walk.c --required parses HTML with these same options (the parse figures'
     * required floor, library calls only): a change here is made there too */
    htmlDocPtr doc =
        htmlReadMemory(html, (int)len, NULL, "UTF-8",
                       HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                           HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC | HTML_PARSE_COMPACT);
    if (!doc)
        return g_strdup("");
    Writer w = {
        .main = g_string_sized_new(len / 2 + 16),
        .quoted = g_string_new(NULL),
        .find_quote = find_quote,
        .links = g_array_new(FALSE, FALSE, sizeof(OpenLink)),
    };
    w.out = w.main;
    xmlNode *node = doc->children;
    while (node) {
        gboolean descend = FALSE;
        if (node->type == XML_ELEMENT_NODE)
            descend = writer_enter(&w, node);
        else if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE)
            writer_text(&w, (const char *)node->content);
        if (descend && node->children) {
            node = node->children;
            continue;
        }
        if (descend)
            writer_leave(&w, node);
        /* next node: a sibling, or climb and close the parents on the way */
        while (node && !node->next) {
            node = node->parent;
            if (!node || node == (xmlNode *)doc) {
                node = NULL;
                break;
            }
            writer_leave(&w, node);
        }
        if (node)
            node = node->next;
    }
    xmlFreeDoc(doc);
    g_array_unref(w.links);
    if (w.quote_found)
        *quoted_out = g_string_free(w.quoted, FALSE);
    else
        g_string_free(w.quoted, TRUE);
    return g_string_free(w.main, FALSE);
}
