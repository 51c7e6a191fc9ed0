/* util's memory_tune (issue 18): a process that reads one message after another into a big
 * buffer (the parser: up to PARSE_IN_MEMORY_MAX) keeps the buffer's pages for the next one
 * instead of taking fresh, zeroed ones from the kernel each time; a buffer over its limit (a
 * video) is still given back at once. malloc's settings belong to the process, so each case
 * runs in a subprocess of its own. Whether pages were new is what the kernel counts as minor
 * page faults (getrusage); what malloc holds, mallinfo2. */
#include "util/util.h"

#include <malloc.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#define MIB          (1024 * 1024)
#define PAGES(bytes) ((long)((bytes) / 4096))

static long minor_faults(void)
{
    struct rusage ru;
    g_assert_cmpint(getrusage(RUSAGE_SELF, &ru), ==, 0);
    return ru.ru_minflt;
}

/* writes every page of a new buffer of len bytes, as reading a message into it does; returns
 * the page faults that took */
static long fill_new_buffer(gsize len, char **buffer)
{
    long before = minor_faults();
    char *b = g_malloc(len);
    memset(b, 'x', len);
    long faults = minor_faults() - before;
    /* read back, so that no compiler may leave the writes out */
    g_assert_cmpint(((volatile char *)b)[len - 1], ==, 'x');
    *buffer = b;
    return faults;
}

static gboolean skipped_under_asan(void)
{
    if (PAHT_UNDER_ASAN)
        g_test_skip("AddressSanitizer's allocator replaces glibc's: malloc's settings do nothing");
    return PAHT_UNDER_ASAN;
}

static void in_subprocess(void (*body)(void))
{
    if (g_test_subprocess()) {
        /* pages counted one by one: where transparent huge pages are "always", new heap
         * memory could come 2 MiB at a fault and the counts would say little */
        g_assert_cmpint(prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0), ==, 0);
        body();
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
}

/* the parser's case: message after message of 6 MiB, each freed before the next is read */
static void second_message_takes_no_new_pages(void)
{
    memory_tune(8 * MIB);
    char *first = NULL, *second = NULL, *third = NULL;
    long faults = fill_new_buffer(6 * MIB, &first);
    g_assert_cmpint(faults, >=, PAGES(6 * MIB) / 2); /* new memory: the count is seen working */
    g_free(first);
    /* what was freed stays with the process... */
    g_assert_cmpuint(mallinfo2().fordblks, >=, 6 * MIB);
    /* ... and the next message is read into those pages (the default thresholds: mmap'ed and
     * returned, 1,536 faults for each message) */
    g_assert_cmpint(fill_new_buffer(6 * MIB, &second), <, PAGES(6 * MIB) / 16);
    g_free(second);
    g_assert_cmpint(fill_new_buffer(5 * MIB, &third), <, PAGES(5 * MIB) / 16);
    g_free(third);
}

static void test_second_message_takes_no_new_pages(void)
{
    if (!skipped_under_asan())
        in_subprocess(second_message_takes_no_new_pages);
}

/* a buffer bigger than big_buffers (and than 16 MiB whatever big_buffers says) is mmap'ed and
 * given back to the kernel when freed: the process does not keep a video's worth of memory */
static void bigger_buffer_given_back(void)
{
    memory_tune(24 * MIB); /* more than MEMORY_BIG_BUFFERS_MAX: 16 MiB it is */
    gsize len = MEMORY_BIG_BUFFERS_MAX + 4 * MIB;
    struct mallinfo2 before = mallinfo2();
    char *big = NULL;
    fill_new_buffer(len, &big);
    g_assert_cmpuint(mallinfo2().hblkhd - before.hblkhd, >=, len); /* mmap'ed */
    g_free(big);
    g_assert_cmpuint(mallinfo2().hblkhd, ==, before.hblkhd);          /* and unmapped */
    g_assert_cmpuint(mallinfo2().fordblks, <, before.fordblks + len); /* not kept */
}

static void test_bigger_buffer_given_back(void)
{
    if (!skipped_under_asan())
        in_subprocess(bigger_buffer_given_back);
}

/* the other processes (memory_tune(0)): a buffer over 128 KB is mmap'ed and given back at
 * once, as the header says; smaller ones stay in the heap */
static void default_gives_back_over_128k(void)
{
    memory_tune(0);
    struct mallinfo2 before = mallinfo2();
    char *letter = NULL, *big = NULL;
    fill_new_buffer(64 * 1024, &letter);
    g_assert_cmpuint(mallinfo2().hblkhd, ==, before.hblkhd); /* from the heap */
    fill_new_buffer(MIB, &big);
    g_assert_cmpuint(mallinfo2().hblkhd - before.hblkhd, >=, MIB); /* mmap'ed */
    g_free(big);
    g_assert_cmpuint(mallinfo2().hblkhd, ==, before.hblkhd); /* and given back */
    g_free(letter);
}

static void test_default_gives_back_over_128k(void)
{
    if (!skipped_under_asan())
        in_subprocess(default_gives_back_over_128k);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/memory/second-message-takes-no-new-pages",
                    test_second_message_takes_no_new_pages);
    g_test_add_func("/memory/bigger-buffer-given-back", test_bigger_buffer_given_back);
    g_test_add_func("/memory/default-gives-back-over-128k", test_default_gives_back_over_128k);
    return g_test_run();
}
