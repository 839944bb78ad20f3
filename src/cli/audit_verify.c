/*
 * `gantry audit verify FILE|-`: reads an audit log (JSON lines, audit/entry.c) and checks each
 * entry's hash and its link to the entry before. A file that logrotate started fresh begins
 * with the last hash of the previous file: that "anchor" is printed, so two files can be
 * checked as one chain (`cat old new | gantry audit verify -`).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "core/error.h"

static const char usage[] = "usage: gantry audit verify FILE|-\n"
                            "  checks the hash chain of an audit log written by gantry\n"
                            "  (audit.file); prints the first broken entry and exits 1\n";

static int verify(const char *path)
{
    int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "gantry audit verify: %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct gw_audit_verifier v;
    gw_audit_verifier_init(&v);
    char buf[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(fd, buf, sizeof buf)) > 0 && rc == 0)
        rc = gw_audit_verifier_feed(&v, buf, (size_t)n);
    int read_errno = n < 0 ? errno : 0;
    if (fd != 0)
        close(fd);
    gw_audit_verifier_finish(&v);
    const struct gw_audit_verify *r = &v.result;
    if (rc < 0 || read_errno != 0) {
        fprintf(stderr, "gantry audit verify: %s: %s\n", path,
                rc < 0 ? gw_strerror(rc) : strerror(read_errno));
        return 1;
    }
    if (r->broken_line != 0) {
        printf("%s: BROKEN at line %llu (the entry after seq %llu): %s\n", path,
               (unsigned long long)r->broken_line, (unsigned long long)r->last_seq, r->why);
        printf("%s: %llu entr%s before it are intact\n", path, (unsigned long long)r->entries,
               r->entries == 1 ? "y" : "ies");
        return 1;
    }
    if (r->entries == 0) {
        printf("%s: empty\n", path);
        return 0;
    }
    printf("%s: ok, %llu entr%s (seq %llu to %llu)\n", path, (unsigned long long)r->entries,
           r->entries == 1 ? "y" : "ies", (unsigned long long)r->first_seq,
           (unsigned long long)r->last_seq);
    printf("anchor %s\nlast   %s\n", r->anchor, r->last_hash);
    return 0;
}

int gw_cli_audit(int argc, char **argv)
{
    if (argc == 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc != 2 || strcmp(argv[0], "verify") != 0) {
        fputs(usage, stderr);
        return 2;
    }
    return verify(argv[1]);
}
