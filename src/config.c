/* config: where the keys come from.
 *
 * Resolves the API keys (plus project, endpoint and region) from the
 * environment, an explicit credentials file, or the provider CLI's profile
 * files, first match wins (interface.md). Files holding keys must be private
 * to the user. Every buffer that held a key is wiped before it is freed, and
 * messages name files and fields, never values. See config.h.
 */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENV_PUBLIC  "DEZAI_PUBLIC_KEY"
#define ENV_PRIVATE "DEZAI_PRIVATE_KEY"
#define ENV_PROJECT "DEZAI_PROJECT_ID"
#define ENV_API_URL "DEZAI_API_URL"

/* A credentials or profile file is a few hundred bytes; anything this big is
 * a mistake, and the cap bounds what we read and parse. */
#define CONFIG_MAX_FILE (1024 * 1024)

static void config_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* err is one line even when a path or profile name holds a newline. */
static void config_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    for (char *p = err; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

static void wipe_str(char **s)
{
    if (*s) {
        explicit_bzero(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

/* cJSON's free hook while we parse: every string and node cJSON allocated
 * (including those of a half-parsed tree it drops on a syntax error) is
 * wiped, so no walk over the tree can miss a copy of a key. */
static void wipe_free(void *p)
{
    if (p) {
        explicit_bzero(p, malloc_usable_size(p));
        free(p);
    }
}

static int set_str(char **dst, const char *src)
{
    char *s = strdup(src);

    if (!s)
        return -ENOMEM;
    wipe_str(dst);
    *dst = s;
    return 0;
}

/* Keys are single tokens: whitespace or a control character is a copy-paste
 * accident that would only show up later as a signature mismatch. */
static bool is_token(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
            return false;
    return true;
}

/* Project ids, URLs, regions and profile names end up in requests and log
 * lines, so no control characters either. */
static bool is_text(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < ' ' || *s == 0x7f)
            return false;
    return true;
}

static int check_private_stat(const char *path, const struct stat *st, char *err, size_t errlen)
{
    mode_t mode = st->st_mode & 07777;

    if (!S_ISREG(st->st_mode)) {
        config_err(err, errlen, "credentials file %s is not a regular file", path);
        return -EINVAL;
    }
    if (mode & 077) {
        config_err(err, errlen,
                   "credentials file %s is %s by others (mode %04o); run: chmod 600 %s", path,
                   (mode & 044)   ? "readable"
                   : (mode & 022) ? "writable"
                                  : "accessible",
                   (unsigned)mode, path);
        return -EACCES;
    }
    return 0;
}

/* stat, not lstat: a symlink's own mode is always 0777 and means nothing; the
 * file it points to is what gets read. read_file checks the opened file again,
 * so swapping it after this check does not help. */
int config_check_private_file(const char *path, char *err, size_t errlen)
{
    struct stat st;

    if (stat(path, &st) < 0) {
        int e = errno;
        config_err(err, errlen, "credentials file %s: %s", path, strerror(e));
        return -e;
    }
    return check_private_stat(path, &st, err, errlen);
}

/* Reads a whole (capped) file into a NUL-terminated buffer the caller wipes
 * and frees. O_NONBLOCK so a FIFO put in place of the file cannot hang us
 * before fstat rejects it. */
static int read_file(const char *path, bool private_file, char **data, size_t *len, char *err,
                     size_t errlen)
{
    struct stat st;
    char *buf = NULL;
    size_t cap = 0, got = 0;
    int fd, ret;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        ret = -errno;
        config_err(err, errlen, "cannot open %s: %s", path, strerror(-ret));
        goto out;
    }
    if (fstat(fd, &st) < 0) {
        ret = -errno;
        config_err(err, errlen, "cannot stat %s: %s", path, strerror(-ret));
        goto out;
    }
    if (private_file) {
        ret = check_private_stat(path, &st, err, errlen);
        if (ret)
            goto out;
    } else if (!S_ISREG(st.st_mode)) {
        config_err(err, errlen, "%s is not a regular file", path);
        ret = -EINVAL;
        goto out;
    }
    if (st.st_size > CONFIG_MAX_FILE) {
        config_err(err, errlen, "%s is larger than %d bytes", path, CONFIG_MAX_FILE);
        ret = -EINVAL;
        goto out;
    }
    cap = (size_t)st.st_size;
    buf = malloc(cap + 1);
    if (!buf) {
        ret = -ENOMEM;
        goto out;
    }
    while (got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ret = -errno;
            config_err(err, errlen, "cannot read %s: %s", path, strerror(-ret));
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    buf = NULL;
    ret = 0;
out:
    if (buf) {
        explicit_bzero(buf, cap + 1);
        free(buf);
    }
    if (fd >= 0)
        close(fd);
    return ret;
}

/* Parses a JSON file. The error names the file and a line, never the text. */
static int parse_file(const char *path, bool private_file, cJSON **root, char *err, size_t errlen)
{
    char *data = NULL;
    size_t len = 0;
    const char *end = NULL;
    int ret;

    *root = NULL;
    ret = read_file(path, private_file, &data, &len, err, errlen);
    if (ret)
        goto out;
    if (memchr(data, '\0', len)) {
        config_err(err, errlen, "%s is not valid JSON (it contains NUL bytes)", path);
        ret = -EINVAL;
        goto out;
    }
    /* len + 1 takes in the terminating NUL, which is how cJSON checks that
     * nothing but whitespace follows the value. */
    *root = cJSON_ParseWithLengthOpts(data, len + 1, &end, 1);
    if (!*root) {
        unsigned line = 1;
        if (end && end >= data && end <= data + len)
            for (const char *p = data; p < end; p++)
                line += *p == '\n';
        config_err(err, errlen, "%s is not valid JSON (error near line %u)", path, line);
        ret = -EINVAL;
    }
out:
    if (data) {
        explicit_bzero(data, len);
        free(data);
    }
    return ret;
}

/* A string member of obj. An optional one that is absent, null or "" gives
 * *val = NULL; a required one must be there and non-empty. A key must be a
 * single token. *val points into obj. */
static int get_string(const cJSON *obj, const char *name, bool required, bool key,
                      const char *where, const char **val, char *err, size_t errlen)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);

    *val = NULL;
    if (!it || cJSON_IsNull(it)) {
        if (!required)
            return 0;
        config_err(err, errlen, "%s: \"%s\" is missing", where, name);
        return -EINVAL;
    }
    if (!cJSON_IsString(it) || !it->valuestring) {
        config_err(err, errlen, "%s: \"%s\" is not a string", where, name);
        return -EINVAL;
    }
    if (!it->valuestring[0]) {
        if (!required)
            return 0;
        config_err(err, errlen, "%s: \"%s\" is empty", where, name);
        return -EINVAL;
    }
    if (key ? !is_token(it->valuestring) : !is_text(it->valuestring)) {
        config_err(err, errlen, "%s: \"%s\" contains %s", where, name,
                   key ? "whitespace or control characters" : "control characters");
        return -EINVAL;
    }
    *val = it->valuestring;
    return 0;
}

/* Checks that root is an array of objects that each have a string "profile"
 * (a typo is reported, not silently skipped), and finds the first entry named
 * want (if want) and the first with "active": true (if active). */
static int find_profile(const cJSON *root, const char *path, const char *want, const cJSON **entry,
                        const cJSON **active, char *err, size_t errlen)
{
    const cJSON *it;

    if (entry)
        *entry = NULL;
    if (active)
        *active = NULL;
    if (!cJSON_IsArray(root)) {
        config_err(err, errlen, "%s: expected a JSON array of profiles", path);
        return -EINVAL;
    }
    cJSON_ArrayForEach(it, root)
    {
        const cJSON *name;

        if (!cJSON_IsObject(it)) {
            config_err(err, errlen, "%s: every entry must be a JSON object", path);
            return -EINVAL;
        }
        name = cJSON_GetObjectItemCaseSensitive(it, "profile");
        if (!cJSON_IsString(name) || !name->valuestring) {
            config_err(err, errlen, "%s: an entry has no \"profile\" string", path);
            return -EINVAL;
        }
        if (entry && !*entry && want && strcmp(name->valuestring, want) == 0)
            *entry = it;
        if (active) {
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(it, "active");
            if (a && !cJSON_IsBool(a) && !cJSON_IsNull(a)) {
                config_err(err, errlen, "%s: \"active\" of profile '%s' is not true or false", path,
                           name->valuestring);
                return -EINVAL;
            }
            if (cJSON_IsTrue(a) && !*active)
                *active = it;
        }
    }
    return 0;
}

/* Fills the fields both file sources share; the values are validated. */
static int take_fields(struct credentials *c, const char *pub, const char *priv,
                       const char *project, const char *url, const char *region)
{
    int ret = set_str(&c->public_key, pub);

    if (!ret)
        ret = set_str(&c->private_key, priv);
    if (!ret && project)
        ret = set_str(&c->project_id, project);
    if (!ret && url)
        ret = set_str(&c->api_url, url);
    if (!ret && region)
        ret = set_str(&c->region, region);
    return ret;
}

/* Source 1. Empty variables count as unset; one key without the other is an
 * error rather than a silent fall-through to a file with other keys. */
static int load_env(struct credentials *c, bool *found, char *err, size_t errlen)
{
    const char *pub = getenv(ENV_PUBLIC);
    const char *priv = getenv(ENV_PRIVATE);
    bool has_pub = pub && *pub, has_priv = priv && *priv;
    int ret;

    *found = false;
    if (!has_pub && !has_priv)
        return 0;
    if (!has_pub || !has_priv) {
        config_err(err, errlen, "%s is set but %s is not; set both or neither",
                   has_pub ? ENV_PUBLIC : ENV_PRIVATE, has_pub ? ENV_PRIVATE : ENV_PUBLIC);
        return -EINVAL;
    }
    if (!is_token(pub) || !is_token(priv)) {
        config_err(err, errlen, "%s contains whitespace or control characters",
                   is_token(pub) ? ENV_PRIVATE : ENV_PUBLIC);
        return -EINVAL;
    }
    ret = take_fields(c, pub, priv, NULL, NULL, NULL);
    if (!ret)
        ret = set_str(&c->source, "environment");
    if (!ret)
        *found = true;
    return ret;
}

/* Source 2: -o credentials=FILE, one JSON object. */
static int load_file(const char *path, struct credentials *c, char *err, size_t errlen)
{
    cJSON *root = NULL;
    const char *pub, *priv, *project, *url, *region;
    char where[PATH_MAX + 32];
    int ret;

    snprintf(where, sizeof(where), "credentials file %s", path);
    ret = config_check_private_file(path, err, errlen);
    if (ret)
        goto out;
    ret = parse_file(path, true, &root, err, errlen);
    if (ret)
        goto out;
    if (!cJSON_IsObject(root)) {
        config_err(err, errlen, "%s: expected a JSON object", where);
        ret = -EINVAL;
        goto out;
    }
    if ((ret = get_string(root, "public_key", true, true, where, &pub, err, errlen)) ||
        (ret = get_string(root, "private_key", true, true, where, &priv, err, errlen)) ||
        (ret = get_string(root, "project_id", false, false, where, &project, err, errlen)) ||
        (ret = get_string(root, "base_url", false, false, where, &url, err, errlen)) ||
        (ret = get_string(root, "region", false, false, where, &region, err, errlen)))
        goto out;
    ret = take_fields(c, pub, priv, project, url, region);
    if (!ret)
        ret = set_str(&c->source, where);
out:
    cJSON_Delete(root);
    return ret;
}

/* Source 3: the provider CLI's files under home/.dezai. *found stays false
 * only when credential.json does not exist. */
static int load_profiles(const char *want, const char *home, struct credentials *c, bool *found,
                         char *err, size_t errlen)
{
    char dir[PATH_MAX], cred_path[PATH_MAX], conf_path[PATH_MAX];
    char where[PATH_MAX + 300];
    cJSON *conf = NULL, *cred = NULL;
    const cJSON *active = NULL, *conf_entry = NULL, *cred_entry = NULL;
    const char *name, *pub, *priv, *project = NULL, *url = NULL, *region = NULL;
    struct stat st;
    int ret;

    *found = false;
    if ((size_t)snprintf(dir, sizeof(dir), "%s/.dezai", home) >= sizeof(dir) ||
        (size_t)snprintf(cred_path, sizeof(cred_path), "%s/credential.json", dir) >=
            sizeof(cred_path) ||
        (size_t)snprintf(conf_path, sizeof(conf_path), "%s/config.json", dir) >=
            sizeof(conf_path)) {
        config_err(err, errlen, "home directory path is too long: %s", home);
        ret = -ENAMETOOLONG;
        goto out;
    }

    if (stat(cred_path, &st) < 0) {
        ret = -errno;
        if (ret == -ENOENT || ret == -ENOTDIR)
            ret = 0;
        else
            config_err(err, errlen, "credentials file %s: %s", cred_path, strerror(-ret));
        goto out;
    }
    ret = config_check_private_file(cred_path, err, errlen);
    if (ret)
        goto out;

    /* config.json holds no secrets and may be missing; if present it must be
     * well-formed, since it decides which keys are used. */
    ret = parse_file(conf_path, false, &conf, err, errlen);
    if (ret == -ENOENT || ret == -ENOTDIR) {
        ret = 0;
        if (err && errlen)
            err[0] = '\0';
    }
    if (ret)
        goto out;
    if (conf) {
        ret = find_profile(conf, conf_path, NULL, NULL, &active, err, errlen);
        if (ret)
            goto out;
    }
    if (want)
        name = want;
    else if (active)
        name = cJSON_GetObjectItemCaseSensitive(active, "profile")->valuestring;
    else
        name = "default";
    if (!*name || !is_text(name)) {
        config_err(err, errlen, "profile name is empty or contains control characters");
        ret = -EINVAL;
        goto out;
    }
    if (conf) {
        ret = find_profile(conf, conf_path, name, &conf_entry, NULL, err, errlen);
        if (ret)
            goto out;
    }

    ret = parse_file(cred_path, true, &cred, err, errlen);
    if (ret)
        goto out;
    ret = find_profile(cred, cred_path, name, &cred_entry, NULL, err, errlen);
    if (ret)
        goto out;
    if (!cred_entry) {
        config_err(err, errlen, "profile '%s' not found in %s", name, cred_path);
        ret = -EINVAL;
        goto out;
    }
    snprintf(where, sizeof(where), "%s, profile '%s'", cred_path, name);
    if ((ret = get_string(cred_entry, "public_key", true, true, where, &pub, err, errlen)) ||
        (ret = get_string(cred_entry, "private_key", true, true, where, &priv, err, errlen)))
        goto out;
    if (conf_entry) {
        snprintf(where, sizeof(where), "%s, profile '%s'", conf_path, name);
        if ((ret = get_string(conf_entry, "project_id", false, false, where, &project, err,
                              errlen)) ||
            (ret = get_string(conf_entry, "base_url", false, false, where, &url, err, errlen)) ||
            (ret = get_string(conf_entry, "region", false, false, where, &region, err, errlen)))
            goto out;
    }
    ret = take_fields(c, pub, priv, project, url, region);
    if (ret)
        goto out;
    snprintf(where, sizeof(where), "profile '%s' in %s", name, dir);
    ret = set_str(&c->source, where);
    if (!ret)
        *found = true;
out:
    cJSON_Delete(conf);
    cJSON_Delete(cred);
    return ret;
}

static int env_override(const char *var, char **dst, char *err, size_t errlen)
{
    const char *v = getenv(var);

    if (!v || !*v)
        return 0;
    if (!is_text(v)) {
        config_err(err, errlen, "%s contains control characters", var);
        return -EINVAL;
    }
    return set_str(dst, v);
}

int config_load_credentials(const struct config_request *req, struct credentials *out, char *err,
                            size_t errlen)
{
    static const struct config_request none;
    cJSON_Hooks hooks = {.malloc_fn = malloc, .free_fn = wipe_free};
    struct credentials c = {0};
    const char *home;
    bool found = false;
    int ret;

    if (err && errlen)
        err[0] = '\0';
    memset(out, 0, sizeof(*out));
    if (!req)
        req = &none;
    home = req->home ? req->home : getenv("HOME");
    /* Global, but config.h says this runs once from main before any thread
     * exists; every tree parsed here is deleted before the hooks go back. */
    cJSON_InitHooks(&hooks);

    ret = load_env(&c, &found, err, errlen);
    if (!ret && !found && req->credentials_file) {
        ret = load_file(req->credentials_file, &c, err, errlen);
        found = !ret;
    }
    if (!ret && !found && home && *home)
        ret = load_profiles(req->profile, home, &c, &found, err, errlen);
    if (!ret && !found) {
        char what[300];

        if (req->profile)
            snprintf(what, sizeof(what), "profile '%s'", req->profile);
        else
            snprintf(what, sizeof(what), "a profile");
        config_err(err, errlen,
                   "no credentials found: set %s and %s, pass -o credentials=FILE, or add %s to "
                   "%s/.dezai/credential.json",
                   ENV_PUBLIC, ENV_PRIVATE, what, home && *home ? home : "~");
        ret = -ENOENT;
    }
    /* DEZAI_PROJECT_ID and DEZAI_API_URL apply whatever source gave the keys:
     * interface.md lists DEZAI_API_URL as the api_url option's environment
     * form, not as part of the env keys, and the environment outranks files
     * throughout the resolution order (as AWS_REGION outranks a profile's
     * region). Explicit -o project_id= / api_url= are main's to apply on top. */
    if (!ret)
        ret = env_override(ENV_PROJECT, &c.project_id, err, errlen);
    if (!ret)
        ret = env_override(ENV_API_URL, &c.api_url, err, errlen);

    cJSON_InitHooks(NULL);
    if (ret) {
        config_credentials_clear(&c);
        if (err && errlen && !err[0])
            config_err(err, errlen, "cannot load credentials: %s", strerror(-ret));
        return ret;
    }
    *out = c;
    return 0;
}

void config_credentials_clear(struct credentials *c)
{
    if (!c)
        return;
    wipe_str(&c->public_key);
    wipe_str(&c->private_key);
    wipe_str(&c->project_id);
    wipe_str(&c->api_url);
    wipe_str(&c->region);
    wipe_str(&c->source);
    explicit_bzero(c, sizeof(*c));
}

/* The value is wiped in place before unsetenv: the strings from execve live
 * on in this process's memory and in /proc/<pid>/environ, which other
 * processes of the same user can read. Wiping a string glibc allocated for a
 * setenv() can at worst make a later setenv() of the same text allocate
 * afresh, never read freed memory. */
static void scrub_one(const char *name)
{
    char *v = getenv(name);
    if (v)
        explicit_bzero(v, strlen(v));
    unsetenv(name);
}

void config_scrub_environment(void)
{
    scrub_one(ENV_PRIVATE);
    scrub_one(ENV_PUBLIC);
}
