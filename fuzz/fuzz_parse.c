/* libFuzzer target over the whole parse step (SPEC §8: hostile input gets a clear error and a
 * safe state, never a crash): bytes -> parse_message_file -> Draft, every step included
 * (headers, body and charsets, HTML, quotes, attachments and winmail.dat, DSN, fields with
 * the EXIF reader, keyword classification). Built with -fsanitize=fuzzer,address,undefined
 * (cmake -DPAHT_FUZZ=ON with clang; tools/fuzz.sh SECONDS builds and runs it, seeded with the
 * fixture mails of tests/mail). */
#include <glib.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "parse/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *attachments_dir;
static char message_path[64];
static int message_fd = -1;

static void setup(void)
{
    parse_init();
    attachments_dir = g_dir_make_tmp("paht-fuzz-XXXXXX", NULL);
    g_assert(attachments_dir);
    /* parse reads a file: an in-memory one, rewritten for each input */
    message_fd = memfd_create("paht-fuzz-message", MFD_CLOEXEC);
    g_assert(message_fd >= 0);
    g_snprintf(message_path, sizeof message_path, "/proc/self/fd/%d", message_fd);
}

/* the input is also "our letter": the comparison of a quote with our letters (quote.c) and
 * the reading of a letter (content.c) get the hostile bytes too */
static gboolean fuzz_letters(const Draft *headers, GPtrArray **letters_out, gpointer data,
                             GError **error)
{
    *letters_out = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    g_ptr_array_add(*letters_out, g_bytes_ref(data));
    return TRUE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (message_fd < 0)
        setup();
    if (ftruncate(message_fd, 0) != 0)
        return 0;
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(message_fd, data + done, size - done, (off_t)done);
        if (n <= 0)
            return 0;
        done += (size_t)n;
    }
    g_autoptr(GBytes) letter = g_bytes_new_static(data, size);
    ParseOptions opts = {
        .attachments_dir = attachments_dir,
        .our_address = "paht@soctrang.gov.vn",
        .code_prefix = "PAHT",
        .our_letters = fuzz_letters,
        .our_letters_data = letter,
    };
    GError *error = NULL;
    Draft *draft = parse_message_file(message_path, &opts, &error);
    if (!draft) {
        /* refusing is fine; refusing without saying why is not */
        g_assert(error != NULL && error->message != NULL);
        g_error_free(error);
        return 0;
    }
    g_assert(error == NULL);
    g_assert(draft->text != NULL && g_utf8_validate(draft->text, -1, NULL));
    g_assert(draft->classification != NULL && draft->rule != NULL);
    for (guint i = 0; i < draft->attachments->len; i++) {
        DraftAttachment *a = g_ptr_array_index(draft->attachments, i);
        g_assert(a->filename && *a->filename && !strchr(a->filename, '/'));
        unlink(a->path);
    }
    draft_free(draft);
    return 0;
}
