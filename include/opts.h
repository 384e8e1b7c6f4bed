/* opts: parsing of the size options (block_size=, readahead=, cache_size=,
 * cache_max=).
 *
 * Pure functions, any thread; split out of main.c so the edge cases
 * (overflow, signs, suffixes) are unit-tested.
 */
#ifndef UMONGOFS_OPTS_H
#define UMONGOFS_OPTS_H

#include <stdint.h>

/* The largest size a memory option accepts (16 GiB): far above what the
 * daemon could use, far below where arithmetic on sizes could wrap. */
#define OPTS_SIZE_MAX (UINT64_C(1) << 34)

/* The largest cache_max= (1 PiB of disk). */
#define CACHE_MAX_MAX (UINT64_C(1) << 50)

/* "2M", "512K", "1G", "1T", "1048576", also "2MiB", "2MB" and "4096B" ->
 * bytes. Only decimal digits, then at most one of K, M, G, T (either case), then an
 * optional "B" or "iB". 0 with *out set, -EINVAL for anything else (empty,
 * a sign, spaces, an unknown suffix), -ERANGE above max (checked before
 * the suffix multiplies, so no value can wrap around into range). */
int opts_parse_size(const char *s, uint64_t max, uint64_t *out);

#endif
