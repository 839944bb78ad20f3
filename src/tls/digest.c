/*
 * Digests of the files a TLS context is built from: a context (and what it lets resume or
 * pools) is keyed by what the files hold, not by their paths, so a file rewritten in place and
 * reloaded is new trust.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "tls/internal.h"

int gw__tls_digest_file(EVP_MD_CTX *md, const char *path, char *why, size_t whylen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, whylen, "%s: cannot open: %s", path, strerror(errno));
        return GW_EINVAL;
    }
    unsigned char buf[4096];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, f)) > 0)
        if (EVP_DigestUpdate(md, buf, n) != 1)
            rc = GW_ENOMEM;
    if (rc == 0 && ferror(f)) {
        snprintf(why, whylen, "%s: cannot read", path);
        rc = GW_EINVAL;
    }
    fclose(f);
    return rc;
}
