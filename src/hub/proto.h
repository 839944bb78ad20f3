/*
 * The hub's protocol: the JSON messages a client sends, the events gantry sends back, and the
 * wire format of a message between instances (Redis pub/sub). Pure functions, fuzzed
 * (fuzz/fuzz_hub_proto.c); README "The WebSocket hub" documents the protocol.
 *
 * Client to gantry, one JSON object per text message:
 *   {"type":"subscribe","channel":C}    {"type":"unsubscribe","channel":C}
 *   {"type":"publish","channel":C,"data":ANY[,"to":CLIENT_ID]}    {"type":"ping"}
 * each with an optional "ref" (a client id-like string, echoed in the answer).
 */
#ifndef GW_HUB_PROTO_H
#define GW_HUB_PROTO_H

#include <stddef.h>

#include "hub/channel.h"

enum gw_hub_op {
    GW_HUB_SUBSCRIBE = 1,
    GW_HUB_UNSUBSCRIBE,
    GW_HUB_PUBLISH,
    GW_HUB_PING,
};

/* Why a client message was refused (negative); gw_hub_perr_code names each for the error event. */
enum gw_hub_perr {
    GW_HUB_EJSON = -1,    /* not a JSON object */
    GW_HUB_ETYPE = -2,    /* "type" missing or unknown */
    GW_HUB_ECHANNEL = -3, /* "channel" missing or not a channel name */
    GW_HUB_EDATA = -4,    /* publish without "data" */
    GW_HUB_EREF = -5,     /* "ref" or "to" not a string of the client id alphabet */
    GW_HUB_ENOMEM = -6,
};

struct gw_hub_cmd {
    enum gw_hub_op op;
    char channel[GW_HUB_CHANNEL_MAX + 1]; /** "" for ping */
    size_t channel_len;
    char ref[GW_HUB_CLIENT_ID_MAX + 1]; /** "" when absent */
    char to[GW_HUB_CLIENT_ID_MAX + 1];  /** publish: the one client to deliver to; "" = all */
    char *data;                         /** publish: "data" as compact JSON (owned), else NULL */
    size_t data_len;
};

/* Parses one client message buf[0..n). 0 (cmd filled; release with gw_hub_cmd_clear), or an
 * enum gw_hub_perr (cmd holds nothing to release; cmd->ref is set when it could be read). */
int gw_hub_cmd_parse(const char *buf, size_t n, struct gw_hub_cmd *cmd);

/* Releases what gw_hub_cmd_parse allocated. */
void gw_hub_cmd_clear(struct gw_hub_cmd *cmd);

/* "bad_json", "unknown_type", "bad_channel", "missing_data", "bad_ref", "internal". */
const char *gw_hub_perr_code(int err);

/* A message between instances: "<to>\n<channel>\n<event JSON>" (to empty: every subscriber). */
struct gw_hub_wire {
    const char *to;
    size_t to_len;
    const char *channel;
    size_t channel_len;
    const char *event;
    size_t event_len;
};

/* Splits p[0..n) into w (slices of p). 0, or -1 when it is not a well-formed message. */
int gw_hub_wire_parse(const char *p, size_t n, struct gw_hub_wire *w);

/* Writes the wire form of w into out[0..cap). Its length, or -1 when it does not fit. */
long gw_hub_wire_format(const struct gw_hub_wire *w, char *out, size_t cap);

#endif
