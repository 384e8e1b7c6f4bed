/* opts: size options. See opts.h. */
#include "opts.h"

#include <errno.h>
#include <stdbool.h>

int opts_parse_size(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    unsigned shift = 0;
    bool big = false;
    const char *p = s;

    if (!s || *s < '0' || *s > '9')
        return -EINVAL; /* strtoull would take "-1" as 2^64-1 and " 1" as 1 */
    for (; *p >= '0' && *p <= '9'; p++) {
        /* Saturate instead of wrapping: the range check below decides. */
        if (v > (UINT64_MAX - 9) / 10)
            big = true;
        else
            v = v * 10 + (uint64_t)(*p - '0');
    }
    switch (*p) {
    case 'K':
    case 'k':
        shift = 10;
        break;
    case 'M':
    case 'm':
        shift = 20;
        break;
    case 'G':
    case 'g':
        shift = 30;
        break;
    case 'T':
    case 't':
        shift = 40;
        break;
    default:
        break;
    }
    if (shift)
        p++;
    if (shift && p[0] == 'i' && p[1] == 'B')
        p += 2;
    else if (*p == 'B')
        p++;
    if (*p)
        return -EINVAL;
    /* Compare before shifting: 17179869185G times 2^30 wraps to 1G. */
    if (big || v > (max >> shift))
        return -ERANGE;
    *out = v << shift;
    return 0;
}
