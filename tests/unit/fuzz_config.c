/* fuzz_config: libFuzzer target for the credential and profile files
 * (config_load_credentials on ~/.dezai/credential.json + config.json, or on
 * a -o credentials=FILE). Seeds: tests/unit/corpus/config/.
 *
 * An input is up to three parts separated by NUL bytes: credential.json,
 * config.json, and a credentials file; an empty or missing part means no
 * such file. With a third part, that file is what is loaded (source 3),
 * otherwise the profile files are (source 4).
 *
 * Not part of the meson build; scripts/test.sh builds and runs it:
 *   clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
 *       src/config.c src/trust.c src/log.c tests/unit/fuzz_config.c -lcjson -o fuzz_config
 *   ./fuzz_config -dict=tests/unit/corpus/json.dict tests/unit/corpus/config
 * Besides crashes, it aborts when a load breaks config.h's contract: success
 * without both keys, or a failure without its one-line message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char home[64], dezai[96], cred_path[128], conf_path[128], file_path[128];

/* A private home, so the trust checks (owner, mode) pass and the parsers
 * get to see the bytes. Made once: each run only rewrites the files. */
static void setup(void)
{
    static const char *const vars[] = {
        "DEZAI_PUBLIC_KEY", "DEZAI_PRIVATE_KEY",   "UCLOUD_PUBLIC_KEY", "UCLOUD_PRIVATE_KEY",
        "DEZAI_PROFILE",    "UCLOUD_PROFILE",      "DEZAI_PROJECT_ID",  "UCLOUD_PROJECT_ID",
        "DEZAI_API_URL",    "UCLOUD_API_BASE_URL",
    };
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    snprintf(home, sizeof(home), "/tmp/fuzz_config.XXXXXX");
    if (!mkdtemp(home))
        abort();
    snprintf(dezai, sizeof(dezai), "%s/.dezai", home);
    snprintf(cred_path, sizeof(cred_path), "%s/credential.json", dezai);
    snprintf(conf_path, sizeof(conf_path), "%s/config.json", dezai);
    snprintf(file_path, sizeof(file_path), "%s/cred.json", home);
    if (mkdir(dezai, 0700) != 0)
        abort();
    log_init(LOG_CRIT, 0);
}

static void put(const char *path, const uint8_t *p, size_t n)
{
    unlink(path);
    if (n == 0)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, p, n) != (ssize_t)n || close(fd) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *part[3] = {data, NULL, NULL};
    size_t len[3] = {size, 0, 0};
    struct credentials c = {0};
    char err[512] = "";

    if (!home[0])
        setup();
    for (int k = 1; k < 3; k++) {
        const uint8_t *nul = part[k - 1] ? memchr(part[k - 1], 0, len[k - 1]) : NULL;
        if (!nul)
            break;
        part[k] = nul + 1;
        len[k] = len[k - 1] - (size_t)(part[k] - part[k - 1]);
        len[k - 1] = (size_t)(nul - part[k - 1]);
    }
    put(cred_path, part[0], len[0]);
    put(conf_path, part[1], len[1]);
    put(file_path, part[2], len[2]);

    struct config_request req = {.home = home, .credentials_file = len[2] ? file_path : NULL};
    int rc = config_load_credentials(&req, &c, err, sizeof(err));
    if (rc == 0) {
        if (!c.public_key || !*c.public_key || !c.private_key || !*c.private_key || !c.source)
            abort();
    } else {
        if (rc != -ENOENT && rc != -EACCES && rc != -EINVAL && rc != -ENOMEM)
            abort();
        if (!err[0] || strchr(err, '\n'))
            abort(); /* every failure says why, on one line */
    }
    config_credentials_clear(&c);
    return 0;
}
