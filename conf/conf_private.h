/* Private to conf/: what its files share. In order, each using only those before it:
 * keyfile.c (the GKeyFile data files), categories.c, conf.c. */
#ifndef PAHT_CONF_PRIVATE_H
#define PAHT_CONF_PRIVATE_H

#include "conf/conf.h"

G_BEGIN_DECLS

/* The bytes of the file at path, as the configuration from reads it: from its snapshot when
 * it was loaded from one, else from the disk, kept in from->sources. from may be NULL (the
 * disk, nothing kept). NULL and a PAHT_ERROR_CONFIG error naming the file on failure. */
GBytes *conf_source(Config *from, const char *path, GError **error);
/* the file read (conf_source), or NULL and PAHT_ERROR_CONFIG "PATH: why" */
GKeyFile *keyfile_load(Config *from, const char *path, GError **error);
/* every key of group is one of fields; else PAHT_ERROR_CONFIG "PATH: [GROUP] KEY: unknown key" */
/* categories_load, its file read as from reads them (conf_source) */
GPtrArray *categories_read(Config *from, const char *path, const GPtrArray *agencies,
                           GError **error);
gboolean keyfile_keys_known(GKeyFile *kf, const char *path, const char *group,
                            const char *const *fields, gsize n_fields, GError **error);

G_END_DECLS

#endif
