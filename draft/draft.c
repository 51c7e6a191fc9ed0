/* The draft: what parse makes of one message, before the store turns it into a report. */
#include "draft/draft.h"

Draft *draft_new(void)
{
    Draft *d = g_new0(Draft, 1);
    d->references = g_ptr_array_new_with_free_func(g_free);
    d->recipients = g_ptr_array_new_with_free_func(g_free);
    d->attachments = g_ptr_array_new_with_free_func((GDestroyNotify)draft_attachment_free);
    d->warnings = g_ptr_array_new_with_free_func(g_free);
    return d;
}

void draft_attachment_free(DraftAttachment *a)
{
    if (!a)
        return;
    g_free(a->filename);
    g_free(a->content_type);
    g_free(a->kind);
    g_free(a->content_id);
    g_free(a->sha256);
    g_free(a->path);
    g_free(a);
}

static void citizen_clear(DraftCitizen *c)
{
    g_free(c->name);
    g_free(c->address);
    g_free(c->id_number);
    g_free(c->phone);
    g_free(c->email);
}

void draft_free(Draft *d)
{
    if (!d)
        return;
    g_free(d->message_id);
    g_free(d->in_reply_to);
    g_ptr_array_unref(d->references);
    g_free(d->subject);
    g_free(d->from_name);
    g_free(d->from_address);
    g_free(d->reply_to_address);
    g_free(d->return_path);
    g_ptr_array_unref(d->recipients);
    g_free(d->text);
    g_free(d->quoted_text);
    g_free(d->classification);
    g_free(d->rule);
    citizen_clear(&d->citizen);
    g_free(d->location.text);
    g_free(d->occurred_at);
    g_free(d->rating);
    g_free(d->dsn_original_message_id);
    g_free(d->dsn_status);
    g_free(d->dsn_recipient);
    g_free(d->dsn_diagnostic);
    g_free(d->auth_dmarc);
    g_free(d->auth_results);
    g_free(d->auth_dkim_pass);
    g_free(d->spam_status);
    g_ptr_array_unref(d->attachments);
    g_ptr_array_unref(d->warnings);
    g_free(d);
}

/* Điều 4.2-4.3: name, contact address, citizen ID, phone; and where it happened. E-mail is
 * never missing: the sender's address is the fallback. */
static const char *const field_names[] = {"name",  "address",  "id_number",
                                          "phone", "location", NULL};

const char *const *draft_field_names(void)
{
    return field_names;
}

char **draft_missing_fields(const Draft *d)
{
    GPtrArray *missing = g_ptr_array_new();
    const char *const values[G_N_ELEMENTS(field_names) - 1] = {
        d->citizen.name,
        d->citizen.address,
        d->citizen.id_number,
        d->citizen.phone,
        d->location.text ? d->location.text : (d->location.has_coordinates ? "gps" : NULL),
    };
    for (gsize i = 0; i < G_N_ELEMENTS(values); i++) {
        if (!values[i] || !*values[i])
            g_ptr_array_add(missing, g_strdup(field_names[i]));
    }
    g_ptr_array_add(missing, NULL);
    return (char **)g_ptr_array_free(missing, FALSE);
}
