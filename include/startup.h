/* startup: is the API usable with these keys, before anything is mounted?
 *
 * Wrong keys, a dead endpoint or a wrong project must fail the mount within
 * seconds with one line on stderr (what is wrong, what to fix) rather than
 * give a mount whose every listing fails. Called from main only, before any
 * thread exists.
 */
#ifndef UMONGOFS_STARTUP_H
#define UMONGOFS_STARTUP_H

#include <cjson/cJSON.h>

#include "api.h"

/* GetRegion proves the keys and the endpoint; one ListUMongoDBInstances in
 * the first region the mount will show (wanted: the regions= list, NULL =
 * all) proves the project and the keys' rights on the backup service. 0
 * with *regions_answer (GetRegion's answer, the caller deletes it), or -1
 * after printing the one line on stderr. source names where the keys came
 * from, for that line. */
int startup_check_api(const struct api_opts *base, const char *source, char *const *wanted,
                      cJSON **regions_answer);

/* Logs a warning for each region of wanted the account does not have
 * (most likely a typo), naming the ones it has. */
void startup_warn_unknown_regions(char *const *wanted, const cJSON *answer);

#endif
