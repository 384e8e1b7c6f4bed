/* blockfile: the format and names of the disk cache's block files. See
 * blockfile.h.
 *
 * A block file: struct dc_head, one CRC32C per chunk, the CRC32C of all
 * that, zeros up to the header size (a multiple of BLOCKFILE_ALIGN), then
 * the block's bytes. Values are in the host's byte order: a cache directory
 * belongs to one machine.
 */
#include "blockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"

#define DC_MAGIC   "UMGFSBK1"
#define DC_VERSION 1u

struct dc_head {
    char magic[8];
    uint32_t version;
    uint32_t hdr_size;
    unsigned char key[32];
    uint64_t block;
    uint64_t len;
    uint32_t chunk;
    uint32_t nchunks;
};

static void hex(char *out, const unsigned char *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

void blockfile_name(char out[BLOCKFILE_NAME_MAX], const struct dc_key *k, uint64_t b)
{
    char kh[65];
    hex(kh, k->b, 32);
    snprintf(out, BLOCKFILE_NAME_MAX, "%.2s/%s-%016" PRIx64, kh, kh, b);
}

static int unhex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Parses "<64 hex>-<16 hex>" (a file in a subdirectory). */
bool blockfile_parse_name(const char *name, struct dc_key *k, uint64_t *b)
{
    if (strlen(name) != 64 + 1 + 16 || name[64] != '-')
        return false;
    for (int i = 0; i < 32; i++) {
        int hi = unhex(name[2 * i]), lo = unhex(name[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        k->b[i] = (unsigned char)(hi << 4 | lo);
    }
    uint64_t v = 0;
    for (int i = 65; i < 81; i++) {
        int d = unhex(name[i]);
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *b = v;
    return true;
}

size_t blockfile_chunks(size_t len)
{
    return (len + DISKCACHE_CHUNK - 1) / DISKCACHE_CHUNK;
}

size_t blockfile_head_size(size_t len)
{
    size_t raw = sizeof(struct dc_head) + 4 * blockfile_chunks(len) + 4;
    return (raw + BLOCKFILE_ALIGN - 1) / BLOCKFILE_ALIGN * BLOCKFILE_ALIGN;
}

static int pread_full(int fd, void *buf, size_t n, off_t at)
{
    char *p = buf;
    while (n > 0) {
        ssize_t got = pread(fd, p, n, at);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        p += got;
        n -= (size_t)got;
        at += got;
    }
    return 0;
}

static int pwrite_full(int fd, const void *buf, size_t n, off_t at)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t put = pwrite(fd, p, n, at);
        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0)
            return -errno;
        p += put;
        n -= (size_t)put;
        at += put;
    }
    return 0;
}

/* Reads and checks the header of an open block file: the right key, index
 * and length, an intact CRC, and a file exactly as long as it says. The
 * chunk CRCs, malloc'd, or NULL (*bad set when the file is bad, rather than
 * memory short). */
uint32_t *blockfile_read_head(int fd, const struct dc_key *k, uint64_t b, size_t len, bool *bad)
{
    size_t hs = blockfile_head_size(len), n = blockfile_chunks(len);
    *bad = false;
    char *buf = malloc(hs);
    if (!buf)
        return NULL;
    struct dc_head h;
    struct stat st;
    uint32_t stored, *crcs = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != hs + len ||
        pread_full(fd, buf, hs, 0) != 0)
        goto bad;
    memcpy(&h, buf, sizeof(h));
    if (memcmp(h.magic, DC_MAGIC, 8) != 0 || h.version != DC_VERSION || h.hdr_size != hs ||
        memcmp(h.key, k->b, 32) != 0 || h.block != b || h.len != len ||
        h.chunk != DISKCACHE_CHUNK || h.nchunks != n)
        goto bad;
    size_t covered = sizeof(h) + 4 * n;
    memcpy(&stored, buf + covered, 4);
    if (crc32c(0, buf, covered) != stored)
        goto bad;
    /* The padding is zeros: any change to the file is damage, even where
     * it would change no byte served. */
    for (size_t i = covered + 4; i < hs; i++)
        if (buf[i])
            goto bad;
    crcs = malloc(4 * n);
    if (crcs)
        memcpy(crcs, buf + sizeof(h), 4 * n);
    free(buf);
    return crcs;
bad:
    *bad = true;
    free(buf);
    return NULL;
}

/* Reads bytes [from, to) of the len-byte block in fd into out, checking
 * every chunk they touch. With in_place, whole chunks are read straight into
 * out and checked there; otherwise (and always for the partial ones at
 * either end) through a chunk on the stack, checked, then copied. Either
 * way the bytes checked are the very bytes handed out. */
bool blockfile_read_checked(int fd, const uint32_t *crcs, size_t len, char *out, size_t from,
                            size_t to, bool in_place)
{
    size_t hs = blockfile_head_size(len);
    for (size_t c = from / DISKCACHE_CHUNK; c < blockfile_chunks(to); c++) {
        size_t lo = c * DISKCACHE_CHUNK;
        size_t hi = lo + DISKCACHE_CHUNK < len ? lo + DISKCACHE_CHUNK : len;
        size_t a = lo > from ? lo : from, z = hi < to ? hi : to;
        if (in_place && a == lo && z == hi) {
            char *at = out + (lo - from);
            if (pread_full(fd, at, hi - lo, (off_t)(hs + lo)) != 0 ||
                crc32c(0, at, hi - lo) != crcs[c])
                return false;
        } else {
            char chunk[DISKCACHE_CHUNK];
            if (pread_full(fd, chunk, hi - lo, (off_t)(hs + lo)) != 0 ||
                crc32c(0, chunk, hi - lo) != crcs[c])
                return false;
            memcpy(out + (a - from), chunk + (a - lo), z - a);
        }
    }
    return true;
}

/* Writes the file with O_DIRECT: from memory straight to the disk, without
 * copying it into the page cache first (on the machine of docs/disk-cache.md
 * that copy was half the daemon's CPU on a first read). head is hs bytes and
 * aligned; data is page-aligned. The last partial page goes out zero-padded
 * and the file is then cut to its length. -EINVAL: the filesystem takes no
 * O_DIRECT (or not these alignments); nothing is left behind then. */
static int write_direct(int dir_fd, const char *tmp, const char *head, size_t hs, const char *data,
                        size_t len)
{
    int fd =
        openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_DIRECT, 0600);
    if (fd < 0) {
        /* A filesystem without O_DIRECT (ramfs; tmpfs before Linux 6.6)
         * refuses it only after creating the file. */
        int err = errno;
        if (err == EINVAL)
            unlinkat(dir_fd, tmp, 0);
        return -err;
    }
    size_t whole = len / BLOCKFILE_ALIGN * BLOCKFILE_ALIGN, rest = len - whole;
    char *tail = NULL;
    int rc = pwrite_full(fd, head, hs, 0);
    if (rc == 0)
        rc = pwrite_full(fd, data, whole, (off_t)hs);
    if (rc == 0 && rest > 0) {
        if (posix_memalign((void **)&tail, BLOCKFILE_ALIGN, BLOCKFILE_ALIGN) != 0) {
            tail = NULL;
            rc = -ENOMEM;
        } else {
            memcpy(tail, data + whole, rest);
            memset(tail + rest, 0, BLOCKFILE_ALIGN - rest);
            rc = pwrite_full(fd, tail, BLOCKFILE_ALIGN, (off_t)(hs + whole));
        }
        if (rc == 0 && ftruncate(fd, (off_t)(hs + len)) != 0)
            rc = -errno;
    }
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    free(tail);
    if (rc == -EINVAL)
        unlinkat(dir_fd, tmp, 0);
    return rc;
}

static int write_buffered(int dir_fd, const char *tmp, const char *head, size_t hs,
                          const char *data, size_t len)
{
    int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    int rc = fd < 0 ? -errno : 0;
    if (rc == 0)
        rc = pwrite_full(fd, head, hs, 0);
    if (rc == 0)
        rc = pwrite_full(fd, data, len, (off_t)hs);
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = -errno;
    return rc;
}

int blockfile_write(int dir_fd, const char *tmp, const struct dc_key *k, uint64_t b,
                    const char *data, size_t len)
{
    size_t hs = blockfile_head_size(len), n = blockfile_chunks(len);
    char *head = NULL;
    if (posix_memalign((void **)&head, BLOCKFILE_ALIGN, hs) != 0)
        return -ENOMEM;
    memset(head, 0, hs);
    struct dc_head h = {.version = DC_VERSION,
                        .hdr_size = (uint32_t)hs,
                        .block = b,
                        .len = len,
                        .chunk = DISKCACHE_CHUNK,
                        .nchunks = (uint32_t)n};
    memcpy(h.magic, DC_MAGIC, 8);
    memcpy(h.key, k->b, 32);
    memcpy(head, &h, sizeof(h));
    for (size_t c = 0; c < n; c++) {
        size_t lo = c * DISKCACHE_CHUNK,
               hi = lo + DISKCACHE_CHUNK < len ? lo + DISKCACHE_CHUNK : len;
        uint32_t v = crc32c(0, data + lo, hi - lo);
        memcpy(head + sizeof(h) + 4 * c, &v, 4);
    }
    uint32_t hc = crc32c(0, head, sizeof(h) + 4 * n);
    memcpy(head + sizeof(h) + 4 * n, &hc, 4);
    int rc = -EINVAL;
    if (((uintptr_t)data & (BLOCKFILE_ALIGN - 1)) == 0)
        rc = write_direct(dir_fd, tmp, head, hs, data, len);
    if (rc == -EINVAL)
        rc = write_buffered(dir_fd, tmp, head, hs, data, len);
    free(head);
    return rc;
}
