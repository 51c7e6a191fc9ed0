/* parse: what an attachment is, from its first bytes, its declared type and its name.
 *
 * Declared types lie (phones send HEIC as application/octet-stream, malware sends programs as
 * image/jpeg), so the bytes decide when they are recognised; the declared type otherwise.
 * Executables and scripts are flagged "dangerous" by their magic or their extension (the last
 * one counts: "anh.jpg.exe" is a program); the gateway never opens them. */
#include "parse/parse_private.h"

#include <string.h>

static gboolean has(const guchar *head, gsize len, gsize offset, const char *magic, gsize n)
{
    return len >= offset + n && memcmp(head + offset, magic, n) == 0;
}

/* bounded search in the sniffed head */
static gboolean head_contains(const guchar *head, gsize len, const char *needle)
{
    gsize n = strlen(needle);
    if (n == 0 || len < n)
        return FALSE;
    for (gsize i = 0; i + n <= len; i++) {
        if (head[i] == (guchar)needle[0] && memcmp(head + i, needle, n) == 0)
            return TRUE;
    }
    return FALSE;
}

static void set(SniffResult *out, const char *type, const char *kind)
{
    out->content_type = type;
    out->kind = kind;
}

/* ISO base media (MP4, MOV, 3GP, HEIF): "ftyp" box at offset 4, brand at 8 */
static gboolean sniff_ftyp(const guchar *head, gsize len, SniffResult *out)
{
    if (!has(head, len, 4, "ftyp", 4) || len < 12)
        return FALSE;
    char brand[5] = {0};
    memcpy(brand, head + 8, 4);
    static const char *const heic[] = {"heic", "heix", "hevc", "hevx", "heim", "heis", NULL};
    static const char *const heif[] = {"mif1", "msf1", "heif", NULL};
    for (const char *const *b = heic; *b; b++) {
        if (strcmp(brand, *b) == 0) {
            set(out, "image/heic", "image");
            return TRUE;
        }
    }
    for (const char *const *b = heif; *b; b++) {
        if (strcmp(brand, *b) == 0) {
            set(out, "image/heif", "image");
            return TRUE;
        }
    }
    if (strcmp(brand, "avif") == 0 || strcmp(brand, "avis") == 0) {
        set(out, "image/avif", "image");
        return TRUE;
    }
    if (strcmp(brand, "M4A ") == 0 || strcmp(brand, "M4B ") == 0 || strcmp(brand, "M4P ") == 0) {
        set(out, "audio/mp4", "audio");
        return TRUE;
    }
    if (strcmp(brand, "qt  ") == 0) {
        set(out, "video/quicktime", "video");
        return TRUE;
    }
    if (g_str_has_prefix(brand, "3gp") || g_str_has_prefix(brand, "3ge") ||
        g_str_has_prefix(brand, "3gs")) {
        set(out, "video/3gpp", "video");
        return TRUE;
    }
    if (g_str_has_prefix(brand, "3g2")) {
        set(out, "video/3gpp2", "video");
        return TRUE;
    }
    /* isom, iso2, mp41, mp42, avc1, M4V, dash, MSNV...: MP4 video */
    set(out, "video/mp4", "video");
    return TRUE;
}

static gboolean sniff_zip(const guchar *head, gsize len, SniffResult *out)
{
    if (!has(head, len, 0, "PK\x03\x04", 4))
        return FALSE;
    /* the first entry's name starts at offset 30 */
    if (has(head, len, 30, "mimetypeapplication/vnd.oasis.opendocument.", 43)) {
        set(out, "application/vnd.oasis.opendocument", "document");
        if (has(head, len, 73, "text", 4))
            out->content_type = "application/vnd.oasis.opendocument.text";
        else if (has(head, len, 73, "spreadsheet", 11))
            out->content_type = "application/vnd.oasis.opendocument.spreadsheet";
        else if (has(head, len, 73, "presentation", 12))
            out->content_type = "application/vnd.oasis.opendocument.presentation";
        return TRUE;
    }
    if (has(head, len, 30, "META-INF/", 9) || head_contains(head, len, "AndroidManifest.xml") ||
        head_contains(head, len, "classes.dex")) {
        /* Java archive or Android package: programs */
        set(out, "application/java-archive", "other");
        out->executable = TRUE;
        return TRUE;
    }
    if (head_contains(head, len, "word/")) {
        set(out, "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "document");
        return TRUE;
    }
    if (head_contains(head, len, "xl/")) {
        set(out, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "document");
        return TRUE;
    }
    if (head_contains(head, len, "ppt/")) {
        set(out, "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "document");
        return TRUE;
    }
    set(out, "application/zip", "other");
    return TRUE;
}

static gboolean looks_like_text(const guchar *head, gsize len)
{
    if (len == 0 || memchr(head, 0, len))
        return FALSE;
    const char *end = NULL;
    if (g_utf8_validate((const char *)head, (gssize)len, &end))
        return TRUE;
    /* the head may cut a character in two */
    return (gsize)(end - (const char *)head) + 4 > len;
}

void sniff_content(const guchar *head, gsize len, SniffResult *out)
{
    memset(out, 0, sizeof *out);
    if (len == 0)
        return;
    if (has(head, len, 0, "#!AMR", 5)) {
        set(out, "audio/amr", "audio");
        return;
    }
    /* programs */
    if (has(head, len, 0, "MZ", 2) ||
        has(head, len, 0,
            "\x7f"
            "ELF",
            4) ||
        has(head, len, 0, "\xfe\xed\xfa\xce", 4) || has(head, len, 0, "\xfe\xed\xfa\xcf", 4) ||
        has(head, len, 0, "\xce\xfa\xed\xfe", 4) || has(head, len, 0, "\xcf\xfa\xed\xfe", 4) ||
        has(head, len, 0, "\xca\xfe\xba\xbe", 4)) {
        set(out, "application/octet-stream", "other");
        out->executable = TRUE;
        return;
    }
    if (has(head, len, 0, "#!", 2)) {
        set(out, "text/x-script", "other");
        out->executable = TRUE;
        return;
    }
    /* images */
    if (has(head, len, 0, "\xff\xd8\xff", 3)) {
        set(out, "image/jpeg", "image");
        return;
    }
    if (has(head, len, 0, "\x89PNG\r\n\x1a\n", 8)) {
        set(out, "image/png", "image");
        return;
    }
    if (has(head, len, 0, "GIF87a", 6) || has(head, len, 0, "GIF89a", 6)) {
        set(out, "image/gif", "image");
        return;
    }
    if (has(head, len, 0, "RIFF", 4) && has(head, len, 8, "WEBP", 4)) {
        set(out, "image/webp", "image");
        return;
    }
    if (sniff_ftyp(head, len, out))
        return;
    /* video */
    if (has(head, len, 0, "RIFF", 4) && has(head, len, 8, "AVI ", 4)) {
        set(out, "video/x-msvideo", "video");
        return;
    }
    if (has(head, len, 0, "\x1a\x45\xdf\xa3", 4)) {
        if (head_contains(head, len, "webm")) {
            set(out, "video/webm", "video");
            return;
        }
        {
            set(out, "video/x-matroska", "video");
            return;
        }
    }
    /* audio */
    if (has(head, len, 0, "RIFF", 4) && has(head, len, 8, "WAVE", 4)) {
        set(out, "audio/wav", "audio");
        return;
    }
    if (has(head, len, 0, "OggS", 4)) {
        set(out, "audio/ogg", "audio");
        return;
    }
    if (has(head, len, 0, "ID3", 3) || (len >= 2 && head[0] == 0xff && (head[1] & 0xe0) == 0xe0)) {
        set(out, "audio/mpeg", "audio");
        return;
    }
    /* documents */
    if (has(head, len, 0, "%PDF-", 5)) {
        set(out, "application/pdf", "document");
        return;
    }
    if (has(head, len, 0, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8)) {
        set(out, "application/x-ole-storage", "document");
        return;
    } /* .doc .xls .ppt */
    if (has(head, len, 0, "{\\rtf", 5)) {
        set(out, "application/rtf", "document");
        return;
    }
    if (sniff_zip(head, len, out))
        return;
    if (looks_like_text(head, len))
        out->kind = "document"; /* plain text; the declared type says which */
}

const char *kind_from_content_type(const char *type)
{
    if (!type)
        return NULL;
    if (g_str_has_prefix(type, "image/"))
        return "image";
    if (g_str_has_prefix(type, "video/"))
        return "video";
    if (g_str_has_prefix(type, "audio/"))
        return "audio";
    static const char *const documents[] = {"application/pdf",
                                            "application/msword",
                                            "application/vnd.ms-",
                                            "application/vnd.openxmlformats-officedocument.",
                                            "application/vnd.oasis.opendocument",
                                            "application/rtf",
                                            "text/",
                                            NULL};
    for (const char *const *d = documents; *d; d++) {
        if (g_str_has_prefix(type, *d))
            return "document";
    }
    return NULL;
}

const char *extension_for_content_type(const char *type)
{
    static const struct {
        const char *type, *ext;
    } table[] = {
        {"image/jpeg", ".jpg"},
        {"image/pjpeg", ".jpg"},
        {"image/png", ".png"},
        {"image/gif", ".gif"},
        {"image/webp", ".webp"},
        {"image/heic", ".heic"},
        {"image/heif", ".heif"},
        {"image/avif", ".avif"},
        {"image/bmp", ".bmp"},
        {"image/tiff", ".tif"},
        {"video/mp4", ".mp4"},
        {"video/quicktime", ".mov"},
        {"video/3gpp", ".3gp"},
        {"video/3gpp2", ".3g2"},
        {"video/x-msvideo", ".avi"},
        {"video/webm", ".webm"},
        {"video/x-matroska", ".mkv"},
        {"audio/mpeg", ".mp3"},
        {"audio/mp4", ".m4a"},
        {"audio/x-m4a", ".m4a"},
        {"audio/amr", ".amr"},
        {"audio/wav", ".wav"},
        {"audio/x-wav", ".wav"},
        {"audio/ogg", ".ogg"},
        {"audio/aac", ".aac"},
        {"application/pdf", ".pdf"},
        {"application/msword", ".doc"},
        {"application/vnd.ms-excel", ".xls"},
        {"application/vnd.ms-powerpoint", ".ppt"},
        {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"},
        {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"},
        {"application/vnd.openxmlformats-officedocument.presentationml.presentation", ".pptx"},
        {"application/vnd.oasis.opendocument.text", ".odt"},
        {"application/vnd.oasis.opendocument.spreadsheet", ".ods"},
        {"application/vnd.oasis.opendocument.presentation", ".odp"},
        {"application/rtf", ".rtf"},
        {"application/zip", ".zip"},
        {"text/plain", ".txt"},
        {"text/html", ".html"},
        {"text/calendar", ".ics"},
        {"text/csv", ".csv"},
        {"text/rfc822-headers", ".txt"},
        {"message/rfc822", ".eml"},
        {"message/global", ".eml"},
        {"message/delivery-status", ".txt"},
        {"application/ms-tnef", ".dat"},
        {"application/vnd.ms-tnef", ".dat"},
        {"application/pgp-signature", ".asc"},
        {"application/pkcs7-signature", ".p7s"},
    };
    if (type) {
        for (gsize i = 0; i < G_N_ELEMENTS(table); i++) {
            if (strcmp(type, table[i].type) == 0)
                return table[i].ext;
        }
    }
    return ".bin";
}

gboolean filename_is_dangerous(const char *filename)
{
    static const char *const extensions[] = {
        "exe", "com", "bat", "cmd", "scr",    "pif",         "js",   "jse",  "vbs",  "vbe", "wsf",
        "wsh", "ps1", "sh",  "jar", "msi",    "apk",         "lnk",  "hta",  "dll",  "cpl", "msc",
        "reg", "scf", "vb",  "ws",  "gadget", "application", "appx", "msix", "xbap", NULL};
    if (!filename)
        return FALSE;
    const char *dot = strrchr(filename, '.');
    if (!dot || !dot[1])
        return FALSE;
    for (const char *const *e = extensions; *e; e++) {
        if (g_ascii_strcasecmp(dot + 1, *e) == 0)
            return TRUE;
    }
    return FALSE;
}

gboolean content_type_is_dangerous(const char *type)
{
    static const char *const types[] = {"application/x-msdownload",
                                        "application/x-msdos-program",
                                        "application/x-dosexec",
                                        "application/x-executable",
                                        "application/x-sharedlib",
                                        "application/x-sh",
                                        "application/x-shellscript",
                                        "text/x-shellscript",
                                        "application/javascript",
                                        "text/javascript",
                                        "application/x-javascript",
                                        "application/java-archive",
                                        "application/x-java-archive",
                                        "application/vnd.android.package-archive",
                                        "application/x-ms-shortcut",
                                        "application/hta",
                                        "application/x-msi",
                                        "application/x-ms-installer",
                                        "application/vnd.microsoft.portable-executable",
                                        "text/vbscript",
                                        "application/x-vbscript",
                                        "text/x-script",
                                        NULL};
    if (!type)
        return FALSE;
    for (const char *const *t = types; *t; t++) {
        if (strcmp(type, *t) == 0)
            return TRUE;
    }
    return FALSE;
}
