/* config: where the keys come from.
 *
 * Resolves credentials in the order the README gives ("first match wins"):
 * 1. environment DEZAI_PUBLIC_KEY + DEZAI_PRIVATE_KEY;
 * 2. environment UCLOUD_PUBLIC_KEY + UCLOUD_PRIVATE_KEY (the upstream SDK's);
 *    for either pair, one variable without the other is an error;
 * 3. the file named by -o credentials=FILE, one JSON object;
 * 4. the profile files ~/.dezai/credential.json + ~/.dezai/config.json, or,
 *    where ~/.dezai holds no keys, upstream's ~/.ucloud/credential.json +
 *    ~/.ucloud/config.json (same shape). Both files are arrays of profile
 *    objects, the last entry of a repeated name wins; a config.json that is a
 *    single object (upstream CLI before 0.1.8) is one active profile named by
 *    its "profile" field, else "default", and holds the keys itself when
 *    there is no credential.json. The profile: the request's, else
 *    DEZAI_PROFILE, else UCLOUD_PROFILE, else the one marked "active": true,
 *    else "default". A sign-in (OAuth) profile without keys is refused with
 *    a message saying how to get keys.
 * Whatever gave the keys, DEZAI_PROJECT_ID (else UCLOUD_PROJECT_ID) and
 * DEZAI_API_URL (else UCLOUD_API_BASE_URL) override the project and endpoint.
 *
 * Every file read, and the directory holding it, must be owned by the user
 * or root and not writable by group or others (a sticky world-writable
 * directory such as /tmp is accepted for -o credentials=FILE); files holding
 * keys must not be readable by group or others either (see trust.h).
 *
 * Called once, from main, before any thread exists. Messages for the user go
 * into err (one line, no trailing newline, never containing a key or token).
 */
#ifndef UMONGOFS_CONFIG_H
#define UMONGOFS_CONFIG_H

#include <stddef.h>

struct credentials {
    char *public_key;
    char *private_key;
    char *project_id; /* NULL when none was found */
    char *api_url;    /* NULL when no source named one (env or profile base_url) */
    char *region;     /* profile's default region, NULL if none (informational) */
    char *source;     /* where the keys came from, for messages: "environment",
                         "credentials file /x", "profile 'p' in /home/u/.dezai" */
    char *profile;    /* the profile whose keys these are; NULL when the keys came
                         from the environment or a credentials file */
    /* The profile's timeout_sec and max_retry_times, defaults for -o timeout=
     * and -o retries= when the user gave neither. Set by a successful load:
     * 0 and -1 mean the profile has none (or none in range). */
    int timeout_sec;
    int max_retry_times;
};

struct config_request {
    const char *profile;          /* -o profile= or fstab SOURCE; NULL = from the environment,
                                     else the active profile, else "default" */
    const char *credentials_file; /* -o credentials=, NULL = none */
    const char *home;             /* $HOME for the profile directories; NULL = getenv("HOME") */
};

/* 0 on success with *out filled (caller frees with config_credentials_clear);
 * -ENOENT when no source has keys, -EACCES for a file or directory that is
 * not trusted, -EINVAL for an unreadable/malformed file, a sign-in profile
 * or a profile that is not there. err gets one clear line in every failure
 * case. */
int config_load_credentials(const struct config_request *req, struct credentials *out, char *err,
                            size_t errlen);

/* Wipes the keys (explicit_bzero) and frees everything; the struct is zeroed. */
void config_credentials_clear(struct credentials *c);

/* Wipes DEZAI_PRIVATE_KEY, DEZAI_PUBLIC_KEY, UCLOUD_PRIVATE_KEY and
 * UCLOUD_PUBLIC_KEY in place and removes them from the environment: not in
 * /proc/<pid>/environ, not inherited. Call after config_load_credentials has
 * copied them. */
void config_scrub_environment(void);

/* 0 when path is a file trust_open accepts as -o credentials=FILE: a regular
 * file private to its owner (the user or root), in a directory others cannot
 * write to (or a sticky one). -EACCES (err names the file or directory and
 * the fix) when it is not, -EINVAL when it is not a regular file, other
 * -errno when it cannot be opened. */
int config_check_private_file(const char *path, char *err, size_t errlen);

#endif
