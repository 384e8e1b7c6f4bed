/* synth: see synth.h. */
#include "synth.h"

#include <stdio.h>
#include <stdlib.h>

char *synth_listing(size_t n, unsigned gen, const char *id_prefix, bool total)
{
    size_t cap = 64 + n * 400, len = 0;
    char *t = malloc(cap);
    if (!t)
        return NULL;
    if (total)
        len += (size_t)snprintf(t + len, cap - len,
                                "{\"RetCode\":0,\"TotalCount\":%zu,\"DataSet\":[", n);
    else
        len += (size_t)snprintf(t + len, cap - len, "{\"RetCode\":0,\"DataSet\":[");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(
            t + len, cap - len,
            "%s{\"BackupId\":\"%s%u-%07zu\",\"BackupName\":\"listing-%07zu.tar.gz\","
            "\"ClusterId\":\"udb-listing01\",\"Zone\":\"cn-bj2-02\",\"State\":\"Success\","
            "\"BackupSize\":%zu,\"BackupType\":\"auto\",\"StartTime\":%zu,\"EndTime\":%zu,"
            "\"DiskSize\":%zu}",
            i ? "," : "", id_prefix, gen, i, i, 2000 + i, 1790000000 + i * 600,
            1790000720 + i * 600, 10000 + i * 5);
    snprintf(t + len, cap - len, "]}");
    return t;
}
