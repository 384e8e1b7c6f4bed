/* synth: a big ListUMongoDBBackup answer for the catalog's scale test and
 * benchmark. */
#ifndef UMONGOFS_TEST_SYNTH_H
#define UMONGOFS_TEST_SYNTH_H

#include <stdbool.h>
#include <stddef.h>

/* The JSON text of n backups "listing-<i>.tar.gz" with ids
 * "<id_prefix><gen>-<i>" (shaped like make_world.py --bench --many), with a
 * TotalCount when asked. malloc'd; NULL when out of memory. */
char *synth_listing(size_t n, unsigned gen, const char *id_prefix, bool total);

#endif
