/* notify/template.c: a mustache renderer over a json-glib context.
 *
 * Two passes. The tokenizer cuts the template into text and tags, line by line, and applies
 * the standalone rule as each line ends (a line holding only white space and one section,
 * inverted, closing, comment, partial or set-delimiter tag disappears entirely). Tags are
 * then nested into a tree, which is where unbalanced sections are found, so that a broken
 * template fails before anything is rendered. The renderer walks the tree with a context
 * stack.
 *
 * Supported beyond the core of the spec: set delimiters ({{=<% %>=}}), partials
 * ({{> name}}, through a lookup callback; template_render itself has none), and parents with
 * blocks, the spec's inheritance: {{< name}}{{$block}}...{{/block}}{{/name}} renders partial
 * name with each {{$block}}default{{/block}} of it replaced by what the caller gave (the
 * outermost caller's wins). The letters' HTML shell is one such parent (layout.partial.html).
 *
 * Truthiness follows the JavaScript implementations: missing, null, false, an empty list,
 * an empty string and the number 0 skip a section. That lets a letter write
 * {{#citizen.name}}...{{/citizen.name}} whether the gateway leaves the name out or sends "".
 */
#include "notify/notify_private.h"
#include "util/util.h"

#include <math.h>
#include <string.h>

/* A template is written by the province's staff, not by citizens, but it must still never
 * crash or exhaust the stack: bound nesting and partial recursion. */
#define TEMPLATE_MAX_NESTING  100
#define TEMPLATE_MAX_PARTIALS 32

typedef enum {
    TOKEN_TEXT,
    TOKEN_VARIABLE,  /* {{name}}: escaped when html */
    TOKEN_RAW,       /* {{{name}}} and {{& name}}: never escaped */
    TOKEN_SECTION,   /* {{#name}} */
    TOKEN_INVERTED,  /* {{^name}} */
    TOKEN_CLOSE,     /* {{/name}} */
    TOKEN_COMMENT,   /* {{! ...}} */
    TOKEN_PARTIAL,   /* {{> name}} */
    TOKEN_DELIMITER, /* {{=<% %>=}} */
    TOKEN_PARENT,    /* {{< name}}: partial name with the blocks inside replaced */
    TOKEN_BLOCK      /* {{$name}}: a block, its content the default */
} TokenKind;

typedef struct {
    TokenKind kind;
    char *text;   /* TEXT: the text (NULL once removed by the standalone rule); tags: the name */
    char *indent; /* PARTIAL on a standalone line: the white space before it */
    int line;
} Token;

typedef struct Node Node;
struct Node {
    TokenKind kind; /* TEXT, VARIABLE, RAW, SECTION, INVERTED, PARTIAL, PARENT, BLOCK */
    char *text;     /* TEXT: the text; others: the name as written */
    char **path;    /* the name split at dots; NULL for the implicit iterator "." */
    char *indent;
    int line;
    GPtrArray *children; /* SECTION, INVERTED, PARENT, BLOCK: Node * */
};

static void token_clear(gpointer data)
{
    Token *token = data;
    g_free(token->text);
    g_free(token->indent);
}

static void node_free(gpointer data)
{
    Node *node = data;
    if (!node)
        return;
    g_free(node->text);
    g_strfreev(node->path);
    g_free(node->indent);
    if (node->children)
        g_ptr_array_unref(node->children);
    g_free(node);
}

static gboolean input_error(GError **error, int line, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static gboolean input_error(GError **error, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "line %d: %s", line, what);
    return FALSE;
}

/* ---- tokenizer ------------------------------------------------------------------------------ */

typedef struct {
    GArray *tokens;     /* Token */
    guint line_start;   /* index of the first token of the current line */
    char *open, *close; /* current delimiters */
} Tokenizer;

static void add_token(Tokenizer *tz, TokenKind kind, char *text, int line)
{
    Token token = {.kind = kind, .text = text, .indent = NULL, .line = line};
    g_array_append_val(tz->tokens, token);
}

/* white space only, allowing the line's end ("\n" or "\r\n") at the very end */
static gboolean text_is_blank(const char *text)
{
    gsize len = strlen(text);
    if (len > 0 && text[len - 1] == '\n') {
        len--;
        if (len > 0 && text[len - 1] == '\r')
            len--;
    }
    for (gsize i = 0; i < len; i++) {
        if (text[i] != ' ' && text[i] != '\t')
            return FALSE;
    }
    return TRUE;
}

static gboolean kind_may_stand_alone(TokenKind kind)
{
    return kind == TOKEN_SECTION || kind == TOKEN_INVERTED || kind == TOKEN_CLOSE ||
           kind == TOKEN_COMMENT || kind == TOKEN_PARTIAL || kind == TOKEN_DELIMITER ||
           kind == TOKEN_PARENT || kind == TOKEN_BLOCK;
}

/* The spec's standalone rule: a line with one non-interpolating tag and nothing but white
 * space around it is removed, its line end included, so templates can put section tags on
 * lines of their own without leaving blank lines in the letter. */
static void finish_line(Tokenizer *tz)
{
    guint n = tz->tokens->len;
    int tags = 0;
    Token *tag = NULL;
    for (guint i = tz->line_start; i < n; i++) {
        Token *token = &g_array_index(tz->tokens, Token, i);
        if (token->kind == TOKEN_TEXT) {
            if (token->text && !text_is_blank(token->text))
                goto done;
        } else {
            tags++;
            tag = token;
        }
    }
    if (tags != 1 || !kind_may_stand_alone(tag->kind))
        goto done;
    GString *indent = g_string_new(NULL);
    gboolean before_tag = TRUE;
    for (guint i = tz->line_start; i < n; i++) {
        Token *token = &g_array_index(tz->tokens, Token, i);
        if (token == tag) {
            before_tag = FALSE;
            continue;
        }
        if (before_tag && token->text)
            g_string_append(indent, token->text);
        g_clear_pointer(&token->text, g_free);
    }
    if (tag->kind == TOKEN_PARTIAL)
        tag->indent = g_string_free(indent, FALSE);
    else
        g_string_free(indent, TRUE);
done:
    tz->line_start = n;
}

static int count_newlines(const char *start, const char *end)
{
    int n = 0;
    for (const char *p = start; p < end; p++)
        n += *p == '\n';
    return n;
}

static gboolean is_tag_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A name is a dotted path of non-empty parts, or "." alone; no white space, no braces. */
static gboolean name_is_valid(const char *name)
{
    if (!*name)
        return FALSE;
    if (strcmp(name, ".") == 0)
        return TRUE;
    if (name[0] == '.' || name[strlen(name) - 1] == '.' || strstr(name, ".."))
        return FALSE;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p <= ' ' || *p == 0x7f || *p == '{' || *p == '}')
            return FALSE;
    }
    return TRUE;
}

static gboolean set_delimiters(Tokenizer *tz, const char *content, int line, GError **error)
{
    g_auto(GStrv) parts = g_strsplit_set(content, " \t\r\n", -1);
    const char *found[3] = {NULL, NULL, NULL};
    int n = 0;
    for (int i = 0; parts[i]; i++) {
        if (!*parts[i])
            continue;
        if (n == 2)
            return input_error(error, line, "set-delimiter tag needs exactly two delimiters");
        found[n++] = parts[i];
    }
    if (n != 2 || strchr(found[0], '=') || strchr(found[1], '='))
        return input_error(error, line, "set-delimiter tag needs exactly two delimiters");
    g_free(tz->open);
    g_free(tz->close);
    tz->open = g_strdup(found[0]);
    tz->close = g_strdup(found[1]);
    return TRUE;
}

static gboolean tokenize(const char *text, int first_line, GArray *tokens, GError **error)
{
    Tokenizer tz = {
        .tokens = tokens, .line_start = 0, .open = g_strdup("{{"), .close = g_strdup("}}")};
    gboolean ok = FALSE;
    int line = first_line;
    const char *p = text;

    while (*p) {
        const char *tag_start = strstr(p, tz.open);
        const char *text_end = tag_start ? tag_start : p + strlen(p);
        /* text, cut after each line end so that finish_line sees whole lines */
        while (p < text_end) {
            const char *nl = memchr(p, '\n', (gsize)(text_end - p));
            const char *piece_end = nl ? nl + 1 : text_end;
            add_token(&tz, TOKEN_TEXT, g_strndup(p, (gsize)(piece_end - p)), line);
            p = piece_end;
            if (nl) {
                finish_line(&tz);
                line++;
            }
        }
        if (!tag_start)
            break;

        int tag_line = line;
        const char *s = tag_start + strlen(tz.open);
        while (is_tag_space(*s))
            s++;
        char sigil = *s;
        TokenKind kind = TOKEN_VARIABLE;
        switch (sigil) {
        case '#':
            kind = TOKEN_SECTION;
            break;
        case '^':
            kind = TOKEN_INVERTED;
            break;
        case '/':
            kind = TOKEN_CLOSE;
            break;
        case '!':
            kind = TOKEN_COMMENT;
            break;
        case '>':
            kind = TOKEN_PARTIAL;
            break;
        case '=':
            kind = TOKEN_DELIMITER;
            break;
        case '<':
            kind = TOKEN_PARENT;
            break;
        case '$':
            kind = TOKEN_BLOCK;
            break;
        case '{':
        case '&':
            kind = TOKEN_RAW;
            break;
        default:
            sigil = 0;
            break;
        }
        if (sigil)
            s++;
        /* the closing mark: "}" + close for triple mustaches, "=" + close for delimiters */
        g_autofree char *closing = sigil == '{'   ? g_strconcat("}", tz.close, NULL)
                                   : sigil == '=' ? g_strconcat("=", tz.close, NULL)
                                                  : g_strdup(tz.close);
        const char *tag_end = strstr(s, closing);
        if (!tag_end) {
            input_error(error, tag_line, "tag \"%s\" is never closed with \"%s\"", tz.open,
                        closing);
            goto out;
        }
        line += count_newlines(tag_start, tag_end + strlen(closing));
        g_autofree char *content = g_strstrip(g_strndup(s, (gsize)(tag_end - s)));
        p = tag_end + strlen(closing);

        switch (kind) {
        case TOKEN_COMMENT:
            add_token(&tz, kind, NULL, tag_line);
            break;
        case TOKEN_DELIMITER:
            if (!set_delimiters(&tz, content, tag_line, error))
                goto out;
            add_token(&tz, kind, NULL, tag_line);
            break;
        case TOKEN_PARTIAL:
        case TOKEN_PARENT:
            if (!*content || strpbrk(content, " \t\r\n")) {
                input_error(error, tag_line, "malformed partial tag \"%s\"", content);
                goto out;
            }
            add_token(&tz, kind, g_steal_pointer(&content), tag_line);
            break;
        default:
            if (!name_is_valid(content)) {
                input_error(error, tag_line, "malformed tag \"%s%c%s%s\"", tz.open,
                            sigil ? sigil : ' ', content, tz.close);
                goto out;
            }
            add_token(&tz, kind, g_steal_pointer(&content), tag_line);
            break;
        }
    }
    finish_line(&tz); /* the last line needs no line end to stand alone */
    ok = TRUE;
out:
    g_free(tz.open);
    g_free(tz.close);
    return ok;
}

/* ---- tree ----------------------------------------------------------------------------------- */

static Node *node_from_token(Token *token)
{
    Node *node = g_new0(Node, 1);
    node->kind = token->kind;
    node->text = g_steal_pointer(&token->text);
    node->indent = g_steal_pointer(&token->indent);
    node->line = token->line;
    if (node->kind != TOKEN_TEXT && node->kind != TOKEN_PARTIAL && node->kind != TOKEN_PARENT &&
        strcmp(node->text, ".") != 0)
        node->path = g_strsplit(node->text, ".", -1);
    if (node->kind == TOKEN_SECTION || node->kind == TOKEN_INVERTED || node->kind == TOKEN_PARENT ||
        node->kind == TOKEN_BLOCK)
        node->children = g_ptr_array_new_with_free_func(node_free);
    return node;
}

/* the sigil that opens a tag of this kind, for messages */
static char opening_sigil(TokenKind kind)
{
    switch (kind) {
    case TOKEN_SECTION:
        return '#';
    case TOKEN_INVERTED:
        return '^';
    case TOKEN_PARENT:
        return '<';
    default:
        return '$';
    }
}

/* Nests sections; returns the top-level nodes, or NULL with PAHT_ERROR_INPUT naming the line
 * of an unbalanced tag. */
static GPtrArray *build_tree(GArray *tokens, GError **error)
{
    g_autoptr(GPtrArray) root = g_ptr_array_new_with_free_func(node_free);
    g_autoptr(GPtrArray) open = g_ptr_array_new(); /* Node *: sections not yet closed */
    GPtrArray *current = root;

    for (guint i = 0; i < tokens->len; i++) {
        Token *token = &g_array_index(tokens, Token, i);
        switch (token->kind) {
        case TOKEN_COMMENT:
        case TOKEN_DELIMITER:
            continue;
        case TOKEN_TEXT:
            if (!token->text || !*token->text)
                continue;
            break;
        case TOKEN_CLOSE: {
            if (open->len == 0) {
                input_error(error, token->line, "closing tag {{/%s}} without an open section",
                            token->text);
                return NULL;
            }
            Node *section = g_ptr_array_index(open, open->len - 1);
            if (strcmp(section->text, token->text) != 0) {
                input_error(error, token->line,
                            "closing tag {{/%s}} does not match section {{%c%s}} opened at "
                            "line %d",
                            token->text, opening_sigil(section->kind), section->text,
                            section->line);
                return NULL;
            }
            g_ptr_array_set_size(open, open->len - 1);
            current = open->len ? ((Node *)g_ptr_array_index(open, open->len - 1))->children : root;
            continue;
        }
        default:
            break;
        }
        Node *node = node_from_token(token);
        g_ptr_array_add(current, node);
        if (node->children) {
            if (open->len >= TEMPLATE_MAX_NESTING) {
                input_error(error, node->line, "sections nested more than %d deep",
                            TEMPLATE_MAX_NESTING);
                return NULL;
            }
            g_ptr_array_add(open, node);
            current = node->children;
        }
    }
    if (open->len > 0) {
        Node *section = g_ptr_array_index(open, open->len - 1);
        input_error(error, section->line, "section {{%c%s}} is never closed",
                    opening_sigil(section->kind), section->text);
        return NULL;
    }
    return g_steal_pointer(&root);
}

static GPtrArray *parse_template(const char *text, int first_line, GError **error)
{
    if (!g_utf8_validate(text, -1, NULL)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "template is not valid UTF-8");
        return NULL;
    }
    g_autoptr(GArray) tokens = g_array_new(FALSE, TRUE, sizeof(Token));
    g_array_set_clear_func(tokens, token_clear);
    if (!tokenize(text, first_line, tokens, error))
        return NULL;
    return build_tree(tokens, error);
}

/* ---- parsed once ---------------------------------------------------------------------------
 * Every letter renders the same few templates and the layout partial: each text is tokenized
 * once, and its tree kept (rendering only reads it). Keyed by the text itself (and the line it
 * starts on), so an edited file, being another text, is parsed anew and nothing stale is
 * served; notify/letter.c keeps the files' texts by mtime. Bounded: a process rendering ever
 * new texts (tests, pahtctl preview of edits) empties it now and then. */

#define PARSED_KEEP_MAX 128

typedef struct {
    int first_line;
    gsize len;
    char *text; /* owned by the keys in the table; borrowed by a key looked up */
} ParsedKey;

/* the first line, the length and the first and last 64 octets: enough to tell a process's
 * few templates apart without reading each whole text twice per letter (hashing it was a
 * tenth of the rendering); parsed_key_equal compares the whole texts */
static guint parsed_key_hash(gconstpointer data)
{
    const ParsedKey *key = data;
    guint h = (guint)key->first_line * 31u + (guint)key->len;
    gsize n = MIN(key->len, 64);
    for (gsize i = 0; i < n; i++)
        h = h * 31u + (guchar)key->text[i];
    for (gsize i = key->len - n; i < key->len; i++)
        h = h * 31u + (guchar)key->text[i];
    return h;
}

static gboolean parsed_key_equal(gconstpointer a, gconstpointer b)
{
    const ParsedKey *x = a, *y = b;
    return x->first_line == y->first_line && x->len == y->len &&
           memcmp(x->text, y->text, x->len) == 0;
}

static void parsed_key_free(gpointer data)
{
    ParsedKey *key = data;
    g_free(key->text);
    g_free(key);
}

static GMutex parsed_lock;
static GHashTable *parsed; /* ParsedKey * -> GPtrArray * of Node * (a reference) */

static GPtrArray *parse_template_kept(const char *text, int first_line, GError **error)
{
    ParsedKey probe = {.first_line = first_line, .len = strlen(text), .text = (char *)text};
    g_mutex_lock(&parsed_lock);
    GPtrArray *nodes = parsed ? g_hash_table_lookup(parsed, &probe) : NULL;
    if (nodes)
        g_ptr_array_ref(nodes);
    g_mutex_unlock(&parsed_lock);
    if (nodes)
        return nodes;
    nodes = parse_template(text, first_line, error);
    if (!nodes)
        return NULL;
    ParsedKey *key = g_new(ParsedKey, 1);
    *key = probe;
    key->text = g_strndup(text, probe.len);
    g_mutex_lock(&parsed_lock);
    if (!parsed)
        parsed = g_hash_table_new_full(parsed_key_hash, parsed_key_equal, parsed_key_free,
                                       (GDestroyNotify)g_ptr_array_unref);
    if (g_hash_table_size(parsed) >= PARSED_KEEP_MAX)
        g_hash_table_remove_all(parsed);
    g_hash_table_replace(parsed, key, g_ptr_array_ref(nodes));
    g_mutex_unlock(&parsed_lock);
    return nodes;
}

/* ---- rendering ------------------------------------------------------------------------------ */

typedef struct {
    GPtrArray *stack; /* JsonNode *, borrowed; the innermost context last */
    gboolean html;
    TemplatePartialLookup lookup;
    gpointer user_data;
    int partial_depth;
    /* GHashTable * (block name -> BLOCK Node *, borrowed): what the parents being rendered
     * were given, the outermost first */
    GPtrArray *overrides;
    int block_depth;
} Renderer;

static JsonNode *object_member(JsonNode *node, const char *name)
{
    if (!node || !JSON_NODE_HOLDS_OBJECT(node))
        return NULL;
    JsonObject *object = json_node_get_object(node);
    return json_object_has_member(object, name) ? json_object_get_member(object, name) : NULL;
}

/* The first part of a name is looked up from the innermost context outwards; the other parts
 * only inside what the first found (spec: "Dotted Names - Broken Chain Resolution"). */
static JsonNode *resolve(Renderer *r, char **path)
{
    if (r->stack->len == 0)
        return NULL;
    if (!path)
        return g_ptr_array_index(r->stack, r->stack->len - 1);
    JsonNode *value = NULL;
    for (guint i = r->stack->len; i-- > 0;) {
        value = object_member(g_ptr_array_index(r->stack, i), path[0]);
        if (value)
            break;
    }
    for (int i = 1; value && path[i]; i++)
        value = object_member(value, path[i]);
    return value;
}

static gboolean value_is_truthy(JsonNode *value)
{
    if (!value)
        return FALSE;
    switch (JSON_NODE_TYPE(value)) {
    case JSON_NODE_NULL:
        return FALSE;
    case JSON_NODE_ARRAY:
        return json_array_get_length(json_node_get_array(value)) > 0;
    case JSON_NODE_OBJECT:
        return TRUE;
    case JSON_NODE_VALUE:
        break;
    }
    GType type = json_node_get_value_type(value);
    if (type == G_TYPE_BOOLEAN)
        return json_node_get_boolean(value);
    if (type == G_TYPE_STRING)
        return *json_node_get_string(value) != '\0';
    if (type == G_TYPE_INT64)
        return json_node_get_int(value) != 0;
    if (type == G_TYPE_DOUBLE)
        return json_node_get_double(value) != 0.0;
    return TRUE;
}

/* the shortest decimal that reads back as the same double: 1.21 stays "1.21", 2.0 is "2" */
static char *format_double(double d)
{
    if (!isfinite(d))
        return g_strdup("");
    if (d > -9007199254740992.0 && d < 9007199254740992.0 && d == (double)(gint64)d)
        return g_strdup_printf("%" G_GINT64_FORMAT, (gint64)d);
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    for (int precision = 15; precision <= 17; precision++) {
        g_autofree char *format = g_strdup_printf("%%.%dg", precision);
        g_ascii_formatd(buf, sizeof buf, format, d);
        if (g_ascii_strtod(buf, NULL) == d)
            break;
    }
    return g_strdup(buf);
}

/* the text of a value; objects and lists have none */
static char *value_to_text(JsonNode *value)
{
    if (!value || !JSON_NODE_HOLDS_VALUE(value))
        return g_strdup("");
    GType type = json_node_get_value_type(value);
    if (type == G_TYPE_STRING) {
        const char *s = json_node_get_string(value);
        return g_utf8_make_valid(s ? s : "", -1);
    }
    if (type == G_TYPE_INT64)
        return g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(value));
    if (type == G_TYPE_DOUBLE)
        return format_double(json_node_get_double(value));
    if (type == G_TYPE_BOOLEAN)
        return g_strdup(json_node_get_boolean(value) ? "true" : "false");
    return g_strdup("");
}

static gboolean render_nodes(Renderer *r, GPtrArray *nodes, GString *out, GError **error);

/* < > & " ' as HTML 4 entities (not &apos;, which older mail readers show literally);
 * everything else, Vietnamese included, as it is */
static void append_html_escaped(GString *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        switch (*p) {
        case '<':
            g_string_append(out, "&lt;");
            break;
        case '>':
            g_string_append(out, "&gt;");
            break;
        case '&':
            g_string_append(out, "&amp;");
            break;
        case '"':
            g_string_append(out, "&quot;");
            break;
        case '\'':
            g_string_append(out, "&#39;");
            break;
        default:
            g_string_append_c(out, *p);
            break;
        }
    }
}

/* Spec: every line of a standalone partial gets the indentation of its tag. */
static char *indent_lines(const char *text, const char *indent)
{
    GString *out = g_string_new(NULL);
    gboolean at_line_start = TRUE;
    for (const char *p = text; *p; p++) {
        if (at_line_start)
            g_string_append(out, indent);
        g_string_append_c(out, *p);
        at_line_start = *p == '\n' && p[1] != '\0';
    }
    return g_string_free(out, FALSE);
}

/* The tree of the partial a {{> name}} or {{< name}} tag names, as lookup gives it, indented
 * like the tag when it stands alone (so rendering and checking share the parsed tree). NULL
 * with *error set: lookup's error, or the parse's as "partial "NAME": ..."; NULL without: no
 * such partial, which renders as nothing. */
static GPtrArray *partial_nodes(TemplatePartialLookup lookup, gpointer user_data, const Node *node,
                                GError **error)
{
    GError *local = NULL;
    g_autofree char *text = lookup(node->text, user_data, &local);
    if (local) {
        g_propagate_error(error, local);
        return NULL;
    }
    if (!text)
        return NULL;
    if (node->indent && *node->indent) {
        char *indented = indent_lines(text, node->indent);
        g_free(text);
        text = indented;
    }
    GPtrArray *nodes = parse_template_kept(text, 1, &local);
    if (!nodes) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "partial \"%s\": %s", node->text,
                    local->message);
        g_error_free(local);
    }
    return nodes;
}

/* {{> name}}, and {{< name}}: the same partial with its blocks replaced by the blocks inside
 * the tag (anything else inside a parent tag is not rendered, as the spec says) */
static gboolean render_partial(Renderer *r, Node *node, GString *out, GError **error)
{
    if (!r->lookup)
        return TRUE;
    if (r->partial_depth >= TEMPLATE_MAX_PARTIALS)
        return input_error(error, node->line, "partials nested more than %d deep",
                           TEMPLATE_MAX_PARTIALS);
    GError *local = NULL;
    g_autoptr(GPtrArray) nodes = partial_nodes(r->lookup, r->user_data, node, &local);
    if (local) {
        g_propagate_error(error, local);
        return FALSE;
    }
    if (!nodes)
        return TRUE;
    g_autoptr(GHashTable) given = NULL;
    if (node->kind == TOKEN_PARENT) {
        given = g_hash_table_new(g_str_hash, g_str_equal);
        for (guint i = 0; i < node->children->len; i++) {
            Node *child = g_ptr_array_index(node->children, i);
            if (child->kind == TOKEN_BLOCK && !g_hash_table_contains(given, child->text))
                g_hash_table_insert(given, child->text, child);
        }
        g_ptr_array_add(r->overrides, given);
    }
    r->partial_depth++;
    gboolean ok = render_nodes(r, nodes, out, error);
    r->partial_depth--;
    if (given)
        g_ptr_array_set_size(r->overrides, r->overrides->len - 1);
    return ok;
}

/* {{$name}}: what the outermost parent was given for it, else its own content. A block inside
 * what was given belongs to the template that gave it: it sees only what was given further
 * out. */
static gboolean render_block(Renderer *r, Node *node, GString *out, GError **error)
{
    if (r->block_depth >= TEMPLATE_MAX_NESTING)
        return input_error(error, node->line, "blocks nested more than %d deep",
                           TEMPLATE_MAX_NESTING);
    guint found = 0;
    Node *given = NULL;
    for (; found < r->overrides->len && !given; found++)
        given = g_hash_table_lookup(g_ptr_array_index(r->overrides, found), node->text);
    GPtrArray *all = r->overrides;
    g_autoptr(GPtrArray) outer = NULL;
    if (given) {
        outer = g_ptr_array_new();
        for (guint i = 0; i + 1 < found; i++)
            g_ptr_array_add(outer, g_ptr_array_index(all, i));
        r->overrides = outer;
    }
    r->block_depth++;
    gboolean ok = render_nodes(r, given ? given->children : node->children, out, error);
    r->block_depth--;
    r->overrides = all;
    return ok;
}

static gboolean render_section(Renderer *r, Node *node, GString *out, GError **error)
{
    JsonNode *value = resolve(r, node->path);
    gboolean truthy = value_is_truthy(value);
    if (node->kind == TOKEN_INVERTED)
        return truthy ? TRUE : render_nodes(r, node->children, out, error);
    if (!truthy)
        return TRUE;
    if (JSON_NODE_HOLDS_ARRAY(value)) {
        JsonArray *array = json_node_get_array(value);
        guint n = json_array_get_length(array);
        for (guint i = 0; i < n; i++) {
            g_ptr_array_add(r->stack, json_array_get_element(array, i));
            gboolean ok = render_nodes(r, node->children, out, error);
            g_ptr_array_set_size(r->stack, r->stack->len - 1);
            if (!ok)
                return FALSE;
        }
        return TRUE;
    }
    /* an object, a string, a number or true: rendered once with the value on top, so that
     * {{.}} names it and names it lacks are found further out */
    g_ptr_array_add(r->stack, value);
    gboolean ok = render_nodes(r, node->children, out, error);
    g_ptr_array_set_size(r->stack, r->stack->len - 1);
    return ok;
}

static gboolean render_nodes(Renderer *r, GPtrArray *nodes, GString *out, GError **error)
{
    for (guint i = 0; i < nodes->len; i++) {
        Node *node = g_ptr_array_index(nodes, i);
        switch (node->kind) {
        case TOKEN_TEXT:
            g_string_append(out, node->text);
            break;
        case TOKEN_VARIABLE:
        case TOKEN_RAW: {
            g_autofree char *text = value_to_text(resolve(r, node->path));
            if (r->html && node->kind == TOKEN_VARIABLE) {
                /* quotes matter too: a value may sit in an attribute */
                append_html_escaped(out, text);
            } else {
                g_string_append(out, text);
            }
            break;
        }
        case TOKEN_SECTION:
        case TOKEN_INVERTED:
            if (!render_section(r, node, out, error))
                return FALSE;
            break;
        case TOKEN_PARTIAL:
        case TOKEN_PARENT:
            if (!render_partial(r, node, out, error))
                return FALSE;
            break;
        case TOKEN_BLOCK:
            if (!render_block(r, node, out, error))
                return FALSE;
            break;
        default:
            break;
        }
    }
    return TRUE;
}

char *template_render_full(const char *template_text, JsonNode *context, gboolean html,
                           int first_line, TemplatePartialLookup lookup, gpointer user_data,
                           GError **error)
{
    g_return_val_if_fail(template_text != NULL, NULL);
    g_autoptr(GPtrArray) nodes = parse_template_kept(template_text, first_line, error);
    if (!nodes)
        return NULL;
    g_autoptr(GPtrArray) stack = g_ptr_array_new();
    if (context)
        g_ptr_array_add(stack, context);
    g_autoptr(GPtrArray) overrides = g_ptr_array_new();
    Renderer r = {.stack = stack,
                  .html = html,
                  .lookup = lookup,
                  .user_data = user_data,
                  .overrides = overrides};
    GString *out = g_string_sized_new(strlen(template_text) + 256);
    if (!render_nodes(&r, nodes, out, error)) {
        g_string_free(out, TRUE);
        return NULL;
    }
    return g_string_free(out, FALSE);
}

char *template_render(const char *template_text, JsonNode *context, gboolean html, GError **error)
{
    return template_render_full(template_text, context, html, 1, NULL, NULL, error);
}

/* ---- checking ------------------------------------------------------------------------------
 * Rendering reaches only the sections and partials its context opens, so a letter rendered
 * once proves little: the check walks the whole tree and reads and parses every partial it
 * names, each once. A partial that names itself again, as a recursive one may, is fine inside
 * a section (the context ends it) and an endless loop outside any: that one is an error. */

typedef struct {
    TemplatePartialLookup lookup;
    gpointer user_data;
    GHashTable *seen; /* partial names already read */
    GPtrArray *chain; /* char *: the partials being checked, the outermost first */
} Checker;

/* guard: how many partials of the chain were open when the innermost section around this
 * node was entered (0: no section yet) */
static gboolean check_nodes(Checker *c, GPtrArray *nodes, guint guard, GError **error);

static gboolean check_partial(Checker *c, Node *node, guint guard, GError **error)
{
    for (guint i = 0; i < c->chain->len; i++) {
        if (g_str_equal(g_ptr_array_index(c->chain, i), node->text)) {
            if (i >= guard)
                return input_error(error, node->line,
                                   "partial \"%s\" includes itself outside any section: it "
                                   "would never end",
                                   node->text);
            return TRUE;
        }
    }
    if (g_hash_table_contains(c->seen, node->text))
        return TRUE;
    if (c->chain->len >= TEMPLATE_MAX_PARTIALS)
        return input_error(error, node->line, "partials nested more than %d deep",
                           TEMPLATE_MAX_PARTIALS);
    g_hash_table_add(c->seen, g_strdup(node->text));
    GError *local = NULL;
    g_autoptr(GPtrArray) inner = partial_nodes(c->lookup, c->user_data, node, &local);
    if (local) {
        g_propagate_error(error, local);
        return FALSE;
    }
    if (!inner)
        return TRUE;
    g_ptr_array_add(c->chain, node->text);
    gboolean ok = check_nodes(c, inner, guard, &local);
    g_ptr_array_set_size(c->chain, c->chain->len - 1);
    if (!ok) {
        g_set_error(error, local->domain, local->code, "partial \"%s\": %s", node->text,
                    local->message);
        g_error_free(local);
    }
    return ok;
}

static gboolean check_nodes(Checker *c, GPtrArray *nodes, guint guard, GError **error)
{
    for (guint i = 0; i < nodes->len; i++) {
        Node *node = g_ptr_array_index(nodes, i);
        if ((node->kind == TOKEN_PARTIAL || node->kind == TOKEN_PARENT) && c->lookup &&
            !check_partial(c, node, guard, error))
            return FALSE;
        gboolean conditional = node->kind == TOKEN_SECTION || node->kind == TOKEN_INVERTED;
        if (node->children &&
            !check_nodes(c, node->children, conditional ? c->chain->len : guard, error))
            return FALSE;
    }
    return TRUE;
}

gboolean template_check_full(const char *template_text, int first_line,
                             TemplatePartialLookup lookup, gpointer user_data, GError **error)
{
    g_return_val_if_fail(template_text != NULL, FALSE);
    g_autoptr(GPtrArray) nodes = parse_template_kept(template_text, first_line, error);
    if (!nodes)
        return FALSE;
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GPtrArray) chain = g_ptr_array_new();
    Checker c = {.lookup = lookup, .user_data = user_data, .seen = seen, .chain = chain};
    return check_nodes(&c, nodes, 0, error);
}
