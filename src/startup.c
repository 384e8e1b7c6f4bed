/* startup: the check of keys, endpoint and project before anything is
 * mounted. See startup.h. */
#include "startup.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "listing.h"
#include "log.h"
#include "retry.h"

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
int startup_check_api(const struct api_opts *base, const char *source, char *const *wanted,
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
void startup_warn_unknown_regions(char *const *wanted, const cJSON *answer)
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
