/* names: turn provider display names into safe, unique directory entries.
 *
 * Pure functions, no I/O, any thread. The rules (README, "Names, attributes,
 * errors"): '/', NUL, control characters (0x01-0x1f, 0x7f) and bytes that are not valid
 * UTF-8 become '_' (one per byte); C1 controls (U+0080-U+009F), U+2028,
 * U+2029 and the direction controls (U+202A-U+202E, U+2066-U+2069) become
 * '_' (one per character); "", "." and ".." are never produced; a name is at most
 * NAMES_MAX bytes, cut on a UTF-8 character boundary. Within one directory,
 * entries whose safe names are equal (or equal a reserved name such as "oplog"
 * or "logs") each get "~ID" appended, so a name changes only when the entry is
 * renamed or a collision appears.
 */
#ifndef UMONGOFS_NAMES_H
#define UMONGOFS_NAMES_H

#include <stddef.h>

#define NAMES_MAX 255

/* Returns a malloc'd safe name for raw (NULL counts as empty). An empty raw
 * name becomes id when id is non-NULL and non-empty, else "_"; "." and ".."
 * become "_." and "_..". Caller frees. NULL only on allocation failure. */
char *names_sanitize(const char *raw, const char *id);

/* Assigns the final names of the n entries of one directory.
 * raw[i]: display name (may be NULL); ids[i]: the entry's id (non-empty).
 * reserved: NULL-terminated list of names the directory already uses for
 * itself (may be NULL). On success out[i] is a malloc'd unique name for every
 * i (caller frees each) and 0 is returned; -ENOMEM otherwise (out untouched
 * then: nothing to free). Deterministic: the same input gives the same output
 * whatever the order of entries. */
int names_assign(const char *const *raw, const char *const *ids, size_t n,
                 const char *const *reserved, char **out);

#endif
