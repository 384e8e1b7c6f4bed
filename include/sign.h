/* sign: the provider's request signature (docs/provider-api.md, "Signature").
 *
 * SHA-1 over the parameters sorted by name, each name+value concatenated,
 * then the private key. Pure function, any thread.
 */
#ifndef UMONGOFS_SIGN_H
#define UMONGOFS_SIGN_H

#include <stddef.h>

struct sign_param {
    const char *name;
    const char *value;
};

#define SIGN_HEX_LEN 40

/* Writes the lower-case hex signature (plus NUL) to out. params need not be
 * sorted and must not contain "Signature". 0, -EINVAL, or -ENOMEM. */
int sign_compute(const struct sign_param *params, size_t n, const char *private_key,
                 char out[SIGN_HEX_LEN + 1]);

#endif
