/* When a kept queue page (web/queue_cache.c) may still be served: nothing written on its
 * connection or another, and the clock still in the minute it showed, before the next open
 * deadline falls due (a report turns overdue with nothing written). The database and the page
 * files: tests/integration/test_web_queue_cache.py and test_web_templates.py. */
#include "web/web_private.h"

/* Tuesday 2026-12-08 09:00:00 +07:00 */
#define T0 ((gint64)1796781600)

static QueueCacheStamp made_at(gint64 at, gint64 next_due)
{
    return (QueueCacheStamp){.connection = 3,
                             .version = {.data_version = 7, .own_changes = 40},
                             .at = at,
                             .valid_until = queue_cache_valid_until(at, next_due)};
}

static void test_a_page_is_true_until_the_next_minute_or_the_next_due_time(void)
{
    g_assert_cmpint(queue_cache_valid_until(T0, 0), ==, T0 + 60);
    g_assert_cmpint(queue_cache_valid_until(T0 + 59, 0), ==, T0 + 60);
    g_assert_cmpint(queue_cache_valid_until(T0 + 10, T0 + 25), ==, T0 + 25);
    /* a deadline after the minute, or already passed, changes nothing this minute */
    g_assert_cmpint(queue_cache_valid_until(T0 + 10, T0 + 3600), ==, T0 + 60);
    g_assert_cmpint(queue_cache_valid_until(T0 + 10, T0 + 10), ==, T0 + 60);
}

static void test_a_page_is_served_only_on_its_connection_unchanged_in_its_time(void)
{
    QueueCacheStamp made = made_at(T0 + 5, T0 + 30);
    QueueCacheStamp now = made;
    now.at = T0 + 29;
    g_assert_true(queue_cache_fresh(&made, &now));
    now.at = T0 + 30; /* the deadline fell due */
    g_assert_false(queue_cache_fresh(&made, &now));
    now.at = T0 + 4; /* a clock set back */
    g_assert_false(queue_cache_fresh(&made, &now));

    now = made;
    now.version.data_version++; /* another connection committed */
    g_assert_false(queue_cache_fresh(&made, &now));
    now = made;
    now.version.own_changes++; /* this connection wrote */
    g_assert_false(queue_cache_fresh(&made, &now));
    now = made;
    now.connection = 4; /* another connection's versions say nothing of this one */
    g_assert_false(queue_cache_fresh(&made, &now));

    QueueCacheStamp unknown = made_at(T0, 0);
    unknown.connection = 0;
    g_assert_false(queue_cache_fresh(&unknown, &unknown));

    made = made_at(T0 + 59, 0);
    now = made;
    now.at = T0 + 60; /* the time left shown is a minute less */
    g_assert_false(queue_cache_fresh(&made, &now));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/web/queue-cache/true-until-the-next-minute-or-due-time",
                    test_a_page_is_true_until_the_next_minute_or_the_next_due_time);
    g_test_add_func("/web/queue-cache/served-only-on-its-connection-unchanged-in-its-time",
                    test_a_page_is_served_only_on_its_connection_unchanged_in_its_time);
    return g_test_run();
}
