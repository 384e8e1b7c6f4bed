/* recovery: each cluster's point-in-time restore window, as xattrs.
 *
 * GetUMongoDBRecoverTimeRange tells the earliest and latest moment a
 * cluster can be restored to. It is optional for umongofs: an endpoint that
 * does not offer the action (RetCode 161) or a cluster without a window (any
 * action-specific code) just has no such xattrs. Answers are fetched lazily,
 * when a cluster's xattrs are listed or read, and kept for ttl seconds; "no
 * window" for as long, and "action not offered" for the life of the mount.
 *
 * Thread-safe: any FUSE thread may call. The call is made without the lock.
 */
#ifndef UMONGOFS_RECOVERY_H
#define UMONGOFS_RECOVERY_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"

#define RECOVERY_XATTR_EARLIEST "user.umongofs.recover_earliest"
#define RECOVERY_XATTR_LATEST   "user.umongofs.recover_latest"

/* How the module reaches the API: returns 0 with *out (freed by the module)
 * or a negative errno with err filled (api_call's contract). */
struct recovery_source {
    int (*call)(void *ctx, const char *action, const struct api_param *params, size_t n,
                cJSON **out, struct api_error *err);
    void *ctx;
};

struct recovery;

/* NULL on allocation failure. ttl: seconds an answer is trusted. */
struct recovery *recovery_new(const struct recovery_source *src, unsigned ttl);
void recovery_free(struct recovery **r);

struct recovery_cluster {
    const char *region, *zone, *cluster_id;
};

/* The window of a cluster in unix seconds. 0, or -ENODATA when there is
 * none (or the action is not offered), or -EIO when the API failed. */
int recovery_get(struct recovery *r, const struct recovery_cluster *cl, int64_t *earliest,
                 int64_t *latest);

#endif
