/* Unit tests for config.c and trust.c: the credential sources, their order,
 * the profile files of ~/.dezai and ~/.ucloud (current and legacy shapes),
 * the ownership and mode checks, hostile files, and that no message carries
 * a key or token. Each test gets a fresh temporary $HOME (with empty .dezai
 * and .ucloud directories) and a clean DEZAI_* / UCLOUD_* environment. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#define PUB      "PUBK3yFromT3st0001"
#define PRIV     "PR1vSecretNeverPrint0001"
#define ENV_PUB  "ENVpub00000000001"
#define ENV_PRIV "ENVprivSecret0000000001"
#define UC_PUB   "UCpub000000000001"
#define UC_PRIV  "UCprivSecret00000000001"

struct fixture {
    char home[64]; /* short, so every path built from it fits */
    char dezai[96];
    char ucloud[96];
    char path[PATH_MAX]; /* scratch for a file path */
    char err[512];
    struct credentials c;
};

static const char *const env_vars[] = {
    "DEZAI_PUBLIC_KEY",    "DEZAI_PRIVATE_KEY", "DEZAI_PROJECT_ID",   "DEZAI_API_URL",
    "DEZAI_PROFILE",       "UCLOUD_PUBLIC_KEY", "UCLOUD_PRIVATE_KEY", "UCLOUD_PROJECT_ID",
    "UCLOUD_API_BASE_URL", "UCLOUD_PROFILE",
};

static void clean_env(void)
{
    for (size_t i = 0; i < sizeof(env_vars) / sizeof(env_vars[0]); i++)
        unsetenv(env_vars[i]);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    snprintf(f->home, sizeof(f->home), "/tmp/umongofs-test-config-XXXXXX");
    if (!mkdtemp(f->home))
        return -1;
    snprintf(f->dezai, sizeof(f->dezai), "%s/.dezai", f->home);
    snprintf(f->ucloud, sizeof(f->ucloud), "%s/.ucloud", f->home);
    if (mkdir(f->dezai, 0700) < 0 || mkdir(f->ucloud, 0700) < 0)
        return -1;
    clean_env();
    setenv("HOME", f->home, 1);
    *state = f;
    return 0;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    config_credentials_clear(&f->c);
    nftw(f->home, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    clean_env();
    free(f);
    return 0;
}

/* Writes content to dir/name with exactly mode (whatever the umask) and
 * leaves the full path in f->path. */
static const char *write_file(struct fixture *f, const char *dir, const char *name, mode_t mode,
                              const char *content)
{
    int fd;
    size_t len = strlen(content);

    snprintf(f->path, sizeof(f->path), "%s/%s", dir, name);
    unlink(f->path);
    fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
    return f->path;
}

static const char cred_json[] =
    "[{\"profile\": \"default\", \"public_key\": \"DEFpub01\", \"private_key\": \"DEFpriv01\"},"
    " {\"profile\": \"prod\", \"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\"},"
    " {\"profile\": \"staging\", \"public_key\": \"STGpub01\", \"private_key\": \"STGpriv01\"}]";

static const char conf_json_prod_active[] =
    "[{\"profile\": \"default\", \"active\": false, \"project_id\": \"org-def\"},"
    " {\"profile\": \"prod\", \"active\": true, \"project_id\": \"org-prod\","
    "  \"region\": \"cn-bj2\", \"base_url\": \"https://api.prod.example/\"},"
    " {\"profile\": \"staging\", \"project_id\": \"org-stg\", \"region\": \"hk\"}]";

static void write_profiles(struct fixture *f, const char *cred, const char *conf)
{
    if (cred)
        write_file(f, f->dezai, "credential.json", 0600, cred);
    if (conf)
        write_file(f, f->dezai, "config.json", 0644, conf);
}

/* Every failure: one non-empty line, no key from any source. */
static void assert_err_clean(const char *err)
{
    assert_true(err[0] != '\0');
    assert_null(strchr(err, '\n'));
    assert_null(strchr(err, '\r'));
    assert_null(strstr(err, PRIV));
    assert_null(strstr(err, PUB));
    assert_null(strstr(err, ENV_PRIV));
    assert_null(strstr(err, ENV_PUB));
    assert_null(strstr(err, "DEFpriv01"));
    assert_null(strstr(err, "STGpriv01"));
    assert_null(strstr(err, UC_PRIV));
    assert_null(strstr(err, UC_PUB));
    assert_null(strstr(err, "UCApriv01"));
    assert_null(strstr(err, "UCFpriv01"));
    assert_null(strstr(err, "LEGpriv01"));
    assert_null(strstr(err, "OLDpriv01"));
    assert_null(strstr(err, "TOKsecret0001"));
    assert_null(strstr(err, "REFsecret0001"));
}

static void assert_cleared(const struct credentials *c)
{
    assert_null(c->public_key);
    assert_null(c->private_key);
    assert_null(c->project_id);
    assert_null(c->api_url);
    assert_null(c->region);
    assert_null(c->source);
}

/* Loads with req and expects failure ret; checks err and that out is empty. */
static void expect_fail(struct fixture *f, const struct config_request *req, int ret)
{
    assert_int_equal(config_load_credentials(req, &f->c, f->err, sizeof(f->err)), ret);
    assert_err_clean(f->err);
    assert_cleared(&f->c);
}

static void load_ok(struct fixture *f, const struct config_request *req)
{
    int ret = config_load_credentials(req, &f->c, f->err, sizeof(f->err));
    if (ret)
        fail_msg("config_load_credentials: %d: %s", ret, f->err);
}

/* ---- source 1: environment ---- */

static void test_env_wins_over_everything(void **state)
{
    struct fixture *f = *state;
    char file[PATH_MAX];
    struct config_request req = {0};

    write_profiles(f, cred_json, conf_json_prod_active);
    snprintf(file, sizeof(file), "%s",
             write_file(f, f->home, "keys.json", 0600,
                        "{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\"}"));
    req.credentials_file = file;
    req.profile = "staging";
    setenv("DEZAI_PUBLIC_KEY", ENV_PUB, 1);
    setenv("DEZAI_PRIVATE_KEY", ENV_PRIV, 1);
    setenv("DEZAI_PROJECT_ID", "org-env", 1);
    setenv("DEZAI_API_URL", "http://127.0.0.1:9/", 1);

    load_ok(f, &req);
    assert_string_equal(f->c.public_key, ENV_PUB);
    assert_string_equal(f->c.private_key, ENV_PRIV);
    assert_string_equal(f->c.project_id, "org-env");
    assert_string_equal(f->c.api_url, "http://127.0.0.1:9/");
    assert_null(f->c.region);
    assert_string_equal(f->c.source, "environment");
}

static void test_env_without_project(void **state)
{
    struct fixture *f = *state;

    setenv("DEZAI_PUBLIC_KEY", ENV_PUB, 1);
    setenv("DEZAI_PRIVATE_KEY", ENV_PRIV, 1);
    load_ok(f, NULL);
    assert_null(f->c.project_id);
    assert_null(f->c.api_url);
}

static void test_env_public_only(void **state)
{
    struct fixture *f = *state;

    write_profiles(f, cred_json, NULL);
    setenv("DEZAI_PUBLIC_KEY", ENV_PUB, 1);
    expect_fail(f, NULL, -EINVAL);
    assert_non_null(strstr(f->err, "DEZAI_PRIVATE_KEY"));

    /* empty counts as unset */
    setenv("DEZAI_PRIVATE_KEY", "", 1);
    expect_fail(f, NULL, -EINVAL);
    assert_non_null(strstr(f->err, "DEZAI_PRIVATE_KEY"));
}

static void test_env_private_only(void **state)
{
    struct fixture *f = *state;

    write_profiles(f, cred_json, NULL);
    setenv("DEZAI_PRIVATE_KEY", ENV_PRIV, 1);
    expect_fail(f, NULL, -EINVAL);
    assert_non_null(strstr(f->err, "DEZAI_PUBLIC_KEY"));
}

static void test_env_both_empty_falls_through(void **state)
{
    struct fixture *f = *state;

    write_profiles(f, cred_json, NULL);
    setenv("DEZAI_PUBLIC_KEY", "", 1);
    setenv("DEZAI_PRIVATE_KEY", "", 1);
    load_ok(f, NULL);
    assert_string_equal(f->c.public_key, "DEFpub01");
}

static void test_env_key_with_whitespace(void **state)
{
    struct fixture *f = *state;

    setenv("DEZAI_PUBLIC_KEY", ENV_PUB, 1);
    setenv("DEZAI_PRIVATE_KEY", ENV_PRIV "\n", 1);
    expect_fail(f, NULL, -EINVAL);
    assert_non_null(strstr(f->err, "DEZAI_PRIVATE_KEY"));

    setenv("DEZAI_PRIVATE_KEY", ENV_PRIV, 1);
    setenv("DEZAI_PUBLIC_KEY", " " ENV_PUB, 1);
    expect_fail(f, NULL, -EINVAL);
    assert_non_null(strstr(f->err, "DEZAI_PUBLIC_KEY"));
}

static void test_env_project_control_char(void **state)
{
    struct fixture *f = *state;

    setenv("DEZAI_PUBLIC_KEY", ENV_PUB, 1);
    setenv("DEZAI_PRIVATE_KEY", ENV_PRIV, 1);
    setenv("DEZAI_API_URL", "http://x/\r\nHost: evil", 1);
    expect_fail(f, NULL, -EINVAL);
    assert_non_null(strstr(f->err, "DEZAI_API_URL"));
}

/* ---- source 2: -o credentials=FILE ---- */

static void test_credentials_file_used(void **state)
{
    struct fixture *f = *state;
    struct config_request req = {0};
    char want[PATH_MAX + 32];

    write_profiles(f, cred_json, conf_json_prod_active);
    req.credentials_file =
        write_file(f, f->home, "keys.json", 0600,
                   "{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\","
                   " \"project_id\": \"org-file\", \"base_url\": \"https://file.example/\"}");
    load_ok(f, &req);
    assert_string_equal(f->c.public_key, PUB);
    assert_string_equal(f->c.private_key, PRIV);
    assert_string_equal(f->c.project_id, "org-file");
    assert_string_equal(f->c.api_url, "https://file.example/");
    snprintf(want, sizeof(want), "credentials file %s", f->path);
    assert_string_equal(f->c.source, want);
}

static void test_credentials_file_optional_fields(void **state)
{
    struct fixture *f = *state;
    struct config_request req = {0};

    /* pretty-printed, as an editor leaves it: newlines around and inside */
    req.credentials_file = write_file(
        f, f->home, "keys.json", 0400,
        "\n{\n  \"public_key\": \"" PUB "\",\n  \"private_key\": \"" PRIV "\",\n"
        "  \"project_id\": \"\",\n  \"base_url\": null,\n  \"extra\": [1, {\"x\": true}]\n}\n\n");
    load_ok(f, &req);
    assert_null(f->c.project_id);
    assert_null(f->c.api_url);
}

static void test_env_project_and_url_override_file(void **state)
{
    struct fixture *f = *state;
    struct config_request req = {0};

    req.credentials_file =
        write_file(f, f->home, "keys.json", 0600,
                   "{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\","
                   " \"project_id\": \"org-file\", \"base_url\": \"https://file.example/\"}");
    setenv("DEZAI_PROJECT_ID", "org-env", 1);
    setenv("DEZAI_API_URL", "http://127.0.0.1:9/", 1);
    load_ok(f, &req);
    assert_string_equal(f->c.private_key, PRIV);
    assert_string_equal(f->c.project_id, "org-env");
    assert_string_equal(f->c.api_url, "http://127.0.0.1:9/");
}

static void test_credentials_file_0644_refused(void **state)
{
    struct fixture *f = *state;
    struct config_request req = {0};

    write_profiles(f, cred_json, NULL);
    req.credentials_file =
        write_file(f, f->home, "keys.json", 0644,
                   "{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\"}");
    expect_fail(f, &req, -EACCES);
    assert_non_null(strstr(f->err, "chmod 600"));
    assert_non_null(strstr(f->err, f->path));
    assert_non_null(strstr(f->err, "0644"));
}

static void test_credentials_file_group_writable_refused(void **state)
{
    struct fixture *f = *state;
    struct config_request req = {0};

    req.credentials_file =
        write_file(f, f->home, "keys.json", 0620,
                   "{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\"}");
    expect_fail(f, &req, -EACCES);
    assert_non_null(strstr(f->err, "chmod 600"));
}

static void test_credentials_file_missing(void **state)
{
    struct fixture *f = *state;
    struct config_request req = {0};
    char path[PATH_MAX];

    /* An explicitly named file that is missing is an error, not a fall-through. */
    write_profiles(f, cred_json, NULL);
    snprintf(path, sizeof(path), "%s/nope.json", f->home);
    req.credentials_file = path;
    expect_fail(f, &req, -ENOENT);
    assert_non_null(strstr(f->err, path));
}

static void test_credentials_file_not_regular(void **state)
{
    struct fixture *f = *state;
    struct config_request req = {0};
    char path[PATH_MAX];

    /* a directory */
    req.credentials_file = f->dezai;
    expect_fail(f, &req, -EINVAL);
    assert_non_null(strstr(f->err, f->dezai));

    /* a FIFO must not hang the mount */
    snprintf(path, sizeof(path), "%s/fifo", f->home);
    assert_int_equal(mkfifo(path, 0600), 0);
    req.credentials_file = path;
    expect_fail(f, &req, -EINVAL);
}

static void test_credentials_file_symlink_followed(void **state)
{
    struct fixture *f = *state;
    struct config_request req = {0};
    char link[PATH_MAX];

    write_file(f, f->home, "keys.json", 0600,
               "{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\"}");
    snprintf(link, sizeof(link), "%s/link.json", f->home);
    assert_int_equal(symlink(f->path, link), 0);
    req.credentials_file = link;
    load_ok(f, &req);
    assert_string_equal(f->c.private_key, PRIV);

    config_credentials_clear(&f->c);
    assert_int_equal(chmod(f->path, 0644), 0);
    expect_fail(f, &req, -EACCES);
    assert_non_null(strstr(f->err, link));
}

static void test_credentials_file_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "{",
        "{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\"",
        "{\"public_key\": \"" PUB "\",\n \"private_key\": " PRIV "}",
        "{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\"} trailing",
        "{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\"}\n{}",
        "nul",
        "\xff\xfe{}",
    };
    struct fixture *f = *state;
    struct config_request req = {0};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        req.credentials_file = write_file(f, f->home, "keys.json", 0600, bad[i]);
        expect_fail(f, &req, -EINVAL);
        assert_non_null(strstr(f->err, f->path));
    }
}

static void test_credentials_file_with_nul_byte(void **state)
{
    static const char content[] =
        "{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\"}\0garbage";
    struct fixture *f = *state;
    struct config_request req = {0};
    int fd;

    snprintf(f->path, sizeof(f->path), "%s/keys.json", f->home);
    fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, sizeof(content) - 1), (ssize_t)sizeof(content) - 1);
    close(fd);
    req.credentials_file = f->path;
    expect_fail(f, &req, -EINVAL);
    assert_non_null(strstr(f->err, "NUL"));
}

static void test_credentials_file_wrong_types(void **state)
{
    static const char *const bad[] = {
        "[]",
        "\"" PRIV "\"",
        "{\"public_key\": 12, \"private_key\": \"" PRIV "\"}",
        "{\"public_key\": \"" PUB "\", \"private_key\": [\"" PRIV "\"]}",
        "{\"public_key\": \"" PUB "\", \"private_key\": true}",
        "{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\", \"project_id\": 7}",
        "{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\", \"base_url\": {}}",
        "{\"public_key\": \"" PUB "\"}",
        "{\"private_key\": \"" PRIV "\"}",
        "{\"public_key\": \"\", \"private_key\": \"" PRIV "\"}",
        "{\"public_key\": \"" PUB "\", \"private_key\": \"\"}",
        "{\"public_key\": null, \"private_key\": \"" PRIV "\"}",
        "{\"Public_Key\": \"" PUB "\", \"private_key\": \"" PRIV "\"}",
    };
    struct fixture *f = *state;
    struct config_request req = {0};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        req.credentials_file = write_file(f, f->home, "keys.json", 0600, bad[i]);
        expect_fail(f, &req, -EINVAL);
        assert_non_null(strstr(f->err, f->path));
    }
}

static void test_credentials_file_bad_key_chars(void **state)
{
    static const char *const bad[] = {
        "{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV " \"}",
        "{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\\n\"}",
        "{\"public_key\": \"" PUB "\", \"private_key\": \"\\t" PRIV "\"}",
        "{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\\u007f\"}",
        "{\"public_key\": \"" PUB " x\", \"private_key\": \"" PRIV "\"}",
        "{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\", \"project_id\": \"a\\nb\"}",
    };
    struct fixture *f = *state;
    struct config_request req = {0};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        req.credentials_file = write_file(f, f->home, "keys.json", 0600, bad[i]);
        expect_fail(f, &req, -EINVAL);
        assert_non_null(strstr(f->err, f->path));
    }
}

static void test_credentials_file_too_big(void **state)
{
    struct fixture *f = *state;
    struct config_request req = {0};
    size_t n = 2 * 1024 * 1024;
    char *big = malloc(n + 1);

    assert_non_null(big);
    memset(big, ' ', n);
    memcpy(big, "{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\"}",
           sizeof("{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\"}") - 1);
    big[n] = '\0';
    req.credentials_file = write_file(f, f->home, "keys.json", 0600, big);
    free(big);
    expect_fail(f, &req, -EINVAL);
    assert_non_null(strstr(f->err, f->path));
}

static void test_credentials_file_deep_nesting(void **state)
{
    struct fixture *f = *state;
    struct config_request req = {0};
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 1);

    assert_non_null(deep);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    req.credentials_file = write_file(f, f->home, "keys.json", 0600, deep);
    free(deep);
    expect_fail(f, &req, -EINVAL);
}

/* ---- source 3: profile files ---- */

static void test_profile_active_chosen(void **state)
{
    struct fixture *f = *state;
    char want[PATH_MAX + 32];

    write_profiles(f, cred_json, conf_json_prod_active);
    load_ok(f, NULL); /* NULL request: $HOME, no profile, no file */
    assert_string_equal(f->c.public_key, PUB);
    assert_string_equal(f->c.private_key, PRIV);
    assert_string_equal(f->c.project_id, "org-prod");
    assert_string_equal(f->c.region, "cn-bj2");
    assert_string_equal(f->c.api_url, "https://api.prod.example/");
    snprintf(want, sizeof(want), "profile 'prod' in %s", f->dezai);
    assert_string_equal(f->c.source, want);
}

static void test_profile_explicit_chosen(void **state)
{
    struct fixture *f = *state;
    struct config_request req = {.profile = "staging"};

    write_profiles(f, cred_json, conf_json_prod_active);
    load_ok(f, &req);
    assert_string_equal(f->c.public_key, "STGpub01");
    assert_string_equal(f->c.private_key, "STGpriv01");
    assert_string_equal(f->c.project_id, "org-stg");
    assert_string_equal(f->c.region, "hk");
    assert_null(f->c.api_url);
}

static void test_profile_default_fallback_no_config(void **state)
{
    struct fixture *f = *state;

    write_profiles(f, cred_json, NULL);
    load_ok(f, NULL);
    assert_string_equal(f->c.public_key, "DEFpub01");
    assert_string_equal(f->c.private_key, "DEFpriv01");
    assert_null(f->c.project_id);
    assert_null(f->c.region);
    assert_null(f->c.api_url);
}

static void test_profile_default_fallback_none_active(void **state)
{
    struct fixture *f = *state;

    write_profiles(f, cred_json,
                   "[{\"profile\": \"prod\", \"active\": false, \"project_id\": \"org-prod\"},"
                   " {\"profile\": \"default\", \"project_id\": \"org-def\", \"active\": null}]");
    load_ok(f, NULL);
    assert_string_equal(f->c.private_key, "DEFpriv01");
    assert_string_equal(f->c.project_id, "org-def");
}

static void test_profile_home_from_request(void **state)
{
    struct fixture *f = *state;
    struct config_request req = {0};

    write_profiles(f, cred_json, conf_json_prod_active);
    req.home = f->home;
    setenv("HOME", "/nonexistent-umongofs-home", 1);
    load_ok(f, &req);
    assert_string_equal(f->c.private_key, PRIV);
}

static void test_profile_env_overrides_config(void **state)
{
    struct fixture *f = *state;

    write_profiles(f, cred_json, conf_json_prod_active);
    setenv("DEZAI_PROJECT_ID", "org-env", 1);
    load_ok(f, NULL);
    assert_string_equal(f->c.private_key, PRIV);
    assert_string_equal(f->c.project_id, "org-env");
    assert_string_equal(f->c.api_url, "https://api.prod.example/");
}

static void test_profile_unknown(void **state)
{
    struct fixture *f = *state;
    struct config_request req = {.profile = "nosuch"};
    char cred_path[PATH_MAX + 20];

    write_profiles(f, cred_json, conf_json_prod_active);
    snprintf(cred_path, sizeof(cred_path), "%s/credential.json", f->dezai);
    expect_fail(f, &req, -EINVAL);
    assert_non_null(strstr(f->err, "nosuch"));
    assert_non_null(strstr(f->err, cred_path));
}

static void test_profile_active_missing_from_credentials(void **state)
{
    struct fixture *f = *state;

    write_profiles(f, cred_json, "[{\"profile\": \"ghost\", \"active\": true}]");
    expect_fail(f, NULL, -EINVAL);
    assert_non_null(strstr(f->err, "ghost"));
}

static void test_profile_no_default(void **state)
{
    struct fixture *f = *state;

    write_profiles(
        f, "[{\"profile\": \"prod\", \"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\"}]",
        NULL);
    expect_fail(f, NULL, -EINVAL);
    assert_non_null(strstr(f->err, "'default'"));
}

static void test_profile_credential_json_0640_refused(void **state)
{
    struct fixture *f = *state;
    char cred_path[PATH_MAX + 20];

    write_file(f, f->dezai, "credential.json", 0640, cred_json);
    snprintf(cred_path, sizeof(cred_path), "%s/credential.json", f->dezai);
    expect_fail(f, NULL, -EACCES);
    assert_non_null(strstr(f->err, "chmod 600"));
    assert_non_null(strstr(f->err, cred_path));
    assert_non_null(strstr(f->err, "0640"));
}

/* config.json holds no keys, so others may read it; but it decides the
 * endpoint and the profile, so nobody else may write it. */
static void test_profile_config_json_readable_not_writable(void **state)
{
    static const mode_t refused[] = {0666, 0646, 0620, 0602};
    struct fixture *f = *state;

    write_profiles(f, cred_json, conf_json_prod_active);
    load_ok(f, NULL);
    assert_string_equal(f->c.project_id, "org-prod");
    config_credentials_clear(&f->c);

    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        char mode[16];

        write_file(f, f->dezai, "config.json", refused[i], conf_json_prod_active);
        expect_fail(f, NULL, -EACCES);
        snprintf(mode, sizeof(mode), "(mode %04o)", (unsigned)refused[i]);
        assert_non_null(strstr(f->err, f->path));
        assert_non_null(strstr(f->err, mode));
        assert_non_null(strstr(f->err, "chmod 600"));
    }
}

static void test_profile_malformed(void **state)
{
    struct fixture *f = *state;

    write_profiles(f, "[{\"profile\": \"default\", \"public_key\": \"" PUB "\",", NULL);
    expect_fail(f, NULL, -EINVAL);
    assert_non_null(strstr(f->err, "credential.json"));
    teardown(state);

    setup(state);
    f = *state;
    write_profiles(f, cred_json, "[{\"profile\": \"prod\", \"active\": true,]");
    expect_fail(f, NULL, -EINVAL);
    assert_non_null(strstr(f->err, "config.json"));
}

static void test_profile_wrong_types(void **state)
{
    struct wrong {
        const char *cred, *conf, *file;
    };
    static const struct wrong bad[] = {
        {"{\"profile\": \"default\"}", NULL, "credential.json"},
        {"[\"default\"]", NULL, "credential.json"},
        {"[{\"profile\": 1, \"public_key\": \"a\", \"private_key\": \"b\"}]", NULL,
         "credential.json"},
        {"[{\"public_key\": \"a\", \"private_key\": \"b\"}]", NULL, "credential.json"},
        {"[{\"profile\": \"default\", \"public_key\": \"" PUB "\", \"private_key\": 5}]", NULL,
         "credential.json"},
        {"[{\"profile\": \"default\", \"public_key\": \"" PUB "\", \"private_key\": \"\"}]", NULL,
         "credential.json"},
        {"[{\"profile\": \"default\", \"public_key\": \"" PUB "\"}]", NULL, "credential.json"},
        {"[{\"profile\": \"default\", \"public_key\": \"" PUB "\", \"private_key\": \"a b\"}]",
         NULL, "credential.json"},
        {cred_json, "42", "config.json"},
        {cred_json, "\"default\"", "config.json"},
        {cred_json, "{\"profile\": \"default\", \"active\": \"yes\"}", "config.json"},
        {cred_json, "[{\"profile\": \"default\", \"active\": \"true\"}]", "config.json"},
        {cred_json, "[{\"profile\": \"default\", \"project_id\": 42}]", "config.json"},
        {cred_json, "[{\"profile\": \"default\", \"region\": [\"a\"]}]", "config.json"},
        {cred_json, "[{\"profile\": \"default\", \"base_url\": \"http://a\\rb\"}]", "config.json"},
        {cred_json, "[{\"active\": true}]", "config.json"},
        {cred_json, "[[]]", "config.json"},
    };
    struct fixture *f = *state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_profiles(f, bad[i].cred, bad[i].conf);
        if (!bad[i].conf)
            write_file(f, f->dezai, "config.json", 0644, "[]");
        expect_fail(f, NULL, -EINVAL);
        if (!strstr(f->err, bad[i].file))
            fail_msg("case %zu: '%s' does not name %s", i, f->err, bad[i].file);
    }
}

static void test_profile_name_with_newline(void **state)
{
    struct fixture *f = *state;
    struct config_request req = {.profile = "a\nb"};

    write_profiles(f, cred_json, NULL);
    expect_fail(f, &req, -EINVAL);
}

static void test_profile_dezai_is_a_file(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(rmdir(f->dezai), 0);
    write_file(f, f->home, ".dezai", 0600, "x");
    expect_fail(f, NULL, -ENOENT);
}

/* ---- the upstream SDK's environment variables ---- */

static void set_ucloud_keys(void)
{
    setenv("UCLOUD_PUBLIC_KEY", UC_PUB, 1);
    setenv("UCLOUD_PRIVATE_KEY", UC_PRIV, 1);
}

static void test_ucloud_env_keys(void **state)
{
    struct fixture *f = *state;

    write_profiles(f, cred_json, conf_json_prod_active);
    set_ucloud_keys();
    load_ok(f, NULL);
    assert_string_equal(f->c.public_key, UC_PUB);
    assert_string_equal(f->c.private_key, UC_PRIV);
    assert_null(f->c.project_id);
    assert_null(f->c.api_url);
    assert_non_null(strstr(f->c.source, "environment"));
    assert_non_null(strstr(f->c.source, "UCLOUD_PUBLIC_KEY"));
}

static void test_dezai_env_wins_over_ucloud_env(void **state)
{
    struct fixture *f = *state;

    set_ucloud_keys();
    setenv("DEZAI_PUBLIC_KEY", ENV_PUB, 1);
    setenv("DEZAI_PRIVATE_KEY", ENV_PRIV, 1);
    load_ok(f, NULL);
    assert_string_equal(f->c.private_key, ENV_PRIV);
    assert_string_equal(f->c.source, "environment");
}

static void test_ucloud_env_one_without_the_other(void **state)
{
    struct fixture *f = *state;
    struct config_request req = {0};

    /* an error, not a fall-through to the file or the profiles */
    write_profiles(f, cred_json, NULL);
    req.credentials_file =
        write_file(f, f->home, "keys.json", 0600,
                   "{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\"}");
    setenv("UCLOUD_PUBLIC_KEY", UC_PUB, 1);
    expect_fail(f, &req, -EINVAL);
    assert_non_null(strstr(f->err, "UCLOUD_PRIVATE_KEY"));

    unsetenv("UCLOUD_PUBLIC_KEY");
    setenv("UCLOUD_PRIVATE_KEY", UC_PRIV, 1);
    expect_fail(f, &req, -EINVAL);
    assert_non_null(strstr(f->err, "UCLOUD_PUBLIC_KEY"));
    assert_null(strstr(f->err, UC_PRIV));

    setenv("UCLOUD_PUBLIC_KEY", "a b", 1);
    expect_fail(f, &req, -EINVAL);
    assert_non_null(strstr(f->err, "UCLOUD_PUBLIC_KEY"));
}

static void test_env_project_and_url_fallbacks(void **state)
{
    struct fixture *f = *state;

    write_profiles(f, cred_json, conf_json_prod_active);
    setenv("UCLOUD_PROJECT_ID", "org-uc", 1);
    setenv("UCLOUD_API_BASE_URL", "http://127.0.0.1:7/", 1);
    load_ok(f, NULL);
    assert_string_equal(f->c.private_key, PRIV); /* keys from the active profile */
    assert_string_equal(f->c.project_id, "org-uc");
    assert_string_equal(f->c.api_url, "http://127.0.0.1:7/");
    config_credentials_clear(&f->c);

    setenv("DEZAI_PROJECT_ID", "org-dz", 1);
    setenv("DEZAI_API_URL", "http://127.0.0.1:8/", 1);
    load_ok(f, NULL);
    assert_string_equal(f->c.project_id, "org-dz");
    assert_string_equal(f->c.api_url, "http://127.0.0.1:8/");
    config_credentials_clear(&f->c);

    /* empty counts as unset */
    setenv("DEZAI_PROJECT_ID", "", 1);
    load_ok(f, NULL);
    assert_string_equal(f->c.project_id, "org-uc");
    config_credentials_clear(&f->c);

    setenv("UCLOUD_API_BASE_URL", "http://x/\nHost: evil", 1);
    unsetenv("DEZAI_API_URL");
    expect_fail(f, NULL, -EINVAL);
    assert_non_null(strstr(f->err, "UCLOUD_API_BASE_URL"));
}

static void test_profile_from_environment(void **state)
{
    struct fixture *f = *state;
    struct config_request req = {.profile = "default"};

    write_profiles(f, cred_json, conf_json_prod_active);
    setenv("UCLOUD_PROFILE", "staging", 1);
    load_ok(f, NULL); /* UCLOUD_PROFILE beats the active profile */
    assert_string_equal(f->c.private_key, "STGpriv01");
    config_credentials_clear(&f->c);

    setenv("DEZAI_PROFILE", "default", 1);
    load_ok(f, NULL); /* DEZAI_PROFILE beats UCLOUD_PROFILE */
    assert_string_equal(f->c.private_key, "DEFpriv01");
    config_credentials_clear(&f->c);

    setenv("DEZAI_PROFILE", "", 1);
    load_ok(f, NULL); /* empty counts as unset */
    assert_string_equal(f->c.private_key, "STGpriv01");
    config_credentials_clear(&f->c);

    setenv("DEZAI_PROFILE", "staging", 1);
    load_ok(f, &req); /* -o profile= beats both */
    assert_string_equal(f->c.private_key, "DEFpriv01");
    config_credentials_clear(&f->c);

    setenv("DEZAI_PROFILE", "ghost", 1);
    expect_fail(f, NULL, -EINVAL);
    assert_non_null(strstr(f->err, "'ghost'"));
}

/* ---- the whole order, one source taken away at a time ---- */

static void test_resolution_order(void **state)
{
    struct fixture *f = *state;
    struct config_request req = {0};

    write_profiles(f, cred_json, NULL);
    write_file(f, f->ucloud, "credential.json", 0600,
               "[{\"profile\": \"default\", \"public_key\": \"UCFpub01\","
               " \"private_key\": \"UCFpriv01\"}]");
    req.credentials_file =
        write_file(f, f->home, "keys.json", 0600,
                   "{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\"}");
    setenv("DEZAI_PUBLIC_KEY", ENV_PUB, 1);
    setenv("DEZAI_PRIVATE_KEY", ENV_PRIV, 1);
    set_ucloud_keys();

    load_ok(f, &req);
    assert_string_equal(f->c.private_key, ENV_PRIV);
    config_credentials_clear(&f->c);

    unsetenv("DEZAI_PUBLIC_KEY");
    unsetenv("DEZAI_PRIVATE_KEY");
    load_ok(f, &req);
    assert_string_equal(f->c.private_key, UC_PRIV);
    config_credentials_clear(&f->c);

    unsetenv("UCLOUD_PUBLIC_KEY");
    unsetenv("UCLOUD_PRIVATE_KEY");
    load_ok(f, &req);
    assert_string_equal(f->c.private_key, PRIV);
    config_credentials_clear(&f->c);

    req.credentials_file = NULL;
    load_ok(f, &req);
    assert_string_equal(f->c.private_key, "DEFpriv01");
    config_credentials_clear(&f->c);

    snprintf(f->path, sizeof(f->path), "%s/credential.json", f->dezai);
    assert_int_equal(unlink(f->path), 0);
    load_ok(f, &req);
    assert_string_equal(f->c.private_key, "UCFpriv01");
    config_credentials_clear(&f->c);

    snprintf(f->path, sizeof(f->path), "%s/credential.json", f->ucloud);
    assert_int_equal(unlink(f->path), 0);
    expect_fail(f, &req, -ENOENT);
    assert_non_null(strstr(f->err, ".ucloud/credential.json"));
}

/* ---- ~/.ucloud ---- */

static void write_ucloud(struct fixture *f, const char *cred, const char *conf)
{
    if (cred)
        write_file(f, f->ucloud, "credential.json", 0600, cred);
    if (conf)
        write_file(f, f->ucloud, "config.json", 0600, conf);
}

/* As upstream's CLI writes them: every field present, empty ones too. */
static const char uc_cred_json[] =
    "[{\"public_key\": \"UCApub01\", \"private_key\": \"UCApriv01\", \"cookie\": \"\","
    "  \"csrf_token\": \"\", \"profile\": \"default\"},"
    " {\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\", \"cookie\": \"\","
    "  \"csrf_token\": \"\", \"profile\": \"prod\"}]";
static const char uc_conf_json[] =
    "[{\"project_id\": \"org-ucdef\", \"region\": \"cn-bj2\", \"zone\": \"cn-bj2-02\","
    "  \"base_url\": \"https://api.ucloud.example/\", \"timeout_sec\": 15, \"profile\": "
    "\"default\","
    "  \"active\": false, \"max_retry_times\": 3, \"agree_upload_log\": true},"
    " {\"project_id\": \"org-ucprod\", \"region\": \"hk\", \"zone\": \"hk-02\","
    "  \"base_url\": \"https://api.ucprod.example/\", \"timeout_sec\": 20, \"profile\": \"prod\","
    "  \"active\": true, \"max_retry_times\": 0, \"agree_upload_log\": false,"
    "  \"oauth_base_url\": \"https://oauth.example\", \"channel_key\": \"\"}]";

static void test_ucloud_profiles_used(void **state)
{
    struct fixture *f = *state;
    char want[PATH_MAX + 32];

    write_ucloud(f, uc_cred_json, uc_conf_json);
    load_ok(f, NULL);
    assert_string_equal(f->c.public_key, PUB);
    assert_string_equal(f->c.private_key, PRIV);
    assert_string_equal(f->c.project_id, "org-ucprod");
    assert_string_equal(f->c.api_url, "https://api.ucprod.example/");
    assert_string_equal(f->c.region, "hk");
    assert_int_equal(f->c.timeout_sec, 20);
    assert_int_equal(f->c.max_retry_times, 0);
    snprintf(want, sizeof(want), "profile 'prod' in %s", f->ucloud);
    assert_string_equal(f->c.source, want);
}

static void test_dezai_wins_over_ucloud(void **state)
{
    struct fixture *f = *state;
    char want[PATH_MAX + 32];

    write_ucloud(f, uc_cred_json, uc_conf_json);
    write_profiles(f, cred_json, NULL);
    load_ok(f, NULL);
    /* ~/.dezai's default, and none of ~/.ucloud's settings */
    assert_string_equal(f->c.private_key, "DEFpriv01");
    assert_null(f->c.project_id);
    assert_null(f->c.api_url);
    snprintf(want, sizeof(want), "profile 'default' in %s", f->dezai);
    assert_string_equal(f->c.source, want);
}

static void test_dezai_without_keys_falls_to_ucloud(void **state)
{
    struct fixture *f = *state;

    /* a config.json alone is not "having profile files" */
    write_profiles(f, NULL, conf_json_prod_active);
    write_ucloud(f, uc_cred_json, uc_conf_json);
    load_ok(f, NULL);
    assert_string_equal(f->c.project_id, "org-ucprod"); /* not ~/.dezai's org-prod */
    assert_string_equal(f->c.private_key, PRIV);
}

/* Before 0.1.8 upstream's CLI wrote one object, keys included, and nothing else. */
static void test_ucloud_legacy_config(void **state)
{
    static const char legacy[] =
        "{\"public_key\": \"LEGpub01\", \"private_key\": \"LEGpriv01\", \"region\": \"cn-sh2\","
        " \"zone\": \"cn-sh2-02\", \"project_id\": \"org-legacy\"}";
    struct fixture *f = *state;
    struct config_request req = {.profile = "default"};
    char want[PATH_MAX + 32];

    write_ucloud(f, NULL, legacy);
    load_ok(f, NULL);
    assert_string_equal(f->c.public_key, "LEGpub01");
    assert_string_equal(f->c.private_key, "LEGpriv01");
    assert_string_equal(f->c.project_id, "org-legacy");
    assert_string_equal(f->c.region, "cn-sh2");
    assert_null(f->c.api_url);
    assert_int_equal(f->c.timeout_sec, 0);
    assert_int_equal(f->c.max_retry_times, -1);
    snprintf(want, sizeof(want), "profile 'default' in %s", f->ucloud);
    assert_string_equal(f->c.source, want);
    config_credentials_clear(&f->c);

    load_ok(f, &req); /* it is the profile "default" */
    assert_string_equal(f->c.private_key, "LEGpriv01");
    config_credentials_clear(&f->c);

    req.profile = "prod";
    expect_fail(f, &req, -EINVAL);
    assert_non_null(strstr(f->err, "'prod'"));
    assert_non_null(strstr(f->err, "config.json"));

    /* it holds keys, so it must be as private as a credential.json */
    write_file(f, f->ucloud, "config.json", 0644, legacy);
    expect_fail(f, NULL, -EACCES);
    assert_non_null(strstr(f->err, f->path));
    assert_non_null(strstr(f->err, "chmod 600"));
}

static void test_legacy_config_named_and_with_credential_json(void **state)
{
    struct fixture *f = *state;

    /* a "profile" field names it; it is active all the same */
    write_ucloud(f, NULL,
                 "{\"profile\": \"old\", \"public_key\": \"OLDpub01\","
                 " \"private_key\": \"OLDpriv01\", \"timeout_sec\": 9}");
    load_ok(f, NULL);
    assert_string_equal(f->c.private_key, "OLDpriv01");
    assert_int_equal(f->c.timeout_sec, 9);
    assert_non_null(strstr(f->c.source, "'old'"));
    config_credentials_clear(&f->c);

    /* next to a credential.json, the keys come from there; the legacy
     * object still gives the settings of "default" */
    write_ucloud(f, uc_cred_json, "{\"project_id\": \"org-legacy\", \"region\": \"cn-sh2\"}");
    load_ok(f, NULL);
    assert_string_equal(f->c.private_key, "UCApriv01");
    assert_string_equal(f->c.project_id, "org-legacy");
    config_credentials_clear(&f->c);

    /* a legacy config.json without keys and no credential.json: no keys here */
    snprintf(f->path, sizeof(f->path), "%s/credential.json", f->ucloud);
    assert_int_equal(unlink(f->path), 0);
    expect_fail(f, NULL, -ENOENT);
}

/* ---- repeated profile names: the last entry wins ---- */

static void test_repeated_profile_last_wins(void **state)
{
    static const char cred[] =
        "[{\"profile\": \"prod\", \"public_key\": \"OLDpub01\", \"private_key\": \"OLDpriv01\"},"
        " {\"profile\": \"default\", \"public_key\": \"DEFpub01\", \"private_key\": \"DEFpriv01\"},"
        " {\"profile\": \"prod\", \"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\"}]";
    static const char conf[] =
        "[{\"profile\": \"prod\", \"active\": true, \"project_id\": \"org-old\"},"
        " {\"profile\": \"prod\", \"project_id\": \"org-new\", \"timeout_sec\": 7}]";
    struct fixture *f = *state;
    struct config_request req = {.profile = "prod"};
    const char *dirs[] = {f->dezai, f->ucloud};

    for (size_t i = 0; i < 2; i++) {
        write_file(f, dirs[i], "credential.json", 0600, cred);
        write_file(f, dirs[i], "config.json", 0600, conf);
        load_ok(f, &req);
        assert_string_equal(f->c.public_key, PUB);
        assert_string_equal(f->c.private_key, PRIV);
        assert_string_equal(f->c.project_id, "org-new");
        assert_int_equal(f->c.timeout_sec, 7);
        config_credentials_clear(&f->c);

        /* the active flag sat on the entry a later one replaced */
        load_ok(f, NULL);
        assert_string_equal(f->c.private_key, "DEFpriv01");
        config_credentials_clear(&f->c);

        snprintf(f->path, sizeof(f->path), "%s/credential.json", dirs[i]);
        unlink(f->path);
        snprintf(f->path, sizeof(f->path), "%s/config.json", dirs[i]);
        unlink(f->path);
    }
}

/* ---- sign-in (OAuth) profiles ---- */

static void test_oauth_profile_message(void **state)
{
    static const char *const creds[] = {
        "[{\"profile\": \"sso\", \"public_key\": \"\", \"private_key\": \"\", \"cookie\": \"\","
        "  \"auth_mode\": \"oauth\", \"access_token\": \"TOKsecret0001\","
        "  \"refresh_token\": \"REFsecret0001\", \"expires_at\": 1795000000}]",
        /* no auth_mode: an empty public_key with a token says the same */
        "[{\"profile\": \"sso\", \"public_key\": \"\", \"private_key\": \"" PRIV "\","
        "  \"access_token\": \"TOKsecret0001\", \"refresh_token\": \"REFsecret0001\"}]",
        /* auth_mode alone, keys absent altogether */
        "[{\"profile\": \"sso\", \"auth_mode\": \"oauth\"}]",
    };
    struct fixture *f = *state;
    struct config_request req = {.profile = "sso"};
    char cred_path[PATH_MAX + 20];

    snprintf(cred_path, sizeof(cred_path), "%s/credential.json", f->ucloud);
    for (size_t i = 0; i < sizeof(creds) / sizeof(creds[0]); i++) {
        write_ucloud(f, creds[i], NULL);
        expect_fail(f, &req, -EINVAL);
        if (!strstr(f->err, "sign-in (OAuth) profile"))
            fail_msg("case %zu: %s", i, f->err);
        assert_non_null(strstr(f->err, "'sso'"));
        assert_non_null(strstr(f->err, cred_path));
        assert_non_null(strstr(f->err, "public_key/private_key"));
        assert_non_null(strstr(f->err, "DEZAI_PUBLIC_KEY and DEZAI_PRIVATE_KEY"));
        assert_null(strstr(f->err, "TOKsecret0001"));
        assert_null(strstr(f->err, "REFsecret0001"));
        assert_null(strstr(f->err, "is empty"));
        assert_null(strstr(f->err, "is missing"));
    }

    /* keys added to the profile, as the message says: they are used */
    write_ucloud(f,
                 "[{\"profile\": \"sso\", \"public_key\": \"" PUB "\", \"private_key\": \"" PRIV
                 "\", \"auth_mode\": \"oauth\", \"access_token\": \"TOKsecret0001\"}]",
                 NULL);
    load_ok(f, &req);
    assert_string_equal(f->c.private_key, PRIV);
}

/* ---- timeout_sec and max_retry_times ---- */

static void test_profile_request_defaults(void **state)
{
    struct values {
        const char *json;
        int timeout, retries;
    };
    static const struct values cases[] = {
        {"\"timeout_sec\": 12, \"max_retry_times\": 2", 12, 2},
        {"\"timeout_sec\": 1, \"max_retry_times\": 0", 1, 0},
        {"\"timeout_sec\": 3600, \"max_retry_times\": 100", 3600, 100},
        {"\"agree_upload_log\": true", 0, -1},
        {"\"timeout_sec\": 0, \"max_retry_times\": -1", 0, -1},
        {"\"timeout_sec\": -5, \"max_retry_times\": -3", 0, -1},
        {"\"timeout_sec\": 3601, \"max_retry_times\": 101", 0, -1},
        {"\"timeout_sec\": 1e12, \"max_retry_times\": 1e12", 0, -1},
        {"\"timeout_sec\": 1.5, \"max_retry_times\": 2.5", 0, -1},
        {"\"timeout_sec\": \"15\", \"max_retry_times\": \"3\"", 0, -1},
        {"\"timeout_sec\": null, \"max_retry_times\": true", 0, -1},
    };
    struct fixture *f = *state;
    char conf[256];

    write_profiles(f, cred_json, NULL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(conf, sizeof(conf), "[{\"profile\": \"default\", %s}]", cases[i].json);
        write_file(f, f->dezai, "config.json", 0644, conf);
        load_ok(f, NULL);
        if (f->c.timeout_sec != cases[i].timeout || f->c.max_retry_times != cases[i].retries)
            fail_msg("case %zu (%s): timeout %d retries %d", i, cases[i].json, f->c.timeout_sec,
                     f->c.max_retry_times);
        config_credentials_clear(&f->c);
    }

    /* the keys came from elsewhere: no profile, no defaults */
    setenv("DEZAI_PUBLIC_KEY", ENV_PUB, 1);
    setenv("DEZAI_PRIVATE_KEY", ENV_PRIV, 1);
    load_ok(f, NULL);
    assert_int_equal(f->c.timeout_sec, 0);
    assert_int_equal(f->c.max_retry_times, -1);
}

/* ---- trust: who may write the files and their directories ---- */

static void test_trust_credential_json_writable(void **state)
{
    struct fixture *f = *state;

    write_ucloud(f, uc_cred_json, NULL);
    write_file(f, f->ucloud, "credential.json", 0620, uc_cred_json);
    expect_fail(f, NULL, -EACCES);
    assert_non_null(strstr(f->err, f->path));
    assert_non_null(strstr(f->err, "writable"));
    assert_non_null(strstr(f->err, "chmod 600"));

    write_file(f, f->ucloud, "credential.json", 0600, uc_cred_json);
    write_file(f, f->ucloud, "config.json", 0666, uc_conf_json);
    expect_fail(f, NULL, -EACCES);
    assert_non_null(strstr(f->err, f->path));
    assert_non_null(strstr(f->err, "chmod 600"));
}

/* A directory others can write lets them replace the file in it. */
static void test_trust_profile_dir_writable(void **state)
{
    static const mode_t refused[] = {0777, 0770, 0707, 01777, 0720};
    struct fixture *f = *state;
    const char *dirs[] = {f->dezai, f->ucloud};

    for (size_t d = 0; d < 2; d++) {
        write_file(f, dirs[d], "credential.json", 0600, cred_json);
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
            char mode[16];

            assert_int_equal(chmod(dirs[d], refused[i]), 0);
            expect_fail(f, NULL, -EACCES);
            snprintf(mode, sizeof(mode), "(mode %04o)", (unsigned)refused[i]);
            assert_non_null(strstr(f->err, dirs[d]));
            assert_non_null(strstr(f->err, mode));
            assert_non_null(strstr(f->err, "chmod go-w"));
        }
        assert_int_equal(chmod(dirs[d], 0755), 0);
        load_ok(f, NULL);
        config_credentials_clear(&f->c);
        snprintf(f->path, sizeof(f->path), "%s/credential.json", dirs[d]);
        unlink(f->path);
    }

    /* the same for a directory holding only config.json */
    write_file(f, f->ucloud, "credential.json", 0600, uc_cred_json);
    write_file(f, f->ucloud, "config.json", 0600, uc_conf_json);
    write_file(f, f->dezai, "config.json", 0644, "[]");
    assert_int_equal(chmod(f->dezai, 0777), 0);
    expect_fail(f, NULL, -EACCES);
    assert_non_null(strstr(f->err, f->dezai));
}

static void test_trust_credentials_file_dir(void **state)
{
    struct fixture *f = *state;
    struct config_request req = {0};
    char dir[PATH_MAX];

    snprintf(dir, sizeof(dir), "%s/shared", f->home);
    assert_int_equal(mkdir(dir, 0700), 0);
    req.credentials_file = write_file(
        f, dir, "keys.json", 0600, "{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\"}");
    /* world-writable with the sticky bit, like /tmp: others cannot replace
     * a file they do not own there */
    assert_int_equal(chmod(dir, 01777), 0);
    load_ok(f, &req);
    assert_string_equal(f->c.private_key, PRIV);
    config_credentials_clear(&f->c);
    assert_int_equal(config_check_private_file(req.credentials_file, f->err, sizeof(f->err)), 0);

    /* without the sticky bit they can */
    assert_int_equal(chmod(dir, 0777), 0);
    expect_fail(f, &req, -EACCES);
    assert_non_null(strstr(f->err, dir));
    assert_non_null(strstr(f->err, "chmod go-w"));
    assert_non_null(strstr(f->err, "(mode 0777)"));
    assert_int_equal(config_check_private_file(req.credentials_file, f->err, sizeof(f->err)),
                     -EACCES);

    assert_int_equal(chmod(dir, 0770), 0);
    expect_fail(f, &req, -EACCES);
    assert_non_null(strstr(f->err, "chmod go-w"));
}

/* The directory checked is the one that holds the file, not the link's. */
static void test_trust_symlink_into_writable_dir(void **state)
{
    struct fixture *f = *state;
    struct config_request req = {0};
    char dir[PATH_MAX], link[PATH_MAX];

    snprintf(dir, sizeof(dir), "%s/open", f->home);
    assert_int_equal(mkdir(dir, 0700), 0);
    write_file(f, dir, "keys.json", 0600,
               "{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\"}");
    snprintf(link, sizeof(link), "%s/link.json", f->home);
    assert_int_equal(symlink(f->path, link), 0);
    assert_int_equal(chmod(dir, 0777), 0);
    req.credentials_file = link;
    expect_fail(f, &req, -EACCES);
    assert_non_null(strstr(f->err, dir));
    assert_non_null(strstr(f->err, link));
}

#define OTHER_UID 65534

static bool skip_unless_root(void)
{
    if (geteuid() == 0)
        return false;
    print_message("not root: cannot give a file to another user\n");
    return true;
}

static void assert_owner_refused(const struct fixture *f, const char *path)
{
    assert_non_null(strstr(f->err, path));
    assert_non_null(strstr(f->err, "owned by uid 65534"));
    assert_non_null(strstr(f->err, "chown"));
}

static void test_trust_file_owned_by_another_user(void **state)
{
    struct fixture *f = *state;
    struct config_request req = {0};
    char link[PATH_MAX];

    if (skip_unless_root())
        skip();
    /* credential.json, in either directory */
    write_ucloud(f, uc_cred_json, uc_conf_json);
    write_file(f, f->ucloud, "credential.json", 0600, uc_cred_json);
    assert_int_equal(chown(f->path, OTHER_UID, OTHER_UID), 0);
    expect_fail(f, NULL, -EACCES);
    assert_owner_refused(f, f->path);
    write_file(f, f->ucloud, "credential.json", 0600, uc_cred_json);
    load_ok(f, NULL);
    config_credentials_clear(&f->c);

    /* config.json */
    write_profiles(f, cred_json, conf_json_prod_active);
    assert_int_equal(chown(f->path, OTHER_UID, OTHER_UID), 0);
    expect_fail(f, NULL, -EACCES);
    assert_owner_refused(f, f->path);

    /* -o credentials=FILE, directly and through a symlink of ours */
    req.credentials_file =
        write_file(f, f->home, "keys.json", 0600,
                   "{\"public_key\": \"" PUB "\", \"private_key\": \"" PRIV "\"}");
    assert_int_equal(chown(f->path, OTHER_UID, OTHER_UID), 0);
    expect_fail(f, &req, -EACCES);
    assert_owner_refused(f, f->path);
    snprintf(link, sizeof(link), "%s/link.json", f->home);
    assert_int_equal(symlink(f->path, link), 0);
    req.credentials_file = link;
    expect_fail(f, &req, -EACCES);
    assert_owner_refused(f, link);
}

static void test_trust_dir_owned_by_another_user(void **state)
{
    struct fixture *f = *state;

    if (skip_unless_root())
        skip();
    write_file(f, f->dezai, "credential.json", 0600, cred_json);
    assert_int_equal(chown(f->dezai, OTHER_UID, OTHER_UID), 0);
    expect_fail(f, NULL, -EACCES);
    assert_owner_refused(f, f->dezai);
}

/* ---- nothing found ---- */

static void test_nothing_found(void **state)
{
    struct fixture *f = *state;

    expect_fail(f, NULL, -ENOENT);
    assert_non_null(strstr(f->err, "DEZAI_PUBLIC_KEY"));
    assert_non_null(strstr(f->err, "DEZAI_PRIVATE_KEY"));
    assert_non_null(strstr(f->err, "credentials="));
    assert_non_null(strstr(f->err, "credential.json"));
    assert_non_null(strstr(f->err, f->home));
}

static void test_nothing_found_config_only(void **state)
{
    struct fixture *f = *state;

    write_profiles(f, NULL, conf_json_prod_active);
    expect_fail(f, NULL, -ENOENT);
}

static void test_nothing_found_no_home(void **state)
{
    struct fixture *f = *state;

    unsetenv("HOME");
    expect_fail(f, NULL, -ENOENT);
    assert_non_null(strstr(f->err, "~/.dezai/credential.json"));
}

static void test_err_is_one_line_for_hostile_path(void **state)
{
    struct fixture *f = *state;
    struct config_request req = {0};
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/a\nb\r\x1b[31m.json", f->home);
    req.credentials_file = path;
    expect_fail(f, &req, -ENOENT);
}

/* ---- config_check_private_file ---- */

static void test_check_private_file(void **state)
{
    struct fixture *f = *state;
    char err[512];

    write_file(f, f->home, "k", 0600, "{}");
    assert_int_equal(config_check_private_file(f->path, err, sizeof(err)), 0);
    assert_int_equal(chmod(f->path, 0400), 0);
    assert_int_equal(config_check_private_file(f->path, err, sizeof(err)), 0);

    assert_int_equal(chmod(f->path, 0604), 0);
    assert_int_equal(config_check_private_file(f->path, err, sizeof(err)), -EACCES);
    assert_non_null(strstr(err, "chmod 600"));
    assert_non_null(strstr(err, f->path));
    assert_non_null(strstr(err, "(mode 0604)"));
    assert_null(strchr(err, '\n'));

    assert_int_equal(config_check_private_file(f->home, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, f->home));

    snprintf(f->path, sizeof(f->path), "%s/missing", f->home);
    assert_int_equal(config_check_private_file(f->path, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, f->path));

    /* a tiny err buffer is truncated, never overrun */
    assert_int_equal(config_check_private_file(f->path, err, 4), -ENOENT);
    assert_int_equal(strlen(err), 3);
}

/* ---- clearing and scrubbing ---- */

static void test_credentials_clear(void **state)
{
    struct fixture *f = *state;
    struct credentials zero;

    setenv("DEZAI_PUBLIC_KEY", ENV_PUB, 1);
    setenv("DEZAI_PRIVATE_KEY", ENV_PRIV, 1);
    setenv("DEZAI_PROJECT_ID", "org-env", 1);
    setenv("DEZAI_API_URL", "http://x/", 1);
    load_ok(f, NULL);
    assert_non_null(f->c.private_key);

    config_credentials_clear(&f->c);
    memset(&zero, 0, sizeof(zero));
    assert_memory_equal(&f->c, &zero, sizeof(zero));
    config_credentials_clear(&f->c); /* idempotent */
    config_credentials_clear(NULL);
    assert_memory_equal(&f->c, &zero, sizeof(zero));
}

static void test_failure_leaves_out_empty(void **state)
{
    struct fixture *f = *state;

    /* out holds garbage on entry: a failed load must zero it, not free it */
    memset(&f->c, 0xa5, sizeof(f->c));
    setenv("DEZAI_PUBLIC_KEY", ENV_PUB, 1);
    expect_fail(f, NULL, -EINVAL);
}

static void test_scrub_environment(void **state)
{
    /* putenv keeps these very buffers in the environment, the way execve's
     * strings are: after the scrub the values must be zeros in place. */
    static char dz_priv[] = "DEZAI_PRIVATE_KEY=" ENV_PRIV;
    static char uc_priv[] = "UCLOUD_PRIVATE_KEY=" UC_PRIV;
    static char uc_pub[] = "UCLOUD_PUBLIC_KEY=" UC_PUB;
    static const char zeros[sizeof(ENV_PRIV)];
    static const char uc_zeros[sizeof(UC_PRIV)];

    (void)state;
    setenv("DEZAI_PUBLIC_KEY", ENV_PUB, 1);
    assert_int_equal(putenv(dz_priv), 0);
    assert_int_equal(putenv(uc_priv), 0);
    assert_int_equal(putenv(uc_pub), 0);
    setenv("DEZAI_PROJECT_ID", "org-env", 1);
    setenv("UCLOUD_PROJECT_ID", "org-uc", 1);
    setenv("UCLOUD_PROFILE", "p", 1);
    config_scrub_environment();
    assert_null(getenv("DEZAI_PUBLIC_KEY"));
    assert_null(getenv("DEZAI_PRIVATE_KEY"));
    assert_null(getenv("UCLOUD_PUBLIC_KEY"));
    assert_null(getenv("UCLOUD_PRIVATE_KEY"));
    assert_memory_equal(dz_priv + strlen("DEZAI_PRIVATE_KEY="), zeros, sizeof(zeros));
    assert_memory_equal(uc_priv + strlen("UCLOUD_PRIVATE_KEY="), uc_zeros, sizeof(uc_zeros));
    assert_null(strstr(uc_pub, UC_PUB));
    assert_string_equal(getenv("DEZAI_PROJECT_ID"), "org-env");
    assert_string_equal(getenv("UCLOUD_PROJECT_ID"), "org-uc");
    assert_string_equal(getenv("UCLOUD_PROFILE"), "p");
    config_scrub_environment(); /* nothing left to remove is fine */
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_env_wins_over_everything),
        T(test_env_without_project),
        T(test_env_public_only),
        T(test_env_private_only),
        T(test_env_both_empty_falls_through),
        T(test_env_key_with_whitespace),
        T(test_env_project_control_char),
        T(test_credentials_file_used),
        T(test_credentials_file_optional_fields),
        T(test_env_project_and_url_override_file),
        T(test_credentials_file_0644_refused),
        T(test_credentials_file_group_writable_refused),
        T(test_credentials_file_missing),
        T(test_credentials_file_not_regular),
        T(test_credentials_file_symlink_followed),
        T(test_credentials_file_malformed),
        T(test_credentials_file_with_nul_byte),
        T(test_credentials_file_wrong_types),
        T(test_credentials_file_bad_key_chars),
        T(test_credentials_file_too_big),
        T(test_credentials_file_deep_nesting),
        T(test_profile_active_chosen),
        T(test_profile_explicit_chosen),
        T(test_profile_default_fallback_no_config),
        T(test_profile_default_fallback_none_active),
        T(test_profile_home_from_request),
        T(test_profile_env_overrides_config),
        T(test_profile_unknown),
        T(test_profile_active_missing_from_credentials),
        T(test_profile_no_default),
        T(test_profile_credential_json_0640_refused),
        T(test_profile_config_json_readable_not_writable),
        T(test_profile_malformed),
        T(test_profile_wrong_types),
        T(test_profile_name_with_newline),
        T(test_profile_dezai_is_a_file),
        T(test_ucloud_env_keys),
        T(test_dezai_env_wins_over_ucloud_env),
        T(test_ucloud_env_one_without_the_other),
        T(test_env_project_and_url_fallbacks),
        T(test_profile_from_environment),
        T(test_resolution_order),
        T(test_ucloud_profiles_used),
        T(test_dezai_wins_over_ucloud),
        T(test_dezai_without_keys_falls_to_ucloud),
        T(test_ucloud_legacy_config),
        T(test_legacy_config_named_and_with_credential_json),
        T(test_repeated_profile_last_wins),
        T(test_oauth_profile_message),
        T(test_profile_request_defaults),
        T(test_trust_credential_json_writable),
        T(test_trust_profile_dir_writable),
        T(test_trust_credentials_file_dir),
        T(test_trust_symlink_into_writable_dir),
        T(test_trust_file_owned_by_another_user),
        T(test_trust_dir_owned_by_another_user),
        T(test_nothing_found),
        T(test_nothing_found_config_only),
        T(test_nothing_found_no_home),
        T(test_err_is_one_line_for_hostile_path),
        T(test_check_private_file),
        T(test_credentials_clear),
        T(test_failure_leaves_out_empty),
        T(test_scrub_environment),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
