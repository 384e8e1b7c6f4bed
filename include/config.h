/* config: where the keys come from.
 *
 * Resolves credentials in the order interface.md gives ("first match wins"):
 * 1. environment DEZAI_PUBLIC_KEY + DEZAI_PRIVATE_KEY (+ DEZAI_PROJECT_ID,
 *    DEZAI_API_URL); 2. the file named by -o credentials=FILE; 3. the provider
 *    CLI's profile files ~/.dezai/credential.json and ~/.dezai/config.json.
 * A credentials file readable by group or others is refused.
 *
 * Called once, from main, before any thread exists. Messages for the user go
 * into err (one line, no trailing newline, never containing a key).
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
                         "credentials file /x", "profile 'p' in ~/.dezai" */
};

struct config_request {
    const char *profile;          /* -o profile=, NULL = the active profile, else "default" */
    const char *credentials_file; /* -o credentials=, NULL = none */
    const char *home;             /* $HOME to find ~/.dezai; NULL = getenv("HOME") */
};

/* 0 on success with *out filled (caller frees with config_credentials_clear);
 * -ENOENT when no source has keys, -EACCES for a file others can read,
 * -EINVAL for an unreadable/malformed file or a profile that is not there.
 * err gets one clear line in every failure case. */
int config_load_credentials(const struct config_request *req, struct credentials *out, char *err,
                            size_t errlen);

/* Wipes the keys (explicit_bzero) and frees everything; the struct is zeroed. */
void config_credentials_clear(struct credentials *c);

/* Wipes DEZAI_PRIVATE_KEY (and DEZAI_PUBLIC_KEY) in place and removes them
 * from the environment: not in /proc/<pid>/environ, not inherited. Call after
 * config_load_credentials has copied them. */
void config_scrub_environment(void);

/* 0 when path is a regular file not readable/writable by group or others,
 * -EACCES (err names the file and the chmod 600 fix) when it is, other
 * -errno when it cannot be stat'ed. */
int config_check_private_file(const char *path, char *err, size_t errlen);

#endif
