/* config: where the keys come from.
 *
 * Resolves the API keys (plus project, endpoint, region and request
 * defaults) from the environment, an explicit credentials file, or the
 * provider CLI's profile files, first match wins (README, "Credentials").
 * Every file is opened through trust.c, so nothing another user could have
 * written decides the keys or the endpoint. Every buffer that held a key is
 * wiped before it is freed, and messages name files and fields, never
 * values. See config.h.
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

#include "trust.h"

#define ENV_PUBLIC  "DEZAI_PUBLIC_KEY"
#define ENV_PRIVATE "DEZAI_PRIVATE_KEY"

/* Ours first, then the upstream SDK's names, which users of its tools may
 * already have set; each pair follows the same "both or neither" rule. */
static const struct env_pair {
    const char *pub, *priv, *source;
} env_pairs[] = {
    {ENV_PUBLIC, ENV_PRIVATE, "environment"},
    {"UCLOUD_PUBLIC_KEY", "UCLOUD_PRIVATE_KEY", "environment (UCLOUD_PUBLIC_KEY)"},
};

/* Profile directories under $HOME: ours, then upstream's CLI's (same
 * shape), used only where ours has no keys. */
static const char *const profile_dirs[] = {".dezai", ".ucloud"};

/* A credentials or profile file is a few hundred bytes; anything this big is
 * a mistake, and the cap bounds what we read and parse. */
#define CONFIG_MAX_FILE (1024 * 1024)

/* Bounds for the request defaults a profile may carry; outside them the
 * value is ignored, as an explicit option can still set anything. */
#define TIMEOUT_MAX 3600
#define RETRIES_MAX 100

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

static void clear_err(char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
}

/* Reads a whole (capped) file that trust.c let us open into a
 * NUL-terminated buffer the caller wipes and frees. */
static int read_file(const char *path, const char *what, unsigned flags, char **data, size_t *len,
                     mode_t *mode, char *err, size_t errlen)
{
    struct stat st;
    char *buf = NULL;
    size_t cap = 0, got = 0;
    int fd, ret;

    fd = trust_open(path, what, flags, &st, err, errlen);
    if (fd < 0)
        return fd;
    if (st.st_size > CONFIG_MAX_FILE) {
        trust_err(err, errlen, "%s is larger than %d bytes", path, CONFIG_MAX_FILE);
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
            trust_err(err, errlen, "cannot read %s: %s", path, strerror(-ret));
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    *mode = st.st_mode;
    buf = NULL;
    ret = 0;
out:
    if (buf) {
        explicit_bzero(buf, cap + 1);
        free(buf);
    }
    close(fd);
    return ret;
}

/* Parses a JSON file. The error names the file and a line, never the text. */
static int parse_file(const char *path, const char *what, unsigned flags, cJSON **root,
                      mode_t *mode, char *err, size_t errlen)
{
    char *data = NULL;
    size_t len = 0;
    const char *end = NULL;
    int ret;

    *root = NULL;
    ret = read_file(path, what, flags, &data, &len, mode, err, errlen);
    if (ret)
        goto out;
    if (memchr(data, '\0', len)) {
        trust_err(err, errlen, "%s is not valid JSON (it contains NUL bytes)", path);
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
        trust_err(err, errlen, "%s is not valid JSON (error near line %u)", path, line);
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
        trust_err(err, errlen, "%s: \"%s\" is missing", where, name);
        return -EINVAL;
    }
    if (!cJSON_IsString(it) || !it->valuestring) {
        trust_err(err, errlen, "%s: \"%s\" is not a string", where, name);
        return -EINVAL;
    }
    if (!it->valuestring[0]) {
        if (!required)
            return 0;
        trust_err(err, errlen, "%s: \"%s\" is empty", where, name);
        return -EINVAL;
    }
    if (key ? !is_token(it->valuestring) : !is_text(it->valuestring)) {
        trust_err(err, errlen, "%s: \"%s\" contains %s", where, name,
                  key ? "whitespace or control characters" : "control characters");
        return -EINVAL;
    }
    *val = it->valuestring;
    return 0;
}

static bool nonempty_string(const cJSON *obj, const char *name)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(it) && it->valuestring && it->valuestring[0];
}

/* Only valid on an array check_profiles accepted. */
static const char *profile_of(const cJSON *entry)
{
    return cJSON_GetObjectItemCaseSensitive(entry, "profile")->valuestring;
}

/* root must be an array of objects that each have a string "profile" (a
 * typo is reported, not silently skipped) and a boolean or null "active". */
static int check_profiles(const cJSON *root, const char *path, char *err, size_t errlen)
{
    const cJSON *it;

    if (!cJSON_IsArray(root)) {
        trust_err(err, errlen, "%s: expected a JSON array of profiles", path);
        return -EINVAL;
    }
    cJSON_ArrayForEach(it, root)
    {
        const cJSON *name, *active;

        if (!cJSON_IsObject(it)) {
            trust_err(err, errlen, "%s: every entry must be a JSON object", path);
            return -EINVAL;
        }
        name = cJSON_GetObjectItemCaseSensitive(it, "profile");
        if (!cJSON_IsString(name) || !name->valuestring) {
            trust_err(err, errlen, "%s: an entry has no \"profile\" string", path);
            return -EINVAL;
        }
        active = cJSON_GetObjectItemCaseSensitive(it, "active");
        if (active && !cJSON_IsBool(active) && !cJSON_IsNull(active)) {
            trust_err(err, errlen, "%s: \"active\" of profile '%s' is not true or false", path,
                      name->valuestring);
            return -EINVAL;
        }
    }
    return 0;
}

/* When a name repeats, the last entry is the one that counts: upstream's CLI
 * loads the file into a map in order, and appending an entry is how people
 * edit these files by hand. */
static const cJSON *find_named(const cJSON *root, const char *want)
{
    const cJSON *it, *found = NULL;

    cJSON_ArrayForEach(it, root)
    {
        if (strcmp(profile_of(it), want) == 0)
            found = it;
    }
    return found;
}

/* The last entry marked active among those no later entry shadows. */
static const cJSON *find_active(const cJSON *root)
{
    const cJSON *it, *found = NULL;

    cJSON_ArrayForEach(it, root)
    {
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "active")) &&
            find_named(root, profile_of(it)) == it)
            found = it;
    }
    return found;
}

/* Upstream's CLI before 0.1.8 wrote config.json as one object holding the
 * keys too, and on upgrading treats it as the active profile "default".
 * Wrapping it into a one-entry array lets everything else read it as the
 * current shape. */
static int wrap_legacy(cJSON **root)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(*root, "profile");
    cJSON *arr;

    if (!name || cJSON_IsNull(name)) {
        cJSON_DeleteItemFromObjectCaseSensitive(*root, "profile");
        if (!cJSON_AddStringToObject(*root, "profile", "default"))
            return -ENOMEM;
    }
    if (!cJSON_GetObjectItemCaseSensitive(*root, "active") &&
        !cJSON_AddTrueToObject(*root, "active"))
        return -ENOMEM;
    arr = cJSON_CreateArray();
    if (!arr || !cJSON_AddItemToArray(arr, *root)) {
        cJSON_Delete(arr);
        return -ENOMEM;
    }
    *root = arr;
    return 0;
}

/* Fills the fields every file source shares; the values are validated. */
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

/* These only seed defaults that an option can override, so a value out of
 * range or of the wrong type is ignored rather than fatal. */
static int take_int(const cJSON *obj, const char *name, int lo, int hi, int unset)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (!cJSON_IsNumber(it) || it->valuedouble < lo || it->valuedouble > hi ||
        it->valuedouble != (double)(int)it->valuedouble)
        return unset;
    return (int)it->valuedouble;
}

/* Sources 1 and 2: one pair of variables. Empty variables count as unset;
 * one key without the other is an error rather than a silent fall-through
 * to a file with other keys. */
static int load_env(const struct env_pair *names, struct credentials *c, bool *found, char *err,
                    size_t errlen)
{
    const char *pub = getenv(names->pub);
    const char *priv = getenv(names->priv);
    bool has_pub = pub && *pub, has_priv = priv && *priv;
    int ret;

    *found = false;
    if (!has_pub && !has_priv)
        return 0;
    if (!has_pub || !has_priv) {
        trust_err(err, errlen, "%s is set but %s is not; set both or neither",
                  has_pub ? names->pub : names->priv, has_pub ? names->priv : names->pub);
        return -EINVAL;
    }
    if (!is_token(pub) || !is_token(priv)) {
        trust_err(err, errlen, "%s contains whitespace or control characters",
                  is_token(pub) ? names->priv : names->pub);
        return -EINVAL;
    }
    ret = take_fields(c, pub, priv, NULL, NULL, NULL);
    if (!ret)
        ret = set_str(&c->source, names->source);
    if (!ret)
        *found = true;
    return ret;
}

/* Source 3: -o credentials=FILE, one JSON object. The user named it, so it
 * may live in a sticky world-writable directory such as /tmp. */
static int load_file(const char *path, struct credentials *c, char *err, size_t errlen)
{
    cJSON *root = NULL;
    const char *pub, *priv, *project, *url, *region;
    char where[PATH_MAX + 32];
    mode_t mode;
    int ret;

    snprintf(where, sizeof(where), "credentials file %s", path);
    ret = parse_file(path, "credentials file", TRUST_PRIVATE | TRUST_STICKY_DIR_OK, &root, &mode,
                     err, errlen);
    if (ret)
        goto out;
    if (!cJSON_IsObject(root)) {
        trust_err(err, errlen, "%s: expected a JSON object", where);
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

/* Source 4: one profile directory, home/.dezai or home/.ucloud. */
struct profile_dir {
    char dir[PATH_MAX];
    char cred_path[PATH_MAX + 16];
    char conf_path[PATH_MAX + 16];
    cJSON *cred;      /* credential.json, NULL when there is none */
    cJSON *conf;      /* config.json, always as an array; NULL when there is none */
    bool legacy_keys; /* no credential.json: the keys are in a legacy config.json */
};

/* Reads one directory's files. *usable says whether it holds keys: a
 * credential.json, or a legacy config.json with keys in it (which then must
 * be as private as a credential.json). */
static int read_profile_dir(const char *home, const char *sub, struct profile_dir *pd, bool *usable,
                            char *err, size_t errlen)
{
    mode_t mode = 0;
    bool legacy_has_keys = false;
    int ret;

    *usable = false;
    if ((size_t)snprintf(pd->dir, sizeof(pd->dir), "%s/%s", home, sub) >= sizeof(pd->dir)) {
        trust_err(err, errlen, "home directory path is too long: %s", home);
        return -ENAMETOOLONG;
    }
    snprintf(pd->cred_path, sizeof(pd->cred_path), "%s/credential.json", pd->dir);
    snprintf(pd->conf_path, sizeof(pd->conf_path), "%s/config.json", pd->dir);

    ret =
        parse_file(pd->cred_path, "credentials file", TRUST_PRIVATE, &pd->cred, &mode, err, errlen);
    if (ret == -ENOENT || ret == -ENOTDIR) {
        clear_err(err, errlen);
        ret = 0;
    }
    if (ret)
        return ret;
    ret = parse_file(pd->conf_path, "config file", 0, &pd->conf, &mode, err, errlen);
    if (ret == -ENOENT || ret == -ENOTDIR) {
        clear_err(err, errlen);
        ret = 0;
    }
    if (ret)
        return ret;
    if (cJSON_IsObject(pd->conf)) {
        legacy_has_keys = cJSON_GetObjectItemCaseSensitive(pd->conf, "public_key") ||
                          cJSON_GetObjectItemCaseSensitive(pd->conf, "private_key");
        ret = wrap_legacy(&pd->conf);
        if (ret)
            return ret;
    }
    if (!pd->cred && legacy_has_keys) {
        ret = trust_check_private(pd->conf_path, "config file", mode, err, errlen);
        if (ret)
            return ret;
        pd->legacy_keys = true;
    }
    *usable = pd->cred || pd->legacy_keys;
    return 0;
}

/* Upstream's CLI can sign in through a browser and store an OAuth token
 * instead of keys. umongofs signs every call with keys, so such a profile
 * cannot work, and "public_key is empty" would not tell the user why. A
 * profile that has keys besides a token uses the keys. */
static int check_sign_in(const cJSON *entry, const char *name, const char *path, char *err,
                         size_t errlen)
{
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(entry, "auth_mode");
    bool oauth = cJSON_IsString(mode) && mode->valuestring && !strcmp(mode->valuestring, "oauth");

    if (nonempty_string(entry, "public_key") && nonempty_string(entry, "private_key"))
        return 0;
    if (!oauth && !nonempty_string(entry, "access_token"))
        return 0;
    trust_err(err, errlen,
              "profile '%s' in %s is a sign-in (OAuth) profile; umongofs signs requests with "
              "API keys: create a key pair in the console (API keys) and add "
              "public_key/private_key to that profile, or set %s and %s",
              name, path, ENV_PUBLIC, ENV_PRIVATE);
    return -EINVAL;
}

/* The profile's config.json entry: project, endpoint, region, defaults. */
static int take_settings(const cJSON *entry, const char *path, const char *name,
                         struct credentials *c, char *err, size_t errlen)
{
    const char *project, *url, *region;
    char where[PATH_MAX + 300];
    int ret;

    snprintf(where, sizeof(where), "%s, profile '%s'", path, name);
    if ((ret = get_string(entry, "project_id", false, false, where, &project, err, errlen)) ||
        (ret = get_string(entry, "base_url", false, false, where, &url, err, errlen)) ||
        (ret = get_string(entry, "region", false, false, where, &region, err, errlen)))
        return ret;
    if ((project && (ret = set_str(&c->project_id, project))) ||
        (url && (ret = set_str(&c->api_url, url))) ||
        (region && (ret = set_str(&c->region, region))))
        return ret;
    c->timeout_sec = take_int(entry, "timeout_sec", 1, TIMEOUT_MAX, 0);
    c->max_retry_times = take_int(entry, "max_retry_times", 0, RETRIES_MAX, -1);
    return 0;
}

/* Picks the profile in a usable directory and takes its keys and settings.
 * want: -o profile= or the environment's; NULL = the active one, else
 * "default". */
static int use_profile_dir(const char *want, const struct profile_dir *pd, struct credentials *c,
                           char *err, size_t errlen)
{
    const cJSON *keys_root = pd->cred ? pd->cred : pd->conf;
    const char *keys_path = pd->cred ? pd->cred_path : pd->conf_path;
    const cJSON *active = NULL, *entry, *conf_entry = NULL;
    const char *name, *pub, *priv;
    char where[PATH_MAX + 300];
    int ret;

    if (pd->conf && (ret = check_profiles(pd->conf, pd->conf_path, err, errlen)))
        return ret;
    if ((ret = check_profiles(keys_root, keys_path, err, errlen)))
        return ret;
    if (pd->conf) {
        active = find_active(pd->conf);
        if (!want && active)
            want = profile_of(active);
    }
    name = want ? want : "default";
    if (!*name || !is_text(name)) {
        trust_err(err, errlen, "profile name is empty or contains control characters");
        return -EINVAL;
    }
    entry = find_named(keys_root, name);
    if (!entry) {
        trust_err(err, errlen, "profile '%s' not found in %s", name, keys_path);
        return -EINVAL;
    }
    if ((ret = check_sign_in(entry, name, keys_path, err, errlen)))
        return ret;
    snprintf(where, sizeof(where), "%s, profile '%s'", keys_path, name);
    if ((ret = get_string(entry, "public_key", true, true, where, &pub, err, errlen)) ||
        (ret = get_string(entry, "private_key", true, true, where, &priv, err, errlen)) ||
        (ret = take_fields(c, pub, priv, NULL, NULL, NULL)))
        return ret;
    if (pd->conf)
        conf_entry = find_named(pd->conf, name);
    if (conf_entry && (ret = take_settings(conf_entry, pd->conf_path, name, c, err, errlen)))
        return ret;
    snprintf(where, sizeof(where), "profile '%s' in %s", name, pd->dir);
    if ((ret = set_str(&c->profile, name)))
        return ret;
    return set_str(&c->source, where);
}

/* The first directory with keys decides; one whose files are refused or
 * malformed is an error, not a reason to try the next. */
static int load_profiles(const char *want, const char *home, struct credentials *c, bool *found,
                         char *err, size_t errlen)
{
    int ret = 0;

    *found = false;
    for (size_t i = 0; i < sizeof(profile_dirs) / sizeof(profile_dirs[0]); i++) {
        struct profile_dir *pd = calloc(1, sizeof(*pd));
        bool usable = false;

        if (!pd)
            return -ENOMEM;
        ret = read_profile_dir(home, profile_dirs[i], pd, &usable, err, errlen);
        if (!ret && usable) {
            ret = use_profile_dir(want, pd, c, err, errlen);
            *found = !ret;
        }
        cJSON_Delete(pd->cred);
        cJSON_Delete(pd->conf);
        free(pd);
        if (ret || *found)
            break;
    }
    return ret;
}

/* The first of two variables that is set and not empty, else NULL. */
static const char *first_env(const char *a, const char *b, const char **which)
{
    const char *v = getenv(a);

    *which = a;
    if (v && *v)
        return v;
    v = getenv(b);
    *which = b;
    return v && *v ? v : NULL;
}

/* The environment outranks files throughout the resolution order (as
 * AWS_REGION outranks a profile's region), so these apply whatever source
 * gave the keys. Explicit -o project_id= / api_url= are main's to apply on
 * top. */
static int env_override(const char *var, const char *fallback, char **dst, char *err, size_t errlen)
{
    const char *which;
    const char *v = first_env(var, fallback, &which);

    if (!v)
        return 0;
    if (!is_text(v)) {
        trust_err(err, errlen, "%s contains control characters", which);
        return -EINVAL;
    }
    return set_str(dst, v);
}

static int load_sources(const struct config_request *req, const char *home, struct credentials *c,
                        char *err, size_t errlen)
{
    const char *which, *want = req->profile;
    bool found = false;
    int ret = 0;

    for (size_t i = 0; !ret && !found && i < sizeof(env_pairs) / sizeof(env_pairs[0]); i++)
        ret = load_env(&env_pairs[i], c, &found, err, errlen);
    if (!ret && !found && req->credentials_file) {
        ret = load_file(req->credentials_file, c, err, errlen);
        found = !ret;
    }
    if (!want)
        want = first_env("DEZAI_PROFILE", "UCLOUD_PROFILE", &which);
    if (!ret && !found && home && *home)
        ret = load_profiles(want, home, c, &found, err, errlen);
    if (!ret && !found) {
        char what[300];
        const char *h = home && *home ? home : "~";

        if (want)
            snprintf(what, sizeof(what), "profile '%s'", want);
        else
            snprintf(what, sizeof(what), "a profile");
        trust_err(err, errlen,
                  "no credentials found: set %s and %s, pass -o credentials=FILE, or add %s to "
                  "%s/.dezai/credential.json (or %s/.ucloud/credential.json)",
                  ENV_PUBLIC, ENV_PRIVATE, what, h, h);
        ret = -ENOENT;
    }
    return ret;
}

int config_load_credentials(const struct config_request *req, struct credentials *out, char *err,
                            size_t errlen)
{
    static const struct config_request none;
    cJSON_Hooks hooks = {.malloc_fn = malloc, .free_fn = wipe_free};
    struct credentials c = {.max_retry_times = -1};
    int ret;

    clear_err(err, errlen);
    memset(out, 0, sizeof(*out));
    if (!req)
        req = &none;
    /* Global, but config.h says this runs once from main before any thread
     * exists; every tree parsed here is deleted before the hooks go back. */
    cJSON_InitHooks(&hooks);
    ret = load_sources(req, req->home ? req->home : getenv("HOME"), &c, err, errlen);
    if (!ret)
        ret = env_override("DEZAI_PROJECT_ID", "UCLOUD_PROJECT_ID", &c.project_id, err, errlen);
    if (!ret)
        ret = env_override("DEZAI_API_URL", "UCLOUD_API_BASE_URL", &c.api_url, err, errlen);
    cJSON_InitHooks(NULL);
    if (ret) {
        config_credentials_clear(&c);
        if (err && errlen && !err[0])
            trust_err(err, errlen, "cannot load credentials: %s", strerror(-ret));
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
    wipe_str(&c->profile);
    explicit_bzero(c, sizeof(*c));
}

int config_check_private_file(const char *path, char *err, size_t errlen)
{
    struct stat st;
    int fd =
        trust_open(path, "credentials file", TRUST_PRIVATE | TRUST_STICKY_DIR_OK, &st, err, errlen);

    if (fd < 0)
        return fd;
    close(fd);
    return 0;
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
    for (size_t i = 0; i < sizeof(env_pairs) / sizeof(env_pairs[0]); i++) {
        scrub_one(env_pairs[i].priv);
        scrub_one(env_pairs[i].pub);
    }
}
