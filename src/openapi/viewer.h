/*
 * The static documentation viewer in the binary (openapi/viewer.c): an HTML page and its
 * script, served with the merged document when openapi.viewer is on. Pure data; any thread.
 */
#ifndef GW_OPENAPI_VIEWER_H
#define GW_OPENAPI_VIEWER_H

#include <stdbool.h>
#include <stddef.h>

/* The page (text/html; charset=utf-8) and its script (text/javascript), static. */
const char *gw_openapi_viewer_html(size_t *len);
const char *gw_openapi_viewer_script(size_t *len);

/* True if an Accept field value (n bytes) names text/html: the request comes from a browser
 * navigating to the documentation, which gets the page instead of the JSON. */
bool gw_openapi_wants_html(const char *accept, size_t n);

#endif
