/* When a kept queue page (web/queue_cache.c) may still be served: nothing written on its
 * connection or another, and the clock still in the minute it showed, before the next open
 * deadline falls due (a report turns overdue with nothing written); and that a kept page goes
 * when its session ends or its time is past. The database and the page files:
 * tests/integration/test_web_queue_cache.py and test_web_templates.py. */
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

/* a page kept for session at at, as server.c keeps one: key, session and stamp */
static void keep_page(gint64 session, const char *key, gint64 at)
{
    ConsoleSession s = {.id = session, .user_id = 1};
    Request req = {.session = &s, .pages_read = g_array_new(FALSE, TRUE, sizeof(PageStamp))};
    Response res = {.status = 200, .body = g_bytes_new_static("<p>Nguyễn Văn A</p>", 22)};
    QueueCacheStamp made = made_at(at, 0);
    queue_cache_keep(&req, &res, key, &made);
    g_assert_null(req.pages_read); /* the page took them */
    g_bytes_unref(res.body);
}

/* A kept page holds what an operator saw: it goes with its session, and once past its time,
 * rather than staying in memory until the cache fills */
static void test_a_page_goes_with_its_session_or_its_time(void)
{
    keep_page(5, "5/1/a", T0);
    keep_page(5, "5/1/b", T0 + 1);
    keep_page(6, "6/2/a", T0 + 2);
    g_assert_cmpuint(queue_cache_kept(5), ==, 2);
    g_assert_cmpuint(queue_cache_kept(6), ==, 1);

    queue_cache_forget(5, T0 + 3); /* session 5 ended: a logout, say */
    g_assert_cmpuint(queue_cache_kept(5), ==, 0);
    g_assert_cmpuint(queue_cache_kept(6), ==, 1);
    queue_cache_forget(0, T0 + 3); /* no session named, and nothing past its time */
    g_assert_cmpuint(queue_cache_kept(6), ==, 1);

    /* session 6's page was true until T0 + 60: the next page kept after that drops it */
    keep_page(7, "7/3/a", T0 + 59);
    g_assert_cmpuint(queue_cache_kept(6), ==, 1);
    keep_page(7, "7/3/b", T0 + 60);
    g_assert_cmpuint(queue_cache_kept(6), ==, 0);
    g_assert_cmpuint(queue_cache_kept(7), ==, 1); /* 7/3/a was true until T0 + 60 too */
    g_assert_cmpuint(queue_cache_kept(0), ==, 1);
    queue_cache_forget(7, T0 + 61);
    g_assert_cmpuint(queue_cache_kept(0), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/web/queue-cache/true-until-the-next-minute-or-due-time",
                    test_a_page_is_true_until_the_next_minute_or_the_next_due_time);
    g_test_add_func("/web/queue-cache/served-only-on-its-connection-unchanged-in-its-time",
                    test_a_page_is_served_only_on_its_connection_unchanged_in_its_time);
    g_test_add_func("/web/queue-cache/a-page-goes-with-its-session-or-its-time",
                    test_a_page_goes_with_its_session_or_its_time);
    return g_test_run();
}
