/* Thumbnails of the images citizens attach (issue 13), by libvips: JPEG, PNG, GIF, WebP and
 * the HEIC photos iPhones send, which browsers cannot show. Each is made once, on the first
 * request for it (the browser asks after the report page is served, so the page never waits
 * on an image), and kept beside the attachment it shows: att/ab/<sha256>.thumb.jpg, 0600,
 * content-addressed like the attachment. A file libvips cannot read, or will not (a type
 * outside the list, more pixels than THUMB_MAX_PIXELS), leaves att/ab/<sha256>.thumb.none
 * instead, so that it is tried once.
 *
 * Citizens' files are hostile input. libvips reads only the loaders listed here (no SVG, PDF
 * or ImageMagick: vips_block_untrusted_set blocks the rest too), the pixel count is checked on
 * the header before any pixel is decoded (a 30000x30000 PNG of a few kilobytes is 900
 * million pixels), a truncated or corrupt file is an error (fail_on), and memory is bounded:
 * no operation cache, one thread, one thumbnail at a time for the whole process. */
#include "web/web_private.h"
#include "util/util.h"

#include <string.h>
#include <unistd.h>
#include <vips/vips.h>

#define THUMB_MAX_PIXELS (64.0 * 1000 * 1000) /* a 48 MP iPhone photo, with room */
#define THUMB_SIDE       320

static const char *const readable_loaders[] = {"VipsForeignLoadJpegFile", "VipsForeignLoadPngFile",
                                               "VipsForeignLoadGifFile",  "VipsForeignLoadWebpFile",
                                               "VipsForeignLoadHeifFile", NULL};

static GMutex thumb_lock; /* one thumbnail at a time: libvips's memory is that of one image */
static gboolean vips_ready;

static gboolean thumbs_init(GError **error)
{
    if (vips_ready)
        return TRUE;
    if (VIPS_INIT("pahtweb") != 0) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_PERMANENT, "libvips: %s", vips_error_buffer());
        vips_error_clear();
        return FALSE;
    }
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_cache_set_max_files(0);
    vips_concurrency_set(1);
    vips_block_untrusted_set(TRUE);
    vips_ready = TRUE;
    return TRUE;
}

/* the error of libvips, as ours, its buffer cleared */
static gboolean vips_failed(GError **error, const char *what)
{
    g_autofree char *text = g_strstrip(g_strdup(vips_error_buffer()));
    vips_error_clear();
    g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "%s: %s", what, text);
    return FALSE;
}

char *thumbs_path(const char *attachment_path, const char *suffix)
{
    return g_strconcat(attachment_path, suffix, NULL);
}

/* whether libvips may read the file: its loader (found by the bytes, not the name) is one of
 * ours, and the image has at most THUMB_MAX_PIXELS */
static gboolean thumbs_may_read(const char *src, GError **error)
{
    const char *loader = vips_foreign_find_load(src);
    if (!loader)
        return vips_failed(error, "not an image libvips reads");
    if (!g_strv_contains(readable_loaders, loader)) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "not a photo (%s)", loader);
        return FALSE;
    }
    VipsImage *header = vips_image_new_from_file(src, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (!header)
        return vips_failed(error, "unreadable image");
    double pixels = (double)vips_image_get_width(header) * vips_image_get_height(header);
    g_object_unref(header);
    if (pixels > THUMB_MAX_PIXELS) {
        g_set_error(error, PAHT_ERROR, PAHT_ERROR_INPUT, "%.0f pixels, more than %.0f", pixels,
                    THUMB_MAX_PIXELS);
        return FALSE;
    }
    return TRUE;
}

/* the thumbnail of src as JPEG into a private temp file beside dst, then renamed onto it */
static gboolean thumbs_write(const char *src, const char *dst, GError **error)
{
    VipsImage *thumb = NULL;
    if (vips_thumbnail(src, &thumb, THUMB_SIDE, "height", THUMB_SIDE, "fail_on",
                       VIPS_FAIL_ON_TRUNCATED, NULL) != 0)
        return vips_failed(error, "thumbnail");
    void *jpeg = NULL;
    size_t len = 0;
    int rc = vips_jpegsave_buffer(thumb, &jpeg, &len, "Q", 80, "strip", TRUE, NULL);
    g_object_unref(thumb);
    if (rc != 0)
        return vips_failed(error, "thumbnail");
    gboolean ok = fs_write_file_atomic(dst, jpeg, len, error);
    g_free(jpeg);
    return ok;
}

char *thumbs_get(const char *src)
{
    g_autofree char *dst = thumbs_path(src, FS_THUMB_SUFFIX);
    g_autofree char *none = thumbs_path(src, FS_NO_THUMB_SUFFIX);
    if (g_file_test(dst, G_FILE_TEST_EXISTS))
        return g_steal_pointer(&dst);
    if (g_file_test(none, G_FILE_TEST_EXISTS))
        return NULL;
    g_mutex_lock(&thumb_lock);
    GError *error = NULL;
    /* another request may have made it while this one waited */
    gboolean ok =
        g_file_test(dst, G_FILE_TEST_EXISTS) ||
        (thumbs_init(&error) && thumbs_may_read(src, &error) && thumbs_write(src, dst, &error));
    g_mutex_unlock(&thumb_lock);
    if (ok)
        return g_steal_pointer(&dst);
    /* no file name or content in the log: the attachment is the citizen's */
    g_autofree char *base = g_path_get_basename(src);
    log_notice("no thumbnail for attachment %.12s: %s", base,
               error ? error->message : "unknown error");
    if (error && error->code == PAHT_ERROR_INPUT) {
        GError *ignored = NULL;
        if (!fs_write_file_atomic(none, "", 0, &ignored))
            g_clear_error(&ignored);
    }
    g_clear_error(&error);
    return NULL;
}

gboolean thumbs_candidate(const guchar *head, gsize len)
{
    if (http_sniff_image(head, len))
        return TRUE;
    /* HEIC/HEIF: an ISO media file whose brand is an image one */
    static const char *const brands[] = {"heic", "heix", "hevc", "heim",
                                         "heis", "mif1", "msf1", "avif"};
    if (len < 12 || memcmp(head + 4, "ftyp", 4) != 0)
        return FALSE;
    for (gsize i = 0; i < G_N_ELEMENTS(brands); i++)
        if (memcmp(head + 8, brands[i], 4) == 0)
            return TRUE;
    return FALSE;
}
