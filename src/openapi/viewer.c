/*
 * The documentation viewer shipped in the binary (openapi.viewer): one HTML page and one
 * script, no CDN, no third-party code. The page is what a browser gets at openapi.path (it asks
 * for text/html); its script, at openapi.path + "?viewer.js", fetches the JSON from the same
 * path and renders it with DOM calls only (textContent: nothing from a service's document is
 * ever parsed as HTML). Both fit the default Content-Security-Policy of security_headers
 * (script-src 'self', inline styles allowed).
 */
#include "openapi/viewer.h"

#include <string.h>
#include <strings.h>

static const char html[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>API documentation</title>\n"
    "<style>\n"
    "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f8fa}\n"
    "main{max-width:980px;margin:0 auto;padding:24px}\n"
    "h1{margin:0 0 4px}.server{color:#57606a;margin:0 0 20px;font-family:monospace}\n"
    "details{background:#fff;border:1px solid #d0d7de;border-radius:6px;margin:6px 0}\n"
    "summary{cursor:pointer;padding:8px 12px;display:flex;gap:12px;align-items:baseline}\n"
    ".method{font:bold 12px monospace;padding:2px 8px;border-radius:4px;color:#fff;"
    "background:#6e7781;min-width:56px;text-align:center}\n"
    ".get .method{background:#0969da}.post .method{background:#1a7f37}"
    ".put .method,.patch .method{background:#9a6700}.delete .method{background:#cf222e}\n"
    ".path{font-family:monospace;font-weight:600}.summary{color:#57606a}\n"
    "details>:not(summary){margin:8px 12px}pre{background:#f6f8fa;padding:8px;overflow:auto;"
    "font-size:12px}\n"
    ".sec{color:#8250df}.err{color:#cf222e}h2{margin-top:28px}\n"
    "</style></head>\n"
    "<body data-state=\"loading\"><main id=\"app\"></main>\n"
    "<script src=\"?viewer.js\"></script></body></html>\n";

static const char script[] =
    "(function () {\n"
    "  'use strict';\n"
    "  var app = document.getElementById('app');\n"
    "  var METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];\n"
    "  function el(tag, cls, text) {\n"
    "    var e = document.createElement(tag);\n"
    "    if (cls) e.className = cls;\n"
    "    if (text !== undefined) e.textContent = String(text);\n"
    "    return e;\n"
    "  }\n"
    "  function block(title, value) {\n"
    "    var d = el('div');\n"
    "    d.appendChild(el('h4', '', title));\n"
    "    d.appendChild(el('pre', '', JSON.stringify(value, null, 2)));\n"
    "    return d;\n"
    "  }\n"
    "  function security(op) {\n"
    "    return op.security.map(function (req) {\n"
    "      var k = Object.keys(req);\n"
    "      return k.length ? k.join(' + ') : 'none';\n"
    "    }).join(' or ');\n"
    "  }\n"
    "  function operation(path, item, m) {\n"
    "    var op = item[m];\n"
    "    var box = el('details', 'op ' + m);\n"
    "    var sum = el('summary');\n"
    "    sum.appendChild(el('span', 'method', m.toUpperCase()));\n"
    "    sum.appendChild(el('span', 'path', path));\n"
    "    if (op.summary) sum.appendChild(el('span', 'summary', op.summary));\n"
    "    box.appendChild(sum);\n"
    "    if (op.operationId) box.appendChild(el('p', 'id', op.operationId));\n"
    "    if (op.description) box.appendChild(el('p', '', op.description));\n"
    "    if (op.security && op.security.length)\n"
    "      box.appendChild(el('p', 'sec', 'Security: ' + security(op)));\n"
    "    var params = (item.parameters || []).concat(op.parameters || []);\n"
    "    if (params.length) box.appendChild(block('Parameters', params));\n"
    "    if (op.requestBody) box.appendChild(block('Request body', op.requestBody));\n"
    "    if (op.responses) box.appendChild(block('Responses', op.responses));\n"
    "    return box;\n"
    "  }\n"
    "  function render(d) {\n"
    "    var info = d.info || {};\n"
    "    document.title = (info.title || 'API') + ' documentation';\n"
    "    app.appendChild(el('h1', '', (info.title || 'API') + ' ' + (info.version || '')));\n"
    "    (d.servers || []).forEach(function (s) { app.appendChild(el('p', 'server', s.url)); "
    "});\n"
    "    var paths = d.paths || {};\n"
    "    Object.keys(paths).sort().forEach(function (p) {\n"
    "      METHODS.forEach(function (m) {\n"
    "        if (paths[p] && paths[p][m]) app.appendChild(operation(p, paths[p], m));\n"
    "      });\n"
    "    });\n"
    "    var comps = d.components || {};\n"
    "    Object.keys(comps).forEach(function (kind) {\n"
    "      var names = Object.keys(comps[kind] || {}).sort();\n"
    "      if (!names.length) return;\n"
    "      app.appendChild(el('h2', '', kind));\n"
    "      names.forEach(function (n) {\n"
    "        var box = el('details', 'comp');\n"
    "        box.appendChild(el('summary', 'name', n));\n"
    "        box.appendChild(el('pre', '', JSON.stringify(comps[kind][n], null, 2)));\n"
    "        app.appendChild(box);\n"
    "      });\n"
    "    });\n"
    "    document.body.setAttribute('data-state', 'ready');\n"
    "  }\n"
    "  fetch(location.pathname, {headers: {Accept: 'application/json'}})\n"
    "    .then(function (r) {\n"
    "      if (!r.ok) throw new Error('status ' + r.status);\n"
    "      return r.json();\n"
    "    })\n"
    "    .then(render)\n"
    "    .catch(function (e) {\n"
    "      app.appendChild(el('p', 'err', 'Cannot load the API document: ' + e.message));\n"
    "      document.body.setAttribute('data-state', 'error');\n"
    "    });\n"
    "})();\n";

const char *gw_openapi_viewer_html(size_t *len)
{
    *len = sizeof html - 1;
    return html;
}

const char *gw_openapi_viewer_script(size_t *len)
{
    *len = sizeof script - 1;
    return script;
}

bool gw_openapi_wants_html(const char *accept, size_t n)
{
    /* A browser navigating names text/html; a client that names JSON, nothing, or any type
     * (curl) gets the document itself. */
    static const char want[] = "text/html";
    const size_t wl = sizeof want - 1;
    for (size_t i = 0; i + wl <= n; i++) {
        if (strncasecmp(accept + i, want, wl) == 0)
            return true;
    }
    return false;
}
