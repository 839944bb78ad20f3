#include "core/error.h"

#include <string.h>

struct err_info {
    const char *name;
    const char *msg;
    int status;
};

static const struct err_info err_table[] = {
#define GW__ERR_ROW(name, status, msg) {#name, msg, status},
    GW_ERROR_MAP(GW__ERR_ROW)
#undef GW__ERR_ROW
};

static const struct err_info *lookup(int err)
{
    if (err <= GW__ERR_FIRST || err >= GW__ERR_LAST)
        return NULL;
    return &err_table[err - GW__ERR_FIRST - 1];
}

const char *gw_err_name(int err)
{
    const struct err_info *e = lookup(err);
    return e ? e->name : "UNKNOWN";
}

const char *gw_strerror(int err)
{
    const struct err_info *e = lookup(err);
    if (e)
        return e->msg;
    if (err == 0)
        return "success";
    if (err < 0 && err > -4096)
        return strerror(-err);
    return "unknown error";
}

int gw_err_http_status(int err)
{
    const struct err_info *e = lookup(err);
    return e ? e->status : 500;
}
