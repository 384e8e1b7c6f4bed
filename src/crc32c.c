/* crc32c: see crc32c.h. */
#include "crc32c.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#define CRC32C_POLY 0x82F63B78u /* reflected Castagnoli polynomial */

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

/* Eight bytes a step (slicing-by-8), little-endian loads. */
uint32_t crc32c_portable(uint32_t crc, const void *p, size_t len)
{
    pthread_once(&table_once, build_table);
    const unsigned char *s = p;
    crc = ~crc;
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 |
                             (uint32_t)s[3] << 24);
        crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
              table[4][lo >> 24] ^ table[3][s[4]] ^ table[2][s[5]] ^ table[1][s[6]] ^
              table[0][s[7]];
        s += 8;
        len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ table[0][(crc ^ *s++) & 0xff];
    return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const void *p,
                                                               size_t len)
{
    const unsigned char *s = p;
    uint64_t c = ~crc;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        c = __builtin_ia32_crc32di(c, v);
        s += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = __builtin_ia32_crc32qi(c32, *s++);
    return ~c32;
}

uint32_t crc32c(uint32_t crc, const void *p, size_t len)
{
    static atomic_int hw = -1; /* every thread that finds -1 computes the same value */
    int h = atomic_load_explicit(&hw, memory_order_relaxed);
    if (h < 0) {
        h = __builtin_cpu_supports("sse4.2") ? 1 : 0;
        atomic_store_explicit(&hw, h, memory_order_relaxed);
    }
    return h ? crc32c_sse42(crc, p, len) : crc32c_portable(crc, p, len);
}
#else
uint32_t crc32c(uint32_t crc, const void *p, size_t len)
{
    return crc32c_portable(crc, p, len);
}
#endif
