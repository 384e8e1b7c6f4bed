/* mountpoint: refusing bad mountpoints, tuning our mount. See mountpoint.h. */
#include "mountpoint.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

/* mountinfo escapes space, tab, newline and backslash as \ooo. In place. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS" */
static bool parse_line(char *line, const char *path, struct mountpoint_info *out)
{
    char *save = NULL, *f[5];
    int n = 0;
    for (char *t = strtok_r(line, " \n", &save); t && n < 5; t = strtok_r(NULL, " \n", &save))
        f[n++] = t;
    if (n < 5)
        return false;
    unescape(f[4]);
    if (strcmp(f[4], path) != 0)
        return false;
    char *t = strtok_r(NULL, " \n", &save);
    while (t && strcmp(t, "-") != 0)
        t = strtok_r(NULL, " \n", &save);
    char *fstype = t ? strtok_r(NULL, " \n", &save) : NULL;
    char *source = fstype ? strtok_r(NULL, " \n", &save) : NULL;
    if (!source)
        return false;
    unescape(source);
    snprintf(out->dev, sizeof(out->dev), "%s", f[2]);
    snprintf(out->fstype, sizeof(out->fstype), "%s", fstype);
    snprintf(out->source, sizeof(out->source), "%s", source);
    return true;
}

int mountpoint_find(FILE *f, const char *path, struct mountpoint_info *out)
{
    char line[8192];
    int found = 0;
    while (fgets(line, sizeof(line), f))
        if (parse_line(line, path, out))
            found = 1; /* the last one is the newest, on top of the others */
    return found;
}

static int find_mount(const char *path, struct mountpoint_info *out)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return 0;
    int found = mountpoint_find(f, path, out);
    fclose(f);
    return found;
}

static bool dir_has_entries(const char *path)
{
    DIR *d = opendir(path);
    bool any = false;
    if (!d)
        return false;
    for (struct dirent *e = readdir(d); e && !any; e = readdir(d))
        any = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return any;
}

int mountpoint_check(const char *path, bool *nonempty, char *err, size_t errlen)
{
    struct mountpoint_info mi;
    struct stat st;
    char safe[1024], src[300];

    *nonempty = false;
    if (strncmp(path, "/dev/fd/", 8) == 0)
        return 0;
    log_escape(path, safe, sizeof(safe));
    /* mountinfo first: stat would ask the mounted filesystem's daemon. */
    if (find_mount(path, &mi) && strncmp(mi.fstype, "fuse", 4) == 0) {
        snprintf(err, errlen,
                 "mountpoint %s is already a FUSE mount (%s, %s); unmount it first: "
                 "fusermount3 -u %s",
                 safe, mi.fstype, log_escape(mi.source, src, sizeof(src)), safe);
        return -1;
    }
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "mountpoint %s: %s", safe, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "mountpoint %s is not a directory; mount on an (empty) directory",
                 safe);
        return -1;
    }
    *nonempty = dir_has_entries(path);
    return 0;
}

/* Our mount has a backing device of its own ("0:NN" in /sys/class/bdi).
 * Found through mountinfo, not stat(path): the mount cannot answer until
 * the loop runs. */
void mountpoint_raise_readahead(const char *path)
{
    struct mountpoint_info mi;
    if (!find_mount(path, &mi) || strcmp(mi.fstype, "fuse.umongofs") != 0)
        return;
    char sys[96];
    snprintf(sys, sizeof(sys), "/sys/class/bdi/%s/read_ahead_kb", mi.dev);
    FILE *ra = fopen(sys, "w");
    if (!ra) {
        log_debug("readahead left at the kernel's default (%s: %s)", sys, strerror(errno));
        return;
    }
    fputs("1024\n", ra);
    if (fclose(ra) != 0)
        log_debug("could not raise readahead: %s", strerror(errno));
}
