/* main: command line, credentials, the credential check, mount, daemonize.
 *
 * Nothing below this file knows about argv. The order matters for users:
 * every check that can fail (options, the mountpoint, credentials, the API
 * answering with our keys) runs before the mount, so a failure is one line
 * on stderr, a non-zero exit and no mount left behind; the process
 * daemonizes only once the mount is up. main() runs the steps in order;
 * each step is a function of struct app below.
 */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
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
#include "diskcache.h"
#include "fs.h"
#include "inval.h"
#include "http.h"
#include "log.h"
#include "mountpoint.h"
#include "opts.h"
#include "recovery.h"
#include "retry.h"
#include "startup.h"
#include "stats.h"
#include "urls.h"

#define DEFAULT_API_URL "https://api.dezai.com/"
#define DEFAULT_TIMEOUT 30
#define MAX_TIMEOUT     86400 /* seconds */
#define MAX_RETRIES     100
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
    char *cache_dir;
    char *cache_max;
    char *logfile;
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
    OPT("cache_dir=%s", cache_dir),
    OPT("cache_max=%s", cache_max),
    OPT("logfile=%s", logfile),
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
           "                           (1..86400; default: the profile's timeout_sec, else 30)\n"
           "    -o retries=N           retries of a request that delivered nothing before an\n"
           "                           error (0..100; default: the profile's max_retry_times,\n"
           "                           else 5)\n"
           "    -o cafile=FILE         CA bundle for TLS (default: system store)\n"
           "    -o max_conns=N         parallel downloads from the object store (default 16)\n"
           "    -o block_size=SIZE     largest download request, e.g. 8M (default 4M, min 1M);\n"
           "                           reads that do not go forward ask for 64K and up\n"
           "    -o readahead=SIZE      how far ahead sequential reads are fetched (default 64M,\n"
           "                           at most 1G)\n"
           "    -o cache_size=SIZE     memory for downloaded blocks, all files together, reads\n"
           "                           included (default 256M, at most 16G)\n"
           "    -o cache_dir=DIR       keep downloaded blocks on disk in DIR, checked on every\n"
           "                           read, for later reads and mounts (default: none)\n"
           "    -o cache_max=SIZE      most disk space for cache_dir (default 10G)\n"
           "    -o logfile=FILE        append the log to FILE, created mode 600 (default:\n"
           "                           syslog in the background, stderr with -f)\n"
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
           "Counters: getfattr -n user.umongofs.stats MOUNTPOINT, or kill -USR1 PID (logged).\n"
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

/* Everything main sets up; app_free takes it down. */
struct app {
    struct options o;
    struct fuse_args args;
    struct fuse_cmdline_opts cmd;
    const char *source; /* SOURCE of the mount(8) form; NULL without */
    struct credentials cred;
    char label[64]; /* what findmnt shows after "umongofs:": the profile */
    char *api_url;  /* a copy: cred is wiped before the mount, and it is logged after */
    char **regions;
    uint64_t block, ahead, cache, disk_max;
    struct diskcache *disk; /* cache_dir=; NULL: none */
    struct api_client *api;
    struct catalog *cat;
    struct inval *inval; /* what the catalog changed, for the kernel's caches */
    struct urls *urls;
    struct recovery *recovery;
    struct http_pool *data_http;
    struct fs_ctx fsc;
    bool fsc_ready; /* fsc.files_lock initialised */
    struct fuse *fuse;
    bool mounted;
};

/* Each step returns 0 to go on, 1 when the process is done and exits 0
 * (--help, --version), -1 after printing why it must exit 1. */

static int oom(void)
{
    fprintf(stderr, "umongofs: out of memory\n");
    return -1;
}

/* Before anything reads a key: a non-dumpable process leaves no core file,
 * and other processes of the same user can neither ptrace it nor read its
 * memory (/proc/PID/mem), where the private key lives. SIGUSR1 (stats) is
 * blocked here, before any thread exists, so only the thread waiting for
 * it ever receives it. */
/* Every read gets a reply buffer of up to 1 MiB from libfuse, each FUSE
 * worker's malloc arena keeps what it freed, and there are up to 128
 * workers: two arenas bound that to a few MiB (block memory is mmap'd and
 * counted in cache_size apart). */
static int limit_arenas(struct app *a)
{
    (void)a;
    mallopt(M_ARENA_MAX, 2);
    return 0;
}

static int protect_process(struct app *a)
{
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        fprintf(stderr, "umongofs: cannot protect the keys from core dumps: %s\n", strerror(errno));
        return -1;
    }
    if (stats_block_signal() != 0) {
        fprintf(stderr, "umongofs: cannot block SIGUSR1\n");
        return -1;
    }
    return 0;
}

static int parse_command_line(struct app *a)
{
    struct options *o = &a->o;
    if (fuse_opt_parse(&a->args, o, opt_spec, opt_proc) == -1)
        return -1;
    /* SOURCE MOUNTPOINT (mount(8)) or MOUNTPOINT alone. */
    if (o->n_nonopt == 2)
        a->source = o->nonopt[0];
    if (o->n_nonopt > 2) {
        fprintf(stderr, "umongofs: too many arguments (see --help)\n");
        return -1;
    }
    if (o->n_nonopt >= 1)
        fuse_opt_add_arg(&a->args, o->nonopt[o->n_nonopt - 1]);
    if (fuse_parse_cmdline(&a->args, &a->cmd) != 0)
        return -1;
    if (a->cmd.show_help) {
        usage(a->args.argv[0]);
        printf("\nFUSE options:\n");
        fuse_cmdline_help();
        fuse_lib_help(&a->args);
        return 1;
    }
    if (a->cmd.show_version) {
        printf("umongofs %s\n", UMONGOFS_VERSION);
        printf("FUSE library %s\n", fuse_pkgversion());
        return 1;
    }
    if (!a->cmd.mountpoint) {
        fprintf(stderr, "umongofs: no mountpoint given (usage: umongofs [options] MOUNTPOINT)\n");
        return -1;
    }
    if (a->cmd.debug)
        a->cmd.foreground = 1;
    return 0;
}

/* Each size is checked against its own maximum before anything multiplies
 * it, so no value wraps around into the allowed range. */
static int check_values(struct app *a)
{
    const struct options *o = &a->o;
    a->block = 4u << 20;
    a->ahead = 64u << 20;
    a->cache = 256u << 20;
    a->disk_max = UINT64_C(10) << 30;
    if ((o->block_size && opts_parse_size(o->block_size, 64u << 20, &a->block) != 0) ||
        (o->readahead && opts_parse_size(o->readahead, 1u << 30, &a->ahead) != 0) ||
        (o->cache_size && opts_parse_size(o->cache_size, OPTS_SIZE_MAX, &a->cache) != 0) ||
        (o->cache_max && opts_parse_size(o->cache_max, CACHE_MAX_MAX, &a->disk_max) != 0) ||
        a->disk_max < 2 * a->block + (1u << 20) || a->block < (1u << 20) || a->ahead == 0 ||
        a->cache < a->block || o->max_conns == 0 || o->max_conns > 64 || o->url_ttl == 0 ||
        o->timeout == 0 || o->max_threads == 0 ||
        (o->max_threads != UINT_MAX && o->max_threads > 10000)) {
        fprintf(stderr,
                "umongofs: bad option value: block_size must be 1M..64M, readahead "
                "1..1G, cache_size block_size..16G, cache_max 2 x block_size + 1M..1P, max_conns "
                "1..64, max_threads "
                "1..10000, url_ttl and timeout above 0\n");
        return -1;
    }
    return 0;
}

/* libfuse's messages (and, with -d, its trace of every request) into our
 * log: with logfile= they belong in the file, and once daemonized stderr
 * is /dev/null. fuse_log levels are syslog's. */
__attribute__((format(printf, 2, 0))) static void fuse_log_to_ours(enum fuse_log_level level,
                                                                   const char *fmt, va_list ap)
{
    char line[2048];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    log_msg((int)level, "%s", line);
}

static int setup_logging(struct app *a)
{
    char err[1200];
    log_init(a->cmd.debug ? LOG_DEBUG : LOG_NOTICE, 0);
    if (!a->o.logfile)
        return 0;
    if (log_open_file(a->o.logfile, err, sizeof(err)) != 0) {
        fprintf(stderr, "umongofs: %s\n", err);
        return -1;
    }
    fuse_set_log_func(fuse_log_to_ours);
    return 0;
}

/* cache_dir=: a cache that cannot be set up is off (diskcache.h), one in
 * use by another mount or not the user's own refuses the mount. */
static int open_disk_cache(struct app *a)
{
    char err[PATH_MAX + 200];
    if (!a->o.cache_dir)
        return 0;
    if (!a->o.cache_dir[0]) {
        fprintf(stderr, "umongofs: cache_dir= needs a directory\n");
        return -1;
    }
    if (diskcache_open(a->o.cache_dir, a->disk_max, &a->disk, err, sizeof(err)) != 0) {
        fprintf(stderr, "umongofs: %s\n", err);
        return -1;
    }
    return 0;
}

static int check_mountpoint(struct app *a)
{
    char err[2600], safe[1024];
    bool nonempty;
    if (mountpoint_check(a->cmd.mountpoint, &nonempty, err, sizeof(err)) != 0) {
        fprintf(stderr, "umongofs: %s\n", err);
        return -1;
    }
    if (nonempty)
        fprintf(stderr,
                "umongofs: warning: mountpoint %s is not empty: its files are hidden while "
                "umongofs is mounted there\n",
                log_escape(a->cmd.mountpoint, safe, sizeof(safe)));
    return 0;
}

/* The profile for findmnt's SOURCE column (fsname=umongofs:LABEL): the one
 * named on the command line or in fstab, else the one whose keys are used,
 * else where the keys came from. Only characters that need no escaping in
 * a mount option or in mountinfo. */
static void set_label(struct app *a)
{
    const char *named = a->o.profile;
    if (!named && a->source && strcmp(a->source, "umongofs") != 0)
        named = a->source;
    const char *l = named                                             ? named
                    : a->cred.profile                                 ? a->cred.profile
                    : strncmp(a->cred.source, "environment", 11) == 0 ? "env"
                                                                      : "credentials";
    size_t i = 0;
    for (; l[i] && i + 1 < sizeof(a->label); i++) {
        char c = l[i];
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     strchr("._@+-", c);
        a->label[i] = plain ? c : '_';
    }
    a->label[i] = '\0';
}

/* Credentials: env, credentials=FILE, then the profile files (config.h). */
static int load_keys(struct app *a)
{
    struct options *o = &a->o;
    const char *profile = o->profile;
    char err[512];
    if (!profile && a->source && strcmp(a->source, "umongofs") != 0)
        profile = a->source;
    struct config_request req = {.profile = profile, .credentials_file = o->credentials};
    if (config_load_credentials(&req, &a->cred, err, sizeof(err)) != 0) {
        char safe[sizeof(err)]; /* it names files and profiles the user typed */
        fprintf(stderr, "umongofs: %s\n", log_escape(err, safe, sizeof(safe)));
        return -1;
    }
    config_scrub_environment();
    set_label(a);
    if (o->timeout == UINT_MAX)
        o->timeout = a->cred.timeout_sec > 0 ? (unsigned)a->cred.timeout_sec : DEFAULT_TIMEOUT;
    if (o->retries == UINT_MAX)
        o->retries =
            a->cred.max_retry_times >= 0 ? (unsigned)a->cred.max_retry_times : DEFAULT_RETRIES;
    /* Bounded so that no product of them (deadlines in ms) can wrap. */
    if (o->timeout == 0 || o->timeout > MAX_TIMEOUT || o->retries > MAX_RETRIES) {
        fprintf(
            stderr,
            "umongofs: bad option value: timeout must be 1..%d (is %u), retries 0..%d (is %u)\n",
            MAX_TIMEOUT, o->timeout, MAX_RETRIES, o->retries);
        return -1;
    }
    a->api_url = strdup(o->api_url        ? o->api_url
                        : a->cred.api_url ? a->cred.api_url
                                          : DEFAULT_API_URL);
    if (!a->api_url || (o->regions && !(a->regions = split_regions(o->regions))))
        return oom();
    return 0;
}

/* The key check, then the clients of the API and the object store. */
static int connect_api(struct app *a)
{
    const struct options *o = &a->o;
    struct api_opts ao = {.url = a->api_url,
                          .public_key = a->cred.public_key,
                          .private_key = a->cred.private_key,
                          .project_id = o->project_id ? o->project_id : a->cred.project_id,
                          .cafile = o->cafile,
                          .timeout_s = o->timeout,
                          .retries = o->retries};
    cJSON *region_answer = NULL;
    if (startup_check_api(&ao, a->cred.source, a->regions, &region_answer) != 0)
        return -1;
    a->api = api_new(&ao);
    startup_warn_unknown_regions(a->regions, region_answer);
    cJSON_Delete(region_answer);
    a->inval = inval_new();
    struct catalog_opts co = {.source = {list_call, a->api},
                              .dir_ttl = o->dir_ttl,
                              .show_all = o->show_all,
                              .regions = (const char *const *)a->regions,
                              .changed = inval_queue,
                              .changed_ctx = a->inval};
    a->cat = a->api && a->inval ? catalog_new(&co) : NULL;
    struct urls_opts uo = {.api = a->api, .ttl = o->url_ttl, .intranet = o->intranet};
    a->urls = a->api ? urls_new(&uo) : NULL;
    struct recovery_source rs = {recovery_call, a->api};
    a->recovery = a->api ? recovery_new(&rs, o->dir_ttl) : NULL;
    struct http_opts ho = {.timeout_s = o->timeout,
                           .connect_timeout_s = o->timeout < 10 ? o->timeout : 10,
                           .max_handles = o->max_conns + 8, /* workers + foreground reads */
                           .cafile = o->cafile,
                           .follow_redirects = 1};
    a->data_http = http_pool_new(&ho);
    if (!a->api || !a->cat || !a->urls || !a->recovery || !a->data_http)
        return oom();
    config_credentials_clear(&a->cred);
    return 0;
}

static int fill_fs_ctx(struct app *a)
{
    const struct options *o = &a->o;
    a->fsc = (struct fs_ctx){
        .catalog = a->cat,
        .inval = a->inval,
        .urls = a->urls,
        .recovery = a->recovery,
        .data_http = a->data_http,
        .reader_opts = {.http = a->data_http,
                        .workers = o->max_conns,
                        .block_size = (size_t)a->block,
                        .max_ahead = (unsigned)((a->ahead + a->block - 1) / a->block),
                        .retries = o->retries,
                        .timeout_s = o->timeout,
                        .cache_bytes = (size_t)a->cache,
                        .disk = a->disk},
        .uid = o->uid != UINT_MAX ? (uid_t)o->uid : getuid(),
        .gid = o->gid != UINT_MAX ? (gid_t)o->gid : getgid(),
        .umask = o->umask != UINT_MAX ? (mode_t)(o->umask & 0777) : 0,
        /* Nothing in a listing changes before it is refreshed: the
         * kernel may keep entries and attributes as long (fs.h). */
        .attr_timeout = (double)o->dir_ttl,
        .single_threaded = a->cmd.singlethread != 0};
    pthread_mutex_init(&a->fsc.files_lock, NULL);
    a->fsc_ready = true;
    return 0;
}

static int mount_fs(struct app *a)
{
    /* Read-only at the kernel too, and the kernel checks modes for us.
     * findmnt shows the source as umongofs:PROFILE. */
    char opts[160];
    snprintf(opts, sizeof(opts),
             "-oro,nosuid,nodev,default_permissions,fsname=umongofs:%s,subtype=umongofs", a->label);
    fuse_opt_add_arg(&a->args, opts);
    a->fuse = fuse_new(&a->args, fs_operations(), sizeof(*fs_operations()), &a->fsc);
    if (!a->fuse || fuse_mount(a->fuse, a->cmd.mountpoint) != 0)
        return -1;
    a->mounted = true;
    mountpoint_raise_readahead(a->cmd.mountpoint);
    if (fuse_set_signal_handlers(fuse_get_session(a->fuse)) != 0 || chain_stop_signals(true) != 0)
        return -1;
    return 0;
}

static int go_background(struct app *a)
{
    if (!a->cmd.foreground && !a->o.logfile && !log_syslog_available())
        fprintf(stderr, "umongofs: warning: no syslog socket (/dev/log): the daemon's log lines "
                        "will be lost; use -o logfile=FILE, or -f to keep them on stderr\n");
    if (fuse_daemonize(a->cmd.foreground) != 0)
        return -1;
    api_protect_key(a->api); /* the fork above dropped the lock */
    if (!a->cmd.foreground) {
        log_init(LOG_NOTICE, 1);
        fuse_set_log_func(fuse_log_to_ours);
    }
    if (stats_start_signal_thread() != 0)
        log_warn("SIGUSR1 will not log the counters: cannot start its thread");
    char safe_url[512], safe_mnt[PATH_MAX];
    log_notice("mounted %s on %s (umongofs:%s)",
               log_redact_url(a->api_url, safe_url, sizeof(safe_url)),
               log_escape(a->cmd.mountpoint, safe_mnt, sizeof(safe_mnt)), a->label);
    return 0;
}

/* Until unmounted or signalled. */
static int run_loop(struct app *a)
{
    int res;
    if (a->cmd.singlethread) {
        res = fuse_loop(a->fuse);
    } else {
        struct fuse_loop_config *lc = fuse_loop_cfg_create();
        if (!lc)
            return oom();
        fuse_loop_cfg_set_clone_fd(lc, (unsigned)a->cmd.clone_fd);
        /* Idle workers are kept rather than retired: in libfuse 3.14 a worker
         * retiring while a signal ends the loop is sometimes never freed. The
         * number of workers stays bounded by max_threads. */
        fuse_loop_cfg_set_idle_threads(
            lc, a->cmd.max_idle_threads != UINT_MAX ? a->cmd.max_idle_threads : 1000);
        /* Enough workers that stuck reads never take the last one (fs.h). */
        fuse_loop_cfg_set_max_threads(lc,
                                      a->o.max_threads != UINT_MAX ? a->o.max_threads : FS_WORKERS);
        res = fuse_loop_mt(a->fuse, lc);
        fuse_loop_cfg_destroy(lc);
    }
    chain_stop_signals(false);
    /* Unmounted (by a signal or by fusermount3 -u): end the transfers and
     * background refreshes still under way rather than wait out a timeout. */
    retry_abort_all();
    /* No more kernel notifications: the session's device is closed next. */
    inval_stop(a->inval);
    fuse_remove_signal_handlers(fuse_get_session(a->fuse));
    /* libfuse returns the signal number after SIGTERM/SIGINT/SIGHUP: those
     * end the loop on purpose, a clean exit. Negative is a real failure. */
    return res >= 0 ? 1 : -1;
}

static void app_free(struct app *a)
{
    struct options *o = &a->o;
    stats_stop_signal_thread();
    if (a->mounted)
        fuse_unmount(a->fuse);
    if (a->fuse)
        fuse_destroy(a->fuse);
    if (a->fsc_ready)
        pthread_mutex_destroy(&a->fsc.files_lock);
    free(a->cmd.mountpoint);
    fuse_opt_free_args(&a->args);
    urls_free(&a->urls);
    recovery_free(&a->recovery);
    catalog_free(&a->cat);
    inval_free(&a->inval);
    api_free(&a->api);
    http_pool_free(&a->data_http);
    diskcache_close(&a->disk); /* the readers are gone (fs_destroy) */
    config_credentials_clear(&a->cred);
    free(a->regions);
    free(a->api_url);
    char *strings[] = {o->api_url,    o->profile, o->credentials, o->project_id,
                       o->regions,    o->cafile,  o->block_size,  o->readahead,
                       o->cache_size, o->logfile, o->cache_dir,   o->cache_max};
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
        free(strings[i]);
    for (int i = 0; i < o->n_nonopt; i++)
        free(o->nonopt[i]);
}

int main(int argc, char *argv[])
{
    static int (*const steps[])(struct app *) = {
        limit_arenas,     protect_process, parse_command_line, check_values, setup_logging,
        check_mountpoint, open_disk_cache, load_keys,          connect_api,  fill_fs_ctx,
        mount_fs,         go_background,   run_loop,
    };
    struct app a = {.args = FUSE_ARGS_INIT(argc, argv),
                    .o = {.url_ttl = 3600,
                          .dir_ttl = 60,
                          .timeout = UINT_MAX,
                          .retries = UINT_MAX,
                          .max_conns = 16,
                          .max_threads = UINT_MAX,
                          .uid = UINT_MAX,
                          .gid = UINT_MAX,
                          .umask = UINT_MAX}};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof(steps) / sizeof(steps[0]); i++)
        rc = steps[i](&a);
    app_free(&a);
#if defined(__SANITIZE_ADDRESS__)
    /* Sanitized builds report leaks here without changing the exit status
     * (the test suite runs them with leak_check_at_exit=0): libfuse 3.14
     * sometimes leaks a loop worker when a signal ends the loop, which must
     * not turn a clean unmount into exit status 1. The tests still fail on
     * any report with an allocation of ours in it. */
    __lsan_do_recoverable_leak_check();
#endif
    return rc > 0 ? 0 : 1;
}
