/*
 * The file sink: one entry per line, opened with O_APPEND (gantry never rewrites a byte of it),
 * reopened by name on SIGUSR1 so logrotate can move it away. Control thread only.
 */
#include "audit/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"

struct gw__audit_file {
    int fd;
    char *path;
};

static int open_append(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    return fd < 0 ? -errno : fd;
}

/* The last complete line of path: its seq and hash. A file that is empty or whose last line is
 * not an entry starts a new chain (logged). */
static void read_tail(const char *path, uint64_t *seq, char hash[65])
{
    *seq = 0;
    memcpy(hash, GW__AUDIT_ZERO_HASH, 65);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) != 0 || st.st_size == 0)
        goto out;
    size_t want =
        (size_t)st.st_size < GW__AUDIT_MAX_LINE + 2 ? (size_t)st.st_size : GW__AUDIT_MAX_LINE + 2;
    buf = malloc(want);
    if (buf == NULL)
        goto out;
    ssize_t got = pread(fd, buf, want, st.st_size - (off_t)want);
    if (got != (ssize_t)want)
        goto out;
    size_t end = want;
    if (buf[end - 1] != '\n') {
        gw_log_warn("audit: %s does not end with a newline (a write was cut short); the chain "
                    "continues from the last complete line",
                    path);
        while (end > 0 && buf[end - 1] != '\n')
            end--;
        if (end == 0)
            goto out;
    }
    end--; /* the newline */
    size_t start = end;
    while (start > 0 && buf[start - 1] != '\n')
        start--;
    char why[160];
    char h[65];
    uint64_t s = 0;
    if (!gw_audit_check_line(buf + start, end - start, NULL, 0, h, &s, why, sizeof why)) {
        gw_log_warn("audit: the last line of %s is not an entry (%s): a new chain starts", path,
                    why);
        goto out;
    }
    *seq = s;
    memcpy(hash, h, 65);
out:
    free(buf);
    close(fd);
}

int gw__audit_file_open(const char *path, struct gw__audit_file **out, uint64_t *seq, char hash[65])
{
    struct gw__audit_file *f = calloc(1, sizeof *f);
    if (f == NULL || (f->path = strdup(path)) == NULL) {
        free(f);
        return GW_ENOMEM;
    }
    f->fd = open_append(path);
    if (f->fd < 0) {
        int rc = f->fd;
        free(f->path);
        free(f);
        return rc;
    }
    read_tail(path, seq, hash);
    *out = f;
    return 0;
}

int gw__audit_file_write(struct gw__audit_file *f, const struct gw__audit_line *l)
{
    if (f->fd < 0)
        return GW_EINVAL;
    struct iovec iov[2] = {{(void *)l->text, l->len}, {(void *)"\n", 1}};
    size_t total = l->len + 1;
    /* One writev with O_APPEND: the line lands whole at the end, or the disk is full. */
    ssize_t n = writev(f->fd, iov, 2);
    if (n < 0)
        return -errno;
    return (size_t)n == total ? 0 : GW_EINVAL;
}

int gw__audit_file_reopen(struct gw__audit_file *f)
{
    int fd = open_append(f->path);
    if (fd < 0)
        return fd; /* keep writing to the old one */
    if (f->fd >= 0)
        close(f->fd);
    f->fd = fd;
    return 0;
}

void gw__audit_file_close(struct gw__audit_file *f)
{
    if (f == NULL)
        return;
    if (f->fd >= 0)
        close(f->fd);
    free(f->path);
    free(f);
}

const char *gw__audit_file_path(const struct gw__audit_file *f)
{
    return f->path;
}
