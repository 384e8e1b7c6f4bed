/* sign: SHA-1 request signature. See sign.h. */
#include "sign.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static int cmp_param(const void *a, const void *b)
{
    const struct sign_param *x = a, *y = b;
    return strcmp(x->name, y->name); /* byte order: strcmp compares unsigned chars */
}

int sign_compute(const struct sign_param *params, size_t n, const char *private_key,
                 char out[SIGN_HEX_LEN + 1])
{
    int rc = -ENOMEM;
    if (!private_key || (n && !params))
        return -EINVAL;
    struct sign_param *sorted = malloc((n ? n : 1) * sizeof(*sorted));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!sorted || !ctx)
        goto out;
    if (n)
        memcpy(sorted, params, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), cmp_param);

    rc = -EINVAL;
    if (EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (!sorted[i].name || !sorted[i].value)
            goto out;
        if (EVP_DigestUpdate(ctx, sorted[i].name, strlen(sorted[i].name)) != 1 ||
            EVP_DigestUpdate(ctx, sorted[i].value, strlen(sorted[i].value)) != 1)
            goto out;
    }
    if (EVP_DigestUpdate(ctx, private_key, strlen(private_key)) != 1)
        goto out;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen * 2 != SIGN_HEX_LEN)
        goto out;
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[SIGN_HEX_LEN] = '\0';
    rc = 0;
out:
    EVP_MD_CTX_free(ctx);
    free(sorted);
    return rc;
}
