/* urls: short-lived download URLs, cached per file and refreshed.
 *
 * Asks DescribeUMongoDBBackupURL for a file's URL (oplog backups with
 * Category=oplog, log packages with PackageId) and keeps it until shortly
 * before it expires, so opening the same file again, or from many threads at
 * once, costs one API call. A URL the object store refused (403) is replaced
 * on request. URLs are secrets: never logged. Thread-safe.
 */
#ifndef UMONGOFS_URLS_H
#define UMONGOFS_URLS_H

#include <stdbool.h>

#include "api.h"
#include "catalog.h"

struct urls;

struct urls_opts {
    struct api_client *api;
    unsigned ttl;  /* ValidTime asked for, seconds */
    bool intranet; /* use IntranetAddress */
};

struct urls *urls_new(const struct urls_opts *opts);
void urls_free(struct urls **u);

/* Stores a malloc'd URL for obj in *url (caller frees). When stale is the URL
 * the caller was refused with, a new one is fetched unless another thread
 * already replaced it. 0 or a negative errno from the API; -EPERM when the
 * provider refuses to hand out this object (an action-specific RetCode, logged
 * once with the ids), remembered for a few minutes without asking again. */
int urls_get(struct urls *u, const struct cat_object *obj, const char *stale, char **url);

/* Seconds before expiry at which a cached URL is no longer handed out. */
unsigned urls_margin(unsigned ttl);

#endif
