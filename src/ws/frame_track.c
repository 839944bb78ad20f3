#include "ws/frame_track.h"

size_t gw_ws_track(struct gw_ws_track *t, const unsigned char *p, size_t n, bool stop)
{
    size_t i = 0;
    while (i < n) {
        if (t->left > 0) {
            size_t k = n - i;
            if ((uint64_t)k > t->left)
                k = (size_t)t->left;
            t->left -= k;
            i += k;
            if (t->left == 0 && stop)
                return i;
            continue;
        }
        if (t->hpos == 0 && stop)
            return i; /* between two frames */
        if (t->hpos == 0 && n - i >= 2) {
            /* The usual case, the whole header in these bytes: read at once (a tunnel relays
             * every message through here; byte by byte cost it about 120 instructions a
             * message). A header split across reads takes the byte-wise path below. */
            unsigned b1 = p[i + 1];
            unsigned l7 = b1 & 0x7fu;
            size_t ext = l7 == 126 ? 2 : l7 == 127 ? 8 : 0;
            size_t hl = 2 + ext + ((b1 & 0x80u) ? 4 : 0);
            if (n - i >= hl) {
                uint64_t len = ext ? 0 : l7;
                for (size_t k = 0; k < ext; k++)
                    len = (len << 8) | p[i + 2 + k];
                i += hl;
                t->left = len;
                if (len == 0 && stop)
                    return i;
                continue;
            }
        }
        unsigned char b = p[i++];
        if (t->hpos == 0) {
            t->len = 0;
            t->hneed = 0; /* until the second byte says (the fast path above never sets it) */
            t->ext = 0;
        } else if (t->hpos == 1) {
            unsigned l7 = b & 0x7fu;
            t->ext = (uint8_t)(l7 == 126 ? 2 : l7 == 127 ? 8 : 0);
            t->len = t->ext ? 0 : l7;
            t->hneed = (uint8_t)(2 + t->ext + ((b & 0x80u) ? 4 : 0));
        } else if (t->hpos < 2 + t->ext) {
            t->len = (t->len << 8) | b;
        }
        t->hpos++;
        if (t->hpos >= 2 && t->hpos == t->hneed) {
            t->hpos = 0;
            t->left = t->len;
            if (t->left == 0 && stop)
                return i;
        }
    }
    return i;
}

size_t gw_ws_close_frame(unsigned char out[8], uint16_t code, bool masked, uint32_t mask)
{
    unsigned char payload[2] = {(unsigned char)(code >> 8), (unsigned char)(code & 0xff)};
    out[0] = 0x88; /* FIN, opcode close */
    if (!masked) {
        out[1] = 2;
        out[2] = payload[0];
        out[3] = payload[1];
        return 4;
    }
    unsigned char key[4] = {(unsigned char)(mask >> 24), (unsigned char)(mask >> 16),
                            (unsigned char)(mask >> 8), (unsigned char)mask};
    out[1] = 0x80 | 2;
    for (int i = 0; i < 4; i++)
        out[2 + i] = key[i];
    out[6] = payload[0] ^ key[0];
    out[7] = payload[1] ^ key[1];
    return 8;
}
