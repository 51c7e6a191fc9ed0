/* Private to conf/: what its files share. In order, each using only those before it:
 * keyfile.c (the GKeyFile data files), categories.c, conf.c. */
#ifndef PAHT_CONF_PRIVATE_H
#define PAHT_CONF_PRIVATE_H

#include "conf/conf.h"

G_BEGIN_DECLS

/* the file read, or NULL and PAHT_ERROR_CONFIG "PATH: why" */
GKeyFile *keyfile_load(const char *path, GError **error);
/* every key of group is one of fields; else PAHT_ERROR_CONFIG "PATH: [GROUP] KEY: unknown key" */
gboolean keyfile_keys_known(GKeyFile *kf, const char *path, const char *group,
                            const char *const *fields, gsize n_fields, GError **error);

G_END_DECLS

#endif
