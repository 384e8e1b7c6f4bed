/* main: command line, credentials, the credential check, mount, daemonize.
 *
 * Nothing below this file knows about argv. The order matters for users:
 * every check that can fail (options, credentials, the API answering with
 * our keys) runs before the mount, so a failure is one line on stderr, a
 * non-zero exit and no mount left behind; the process daemonizes only once
 * the mount is up.
 */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "api.h"
#include "catalog.h"
#include "config.h"
#include "fs.h"
#include "http.h"
#include "listing.h"
#include "log.h"
#include "opts.h"
#include "recovery.h"
#include "retry.h"
#include "urls.h"

#define DEFAULT_API_URL "https://api.dezai.com/"
#define DEFAULT_TIMEOUT 30
#define DEFAULT_RETRIES 5

struct options {
    char *api_url;
    char *profile;
    char *credentials;
    char *project_id;
    char *regions;
    char *cafile;
    char *block_size;
    char *readahead;
    char *cache_size;
    int intranet;
    int show_all;
    unsigned url_ttl;
    unsigned dir_ttl;
    /* UINT_MAX = not given: the profile's timeout_sec / max_retry_times,
     * else the defaults above. */
    unsigned timeout;
    unsigned retries;
    unsigned max_conns;
    unsigned max_threads; /* UINT_MAX = not given: FS_WORKERS */
    /* Applied by fs.c, not libfuse: its umask replaces the mode bits with
     * 0777 & ~umask, which would make read-only files executable.
     * UINT_MAX = not given. */
    unsigned uid, gid, umask;
    char *nonopt[3];
    int n_nonopt;
};

#define OPT(t, f)                                                                                  \
    {                                                                                              \
        t, offsetof(struct options, f), 1                                                          \
    }
static const struct fuse_opt opt_spec[] = {
    OPT("api_url=%s", api_url),
    OPT("profile=%s", profile),
    OPT("credentials=%s", credentials),
    OPT("project_id=%s", project_id),
    OPT("regions=%s", regions),
    OPT("cafile=%s", cafile),
    OPT("intranet", intranet),
    OPT("show_all", show_all),
    OPT("url_ttl=%u", url_ttl),
    OPT("dir_ttl=%u", dir_ttl),
    OPT("timeout=%u", timeout),
    OPT("retries=%u", retries),
    OPT("max_conns=%u", max_conns),
    /* Taken from libfuse's own parser, which cannot tell its default of 10
     * from a value the user gave. */
    OPT("max_threads=%u", max_threads),
    OPT("block_size=%s", block_size),
    OPT("readahead=%s", readahead),
    OPT("uid=%u", uid),
    OPT("gid=%u", gid),
    OPT("umask=%o", umask),
    OPT("cache_size=%s", cache_size),
    FUSE_OPT_END,
};

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
    struct options *o = data;
    if (key == FUSE_OPT_KEY_NONOPT) {
        if (o->n_nonopt >= 3)
            return 1; /* let fuse_parse_cmdline complain */
        o->nonopt[o->n_nonopt++] = strdup(arg);
        return 0;
    }
    return 1;
}

static void usage(const char *prog)
{
    printf("usage: %s [options] MOUNTPOINT\n"
           "       %s [options] SOURCE MOUNTPOINT   (mount(8)/fstab form; SOURCE is a profile\n"
           "                                        name or \"umongofs\")\n\n"
           "Mounts the managed-MongoDB backups of a Dezai account as a read-only tree:\n"
           "MOUNTPOINT/<region>/<cluster>/<backup>\n\n"
           "general options:\n"
           "    -h, --help             print this help and exit\n"
           "    -V, --version          print the version and exit\n"
           "    -f                     stay in the foreground\n"
           "    -d                     debug output (implies -f)\n"
           "    -s                     single-threaded\n"
           "    -o opt[,opt...]        mount options, below\n\n"
           "umongofs options:\n"
           "    -o api_url=URL         API endpoint (default: env DEZAI_API_URL, else\n"
           "                           UCLOUD_API_BASE_URL, else the profile's base_url,\n"
           "                           else " DEFAULT_API_URL ")\n"
           "    -o profile=NAME        profile in ~/.dezai or ~/.ucloud (default: env\n"
           "                           DEZAI_PROFILE, else UCLOUD_PROFILE, else the active\n"
           "                           one, else default)\n"
           "    -o credentials=FILE    JSON file {\"public_key\": ..., \"private_key\": ...},\n"
           "                           mode 600\n"
           "    -o project_id=ID       ProjectId sent with every call (default: env\n"
           "                           DEZAI_PROJECT_ID, else UCLOUD_PROJECT_ID, else the\n"
           "                           profile's)\n"
           "    -o regions=R1:R2       show only these regions (default: all)\n"
           "    -o intranet            download through IntranetAddress\n"
           "    -o url_ttl=SEC         lifetime asked for download URLs (default 3600)\n"
           "    -o dir_ttl=SEC         how long a listing is trusted (default 60)\n"
           "    -o show_all            also show unfinished backups (size 0, unreadable)\n"
           "    -o timeout=SEC         a transfer with no byte (or under 4 KiB/s) for this\n"
           "                           long is retried; a read fails at the latest\n"
           "                           timeout x (retries+1) plus backoff after it started\n"
           "                           (default: the profile's timeout_sec, else 30)\n"
           "    -o retries=N           retries of a request that delivered nothing before an\n"
           "                           error (default: the profile's max_retry_times, else 5)\n"
           "    -o cafile=FILE         CA bundle for TLS (default: system store)\n"
           "    -o max_conns=N         parallel downloads from the object store (default 8)\n"
           "    -o block_size=SIZE     bytes per download request, e.g. 2M (default 2M, min 1M)\n"
           "    -o readahead=SIZE      how far ahead sequential reads are fetched (default 16M,\n"
           "                           at most 1G)\n"
           "    -o cache_size=SIZE     memory for downloaded blocks, all files together, reads\n"
           "                           included (default 256M, at most 16G)\n"
           "    -o max_threads=N       FUSE worker threads (default %u: enough that stuck reads\n"
           "                           never hold up stat and ls)\n"
           "    -o uid=N,gid=N,umask=M owner and mode bits of every entry\n"
           "    -o allow_other         let other users see the mount\n"
           "    -o auto_unmount        unmount when the process dies\n\n"
           "credentials, first match wins:\n"
           "    1. DEZAI_PUBLIC_KEY + DEZAI_PRIVATE_KEY in the environment\n"
           "    2. UCLOUD_PUBLIC_KEY + UCLOUD_PRIVATE_KEY in the environment\n"
           "    3. -o credentials=FILE\n"
           "    4. ~/.dezai/credential.json + config.json; where ~/.dezai has no keys,\n"
           "       ~/.ucloud/credential.json + config.json (upstream CLI)\n"
           "Those files and their directories must belong to you or root and not be\n"
           "writable by group or others; files holding keys must be mode 600.\n\n"
           "Unmount with: fusermount3 -u MOUNTPOINT\n",
           prog, prog, (unsigned)FS_WORKERS);
}

/* "a:b:c" -> NULL-terminated array (the strings point into s). */
static char **split_regions(char *s)
{
    size_t n = 1;
    for (char *p = s; *p; p++)
        n += *p == ':' || *p == ',';
    char **v = calloc(n + 1, sizeof(*v));
    if (!v)
        return NULL;
    size_t k = 0;
    for (char *save = NULL, *t = strtok_r(s, ":", &save); t; t = strtok_r(NULL, ":", &save))
        v[k++] = t;
    return v;
}

/* The catalog's circuit breaker counts the calls that got no HTTP answer
 * at all (network, timeout), so those come back as -ETIMEDOUT; any answer,
 * even a broken one, says the API is up. http_last_error() is this thread's
 * and set only when the last attempt got no reply. With err given, api_call
 * leaves the logging of RetCode answers to us. */
static int list_call(void *ctx, const char *action, const struct api_param *p, size_t n, bool quick,
                     cJSON **out)
{
    struct api_error e;
    int rc = api_call(ctx, action, p, n, quick ? 0 : -1, out, &e);
    if (rc == -EIO && e.retcode < 0 && http_last_error()[0])
        return -ETIMEDOUT;
    if (rc && rc != -EACCES && e.retcode > 0 && !api_retcode_retryable(e.retcode))
        log_err("%s: %s", action, e.message);
    return rc;
}

/* Reading a restore-window xattr asks once, without retries: a getfattr
 * must not wait out a retry schedule. */
static int recovery_call(void *ctx, const char *action, const struct api_param *p, size_t n,
                         cJSON **out, struct api_error *err)
{
    return api_call(ctx, action, p, n, 0, out, err);
}

/* One call of the start-up check. Wrong keys or a dead endpoint must fail
 * within seconds, so a transport failure is retried once, with a short
 * timeout; the API saying "busy" or "rate limited" gets every retry. */
static int start_call(struct api_client *c, unsigned retries, const char *action,
                      const struct api_param *p, size_t n, cJSON **out, struct api_error *e)
{
    unsigned transport_failures = 0;
    int rc;

    for (unsigned attempt = 0;; attempt++) {
        rc = api_call(c, action, p, n, 0, out, e);
        if (rc == 0 || attempt >= retries)
            break;
        if (e->retcode >= 0 && !api_retcode_retryable(e->retcode))
            break;
        if (e->retcode < 0 && ++transport_failures > 1)
            break;
        retry_sleep(attempt);
    }
    return rc;
}

/* The one line a failed start-up check prints: what is wrong and what to fix. */
static void report_start_failure(const struct api_opts *o, const char *source,
                                 const struct api_error *e)
{
    long rc = e->retcode;
    /* From the command line, the environment or a file: shown escaped. */
    char url[512], project[256], src[512];
    log_escape(o->url, url, sizeof(url));
    log_escape(o->project_id ? o->project_id : "(the account's default)", project, sizeof(project));
    log_escape(source, src, sizeof(src));

    if (rc == 292)
        fprintf(stderr,
                "umongofs: the API at %s knows no project '%s' for the keys from %s (%s); "
                "fix -o project_id=, DEZAI_PROJECT_ID or the profile's project_id\n",
                url, project, src, e->message);
    else if (rc >= 171 && rc <= 174)
        fprintf(stderr,
                "umongofs: the API at %s refused the keys from %s (permission denied): %s\n", url,
                src, e->message);
    else if (api_retcode_errno(rc) == -EACCES)
        fprintf(stderr,
                "umongofs: the API at %s accepted the keys from %s but denies them access "
                "(permission denied: zone, IP or IAM policy): %s\n",
                url, src, e->message);
    else
        fprintf(stderr, "umongofs: cannot use the API at %s: %s\n", url, e->message);
}

/* The first region the mount will show, for the project check. */
static const char *first_wanted_region(char *const *wanted, const cJSON *answer)
{
    const cJSON *regions = cJSON_GetObjectItemCaseSensitive(answer, "Regions");
    const cJSON *r;

    if (!cJSON_IsArray(regions))
        return NULL;
    cJSON_ArrayForEach(r, regions)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(r, "Region");
        if (!cJSON_IsString(name) || !name->valuestring || !*name->valuestring)
            continue;
        if (!wanted)
            return name->valuestring;
        for (char *const *w = wanted; *w; w++)
            if (strcmp(*w, name->valuestring) == 0)
                return name->valuestring;
    }
    return NULL;
}

/* Before mounting: GetRegion proves the keys and the endpoint; one
 * ListUMongoDBInstances proves the project and the keys' rights on the
 * backup service, since a wrong ProjectId or an IAM policy may only show
 * there. Only a configuration error (permission, RetCode 292) fails the
 * mount on that second call: anything else the tree reports when listed. */
static int check_api(const struct api_opts *base, const char *source, char *const *wanted,
                     cJSON **regions_answer)
{
    struct api_opts o = *base;
    struct api_error e;
    cJSON *j = NULL;
    int rc;

    o.timeout_s = o.timeout_s < 10 ? o.timeout_s : 10;
    struct api_client *c = api_new(&o);
    if (!c) {
        fprintf(stderr, "umongofs: out of memory\n");
        return -1;
    }
    int saved = log_level();
    log_init(LOG_CRIT, 0); /* one line from us, not the API layer's retries */
    rc = start_call(c, base->retries, "GetRegion", NULL, 0, &j, &e);
    const char *region = rc ? NULL : first_wanted_region(wanted, j);
    if (region) {
        struct api_param p[] = {{"Region", region}};
        cJSON *l = NULL;
        rc = start_call(c, base->retries, "ListUMongoDBInstances", p, 1, &l, &e);
        cJSON_Delete(l);
        if (rc != -EACCES)
            rc = 0;
    }
    log_init(saved, 0);
    if (rc) {
        report_start_failure(base, source, &e);
        cJSON_Delete(j);
        j = NULL;
    }
    *regions_answer = j;
    api_free(&c);
    return rc ? -1 : 0;
}

/* A region asked for with regions= that the account does not have is
 * most likely a typo: say so, and which regions there are. */
static void warn_unknown_regions(char *const *wanted, const cJSON *answer)
{
    struct listing_region *r = NULL;
    size_t n = 0;
    if (!wanted || listing_parse_regions(answer, &r, &n) != 0)
        return;
    for (char *const *w = wanted; *w; w++) {
        bool found = false;
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(r[i].region, *w) == 0;
        if (found)
            continue;
        char have[512] = "";
        size_t len = 0;
        for (size_t i = 0; i < n && len < sizeof(have); i++) {
            bool dup = false;
            for (size_t k = 0; k < i && !dup; k++)
                dup = strcmp(r[k].region, r[i].region) == 0;
            if (!dup)
                len += (size_t)snprintf(have + len, sizeof(have) - len, "%s%s", len ? " " : "",
                                        r[i].region);
        }
        char safe[128];
        log_warn("regions=: the account has no region '%s' (it has: %s)",
                 log_escape(*w, safe, sizeof(safe)), have);
    }
    listing_free_regions(&r, n);
}

/* libfuse's handlers for SIGHUP, SIGINT and SIGTERM end the loop, but its
 * workers only stop between requests, and a read stuck on a dead store
 * would hold them for its whole retry schedule. Ours run first and end every
 * transfer and backoff at once (retry_abort_all: one atomic store, so safe
 * in a handler); the stuck reads then answer EIO and libfuse's handler,
 * called next, ends the loop. */
static const int stop_signals[3] = {SIGHUP, SIGINT, SIGTERM};
static struct sigaction fuse_actions[3];

static void on_stop_signal(int sig)
{
    retry_abort_all();
    for (int i = 0; i < 3; i++) {
        void (*h)(int) = fuse_actions[i].sa_handler;
        if (stop_signals[i] == sig && !(fuse_actions[i].sa_flags & SA_SIGINFO) && h != SIG_DFL &&
            h != SIG_IGN)
            h(sig);
    }
}

/* on: installs on_stop_signal in front of libfuse's handlers (call after
 * fuse_set_signal_handlers); off: puts libfuse's back. 0 or -1. */
static int chain_stop_signals(bool on)
{
    for (int i = 0; i < 3; i++) {
        struct sigaction sa = {.sa_handler = on_stop_signal};
        sigemptyset(&sa.sa_mask);
        if (on && sigaction(stop_signals[i], &sa, &fuse_actions[i]) != 0)
            return -1;
        if (!on)
            sigaction(stop_signals[i], &fuse_actions[i], NULL);
    }
    return 0;
}

/* The kernel gives a FUSE mount 128 KiB of readahead, so sequential reads
 * reach us as 128 KiB requests, each a round trip through /dev/fuse. Our
 * mount has a backing device of its own ("0:NN" in /sys/class/bdi); raising
 * its readahead to 1 MiB makes the requests 1 MiB (the FUSE maximum here).
 * Only root may do this; elsewhere it is skipped. Uses mountinfo, not
 * stat(mountpoint): the mount cannot answer until the loop runs. */
static void raise_readahead(const char *mountpoint)
{
    char real[PATH_MAX];
    if (!realpath(mountpoint, real))
        return;
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f)
        return;
    char line[4096], dev[32] = "", mnt[PATH_MAX];
    while (fgets(line, sizeof(line), f)) {
        unsigned id, parent;
        char d[32];
        if (sscanf(line, "%u %u %31s %*s %4095s", &id, &parent, d, mnt) == 4 &&
            strcmp(mnt, real) == 0 && strstr(line, " - fuse.umongofs "))
            snprintf(dev, sizeof(dev), "%s", d); /* the last match is the newest mount */
    }
    fclose(f);
    if (!dev[0])
        return;
    char path[96];
    snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
    FILE *ra = fopen(path, "w");
    if (!ra) {
        log_debug("readahead left at the kernel's default (%s: %s)", path, strerror(errno));
        return;
    }
    fputs("1024\n", ra);
    if (fclose(ra) != 0)
        log_debug("could not raise readahead: %s", strerror(errno));
}

int main(int argc, char *argv[])
{
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    struct options o = {.url_ttl = 3600,
                        .dir_ttl = 60,
                        .timeout = UINT_MAX,
                        .retries = UINT_MAX,
                        .max_conns = 8,
                        .max_threads = UINT_MAX,
                        .uid = UINT_MAX,
                        .gid = UINT_MAX,
                        .umask = UINT_MAX};
    struct fuse_cmdline_opts cmd = {0};
    struct credentials cred = {0};
    struct api_client *api = NULL;
    struct catalog *cat = NULL;
    struct urls *urls = NULL;
    struct recovery *recovery = NULL;
    struct http_pool *data_http = NULL;
    struct fuse *fuse = NULL;
    char **regions = NULL;
    char *api_url = NULL;
    char err[512] = "";
    int ret = 1, mounted = 0;

    /* Before anything reads a key: a non-dumpable process leaves no core
     * file, and other processes of the same user can neither ptrace it nor
     * read its memory (/proc/PID/mem), where the private key lives. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        fprintf(stderr, "umongofs: cannot protect the keys from core dumps: %s\n", strerror(errno));
        goto out;
    }
    if (fuse_opt_parse(&args, &o, opt_spec, opt_proc) == -1)
        goto out;
    /* SOURCE MOUNTPOINT (mount(8)) or MOUNTPOINT alone. */
    const char *source = NULL;
    if (o.n_nonopt == 2)
        source = o.nonopt[0];
    if (o.n_nonopt > 2) {
        fprintf(stderr, "umongofs: too many arguments (see --help)\n");
        goto out;
    }
    if (o.n_nonopt >= 1)
        fuse_opt_add_arg(&args, o.nonopt[o.n_nonopt - 1]);
    if (fuse_parse_cmdline(&args, &cmd) != 0)
        goto out;
    if (cmd.show_help) {
        usage(argv[0]);
        printf("\nFUSE options:\n");
        fuse_cmdline_help();
        fuse_lib_help(&args);
        ret = 0;
        goto out;
    }
    if (cmd.show_version) {
        printf("umongofs %s\n", UMONGOFS_VERSION);
        printf("FUSE library %s\n", fuse_pkgversion());
        ret = 0;
        goto out;
    }
    if (!cmd.mountpoint) {
        fprintf(stderr, "umongofs: no mountpoint given (usage: umongofs [options] MOUNTPOINT)\n");
        goto out;
    }
    if (cmd.debug)
        cmd.foreground = 1;
    log_init(cmd.debug ? LOG_DEBUG : LOG_NOTICE, 0);

    /* Each size is checked against its own maximum before anything
     * multiplies it, so no value wraps around into the allowed range. */
    uint64_t block = 2u << 20, ahead = 16u << 20, cache = 256u << 20;
    if ((o.block_size && opts_parse_size(o.block_size, 64u << 20, &block) != 0) ||
        (o.readahead && opts_parse_size(o.readahead, 1u << 30, &ahead) != 0) ||
        (o.cache_size && opts_parse_size(o.cache_size, OPTS_SIZE_MAX, &cache) != 0) ||
        block < (1u << 20) || ahead == 0 || cache < block || o.max_conns == 0 || o.max_conns > 64 ||
        o.url_ttl == 0 || o.timeout == 0 || o.max_threads == 0 ||
        (o.max_threads != UINT_MAX && o.max_threads > 10000)) {
        fprintf(stderr, "umongofs: bad option value: block_size must be 1M..64M, readahead "
                        "1..1G, cache_size block_size..16G, max_conns 1..64, max_threads "
                        "1..10000, url_ttl and timeout above 0\n");
        goto out;
    }

    /* Credentials: env, credentials=FILE, then the profile files (config.h). */
    const char *profile = o.profile;
    if (!profile && source && strcmp(source, "umongofs") != 0)
        profile = source;
    struct config_request req = {.profile = profile, .credentials_file = o.credentials};
    if (config_load_credentials(&req, &cred, err, sizeof(err)) != 0) {
        char safe[sizeof(err)]; /* it names files and profiles the user typed */
        fprintf(stderr, "umongofs: %s\n", log_escape(err, safe, sizeof(safe)));
        goto out;
    }
    config_scrub_environment();
    if (o.timeout == UINT_MAX)
        o.timeout = cred.timeout_sec > 0 ? (unsigned)cred.timeout_sec : DEFAULT_TIMEOUT;
    if (o.retries == UINT_MAX)
        o.retries = cred.max_retry_times >= 0 ? (unsigned)cred.max_retry_times : DEFAULT_RETRIES;
    /* A copy: cred is wiped before the mount, and api_url is logged after. */
    api_url = strdup(o.api_url ? o.api_url : cred.api_url ? cred.api_url : DEFAULT_API_URL);
    if (!api_url)
        goto oom;
    const char *project = o.project_id ? o.project_id : cred.project_id;
    struct api_opts ao = {.url = api_url,
                          .public_key = cred.public_key,
                          .private_key = cred.private_key,
                          .project_id = project,
                          .cafile = o.cafile,
                          .timeout_s = o.timeout,
                          .retries = o.retries};
    cJSON *region_answer = NULL;
    if (o.regions && !(regions = split_regions(o.regions)))
        goto oom;
    if (check_api(&ao, cred.source, regions, &region_answer) != 0)
        goto out;
    api = api_new(&ao);
    warn_unknown_regions(regions, region_answer);
    cJSON_Delete(region_answer);
    struct catalog_opts co = {.source = {list_call, api},
                              .dir_ttl = o.dir_ttl,
                              .show_all = o.show_all,
                              .regions = (const char *const *)regions};
    cat = api ? catalog_new(&co) : NULL;
    struct urls_opts uo = {.api = api, .ttl = o.url_ttl, .intranet = o.intranet};
    urls = api ? urls_new(&uo) : NULL;
    struct recovery_source rs = {recovery_call, api};
    recovery = api ? recovery_new(&rs, o.dir_ttl) : NULL;
    struct http_opts ho = {.timeout_s = o.timeout,
                           .connect_timeout_s = o.timeout < 10 ? o.timeout : 10,
                           .max_handles = o.max_conns + 8, /* workers + foreground reads */
                           .cafile = o.cafile,
                           .follow_redirects = 1};
    data_http = http_pool_new(&ho);
    if (!api || !cat || !urls || !recovery || !data_http)
        goto oom;
    config_credentials_clear(&cred);

    struct fs_ctx fsc = {.catalog = cat,
                         .urls = urls,
                         .recovery = recovery,
                         .data_http = data_http,
                         .reader_opts = {.http = data_http,
                                         .workers = o.max_conns,
                                         .block_size = (size_t)block,
                                         .max_ahead = (unsigned)((ahead + block - 1) / block),
                                         .retries = o.retries,
                                         .timeout_s = o.timeout,
                                         .cache_bytes = (size_t)cache},
                         .uid = o.uid != UINT_MAX ? (uid_t)o.uid : getuid(),
                         .gid = o.gid != UINT_MAX ? (gid_t)o.gid : getgid(),
                         .umask = o.umask != UINT_MAX ? (mode_t)(o.umask & 0777) : 0,
                         .attr_timeout = 1.0,
                         .single_threaded = cmd.singlethread != 0};

    pthread_mutex_init(&fsc.files_lock, NULL);

    /* Read-only at the kernel too, and the kernel checks modes for us. */
    fuse_opt_add_arg(&args,
                     "-oro,nosuid,nodev,default_permissions,fsname=umongofs,subtype=umongofs");
    fuse = fuse_new(&args, fs_operations(), sizeof(*fs_operations()), &fsc);
    if (!fuse)
        goto out;
    if (fuse_mount(fuse, cmd.mountpoint) != 0)
        goto out;
    mounted = 1;
    raise_readahead(cmd.mountpoint);
    if (fuse_set_signal_handlers(fuse_get_session(fuse)) != 0 || chain_stop_signals(true) != 0)
        goto out;
    if (fuse_daemonize(cmd.foreground) != 0)
        goto out;
    api_protect_key(api); /* the fork above dropped the lock */
    if (!cmd.foreground)
        log_init(LOG_NOTICE, 1);
    char safe_url[512], safe_mnt[PATH_MAX];
    log_notice("mounted %s on %s", log_redact_url(api_url, safe_url, sizeof(safe_url)),
               log_escape(cmd.mountpoint, safe_mnt, sizeof(safe_mnt)));

    int res;
    if (cmd.singlethread) {
        res = fuse_loop(fuse);
    } else {
        struct fuse_loop_config *lc = fuse_loop_cfg_create();
        if (!lc)
            goto oom;
        fuse_loop_cfg_set_clone_fd(lc, (unsigned)cmd.clone_fd);
        /* Idle workers are kept rather than retired: in libfuse 3.14 a worker
         * retiring while a signal ends the loop is sometimes never freed. The
         * number of workers stays bounded by max_threads. */
        fuse_loop_cfg_set_idle_threads(lc, cmd.max_idle_threads != UINT_MAX ? cmd.max_idle_threads
                                                                            : 1000);
        /* Enough workers that stuck reads never take the last one (fs.h). */
        fuse_loop_cfg_set_max_threads(lc, o.max_threads != UINT_MAX ? o.max_threads : FS_WORKERS);
        res = fuse_loop_mt(fuse, lc);
        fuse_loop_cfg_destroy(lc);
    }
    chain_stop_signals(false);
    /* Unmounted (by a signal or by fusermount3 -u): end the transfers and
     * background refreshes still under way rather than wait out a timeout. */
    retry_abort_all();
    fuse_remove_signal_handlers(fuse_get_session(fuse));
    /* libfuse returns the signal number after SIGTERM/SIGINT/SIGHUP: those
     * end the loop on purpose, a clean exit. Negative is a real failure. */
    ret = res >= 0 ? 0 : 1;
    goto out;
oom:
    fprintf(stderr, "umongofs: out of memory\n");
out:
    if (mounted)
        fuse_unmount(fuse);
    if (fuse)
        fuse_destroy(fuse);
    free(cmd.mountpoint);
    fuse_opt_free_args(&args);
    urls_free(&urls);
    recovery_free(&recovery);
    catalog_free(&cat);
    api_free(&api);
    http_pool_free(&data_http);
    config_credentials_clear(&cred);
    free(regions);
    free(api_url);
    free(o.api_url);
    free(o.profile);
    free(o.credentials);
    free(o.project_id);
    free(o.regions);
    free(o.cafile);
    free(o.block_size);
    free(o.readahead);
    free(o.cache_size);
    for (int i = 0; i < o.n_nonopt; i++)
        free(o.nonopt[i]);
#if defined(__SANITIZE_ADDRESS__)
    /* Sanitized builds report leaks here without changing the exit status
     * (the test suite runs them with leak_check_at_exit=0): libfuse 3.14
     * sometimes leaks a loop worker when a signal ends the loop, which must
     * not turn a clean unmount into exit status 1. The tests still fail on
     * any report with an allocation of ours in it. */
    __lsan_do_recoverable_leak_check();
#endif
    return ret;
}
