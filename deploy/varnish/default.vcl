vcl 4.1;

# CDN edge of the docs site, in front of the S3 origin (moto locally).
# portal/stack.render_vcl fills the {{...}} placeholders when it starts Varnish.
#
# Public paths resolve through the release pointer: a request for /x first
# looks up the object `current.json` (cached like any page), reads the release
# id from its `x-amz-meta-release-id` header, then restarts as a request for
# `releases/<id>/x`. Purging the pointer therefore moves every reader to the
# new release at once, and a release's own objects never change.
#
# Cached objects carry surrogate keys in an `xkey` header (vmod xkey):
# `docs` on everything, `release-<id>` on a release's files and `docs-pointer`
# on the pointer. `PURGE` with an `xkey-purge` header drops every object with
# one of the listed keys; `BAN` with `X-Ban-Path` (a regex over public paths)
# bans by path. Both are accepted only from the portal's own address.

import std;
import xkey;

backend origin {
    .host = "{{ORIGIN_HOST}}";
    .port = "{{ORIGIN_PORT}}";
    .connect_timeout = 2s;
    .first_byte_timeout = 10s;
    .between_bytes_timeout = 10s;
}

acl purgers {
    "{{PURGER_ADDRESS}}";
}

sub vcl_recv {
    if (req.method == "PURGE" || req.method == "BAN") {
        if (client.ip !~ purgers) {
            return (synth(403, "Purge not allowed from " + client.ip));
        }
        if (req.method == "BAN") {
            if (!req.http.X-Ban-Path) {
                return (synth(400, "BAN needs an X-Ban-Path header with a path regex"));
            }
            ban("obj.http.X-Public-Path ~ " + req.http.X-Ban-Path);
            return (synth(200, "Banned"));
        }
        if (!req.http.xkey-purge) {
            return (synth(400, "PURGE needs an xkey-purge header with surrogate keys"));
        }
        set req.http.X-Purged = xkey.purge(req.http.xkey-purge);
        return (synth(200, "Purged"));
    }
    if (req.method != "GET" && req.method != "HEAD") {
        return (synth(405, "Method not allowed"));
    }

    # Docs are public and the same for everyone: nothing per-user reaches the origin.
    unset req.http.Cookie;
    unset req.http.Authorization;

    if (req.restarts == 0) {
        # Headers below are the edge's own; a client must not set them.
        unset req.http.X-Docs-Lookup;
        unset req.http.X-Docs-Release;
        unset req.http.X-Public-Path;
        set req.url = regsub(req.url, "[?#].*$", "");
        if (req.url ~ "/$") {
            set req.url = req.url + "index.html";
        }
        if (req.url ~ "\.\.") {
            return (synth(400, "Invalid path"));
        }
        set req.http.X-Public-Path = req.url;
        if (req.url ~ "^/releases/") {
            # A release addressed by id: served as is, for comparisons with the origin.
            set req.url = "/{{DOCS_BUCKET}}" + req.url;
        } else {
            set req.http.X-Docs-Lookup = "pointer";
            set req.url = "/{{DOCS_BUCKET}}/current.json";
        }
    }
    return (hash);
}

sub vcl_hash {
    # The Host header varies (localhost, 127.0.0.1, a CDN name); the object does not.
    hash_data(req.url);
    return (lookup);
}

sub vcl_backend_fetch {
    set bereq.http.Host = "{{ORIGIN_HOST}}:{{ORIGIN_PORT}}";
    unset bereq.http.X-Docs-Lookup;
}

sub vcl_backend_response {
    # Surrogate keys: the ones the portal stored with the object, plus the
    # release's, derived from the key, so even an error page can be purged.
    set beresp.http.xkey = "docs";
    if (beresp.http.x-amz-meta-surrogate-key) {
        set beresp.http.xkey = beresp.http.xkey + " " + beresp.http.x-amz-meta-surrogate-key;
    }
    if (bereq.url ~ "^/{{DOCS_BUCKET}}/releases/[^/]+/") {
        set beresp.http.xkey = beresp.http.xkey + " release-" +
            regsub(bereq.url, "^/{{DOCS_BUCKET}}/releases/([^/]+)/.*$", "\1");
    }
    if (bereq.url == "/{{DOCS_BUCKET}}/current.json") {
        set beresp.http.xkey = beresp.http.xkey + " docs-pointer";
        set beresp.http.X-Public-Path = "/current.json";
    } else {
        set beresp.http.X-Public-Path = bereq.http.X-Public-Path;
    }

    # The origin's Cache-Control decides the TTL (Varnish's default rules);
    # errors are kept briefly so a missing page does not hammer the origin.
    if (beresp.status >= 400) {
        set beresp.ttl = 10s;
        set beresp.grace = 0s;
        return (deliver);
    }
    set beresp.grace = 10s;
    return (deliver);
}

sub vcl_deliver {
    if (req.http.X-Docs-Lookup == "pointer") {
        unset req.http.X-Docs-Lookup;
        if (resp.status != 200 || !resp.http.x-amz-meta-release-id) {
            return (synth(503, "No current docs release at the origin"));
        }
        set req.http.X-Docs-Release = resp.http.x-amz-meta-release-id;
        set req.url = "/{{DOCS_BUCKET}}/releases/" + resp.http.x-amz-meta-release-id +
            req.http.X-Public-Path;
        return (restart);
    }

    if (req.http.X-Docs-Release) {
        set resp.http.X-Docs-Release = req.http.X-Docs-Release;
    }
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
    # Internal headers of the origin and of the edge stay inside.
    unset resp.http.xkey;
    unset resp.http.X-Public-Path;
    unset resp.http.x-amz-request-id;
    unset resp.http.x-amz-id-2;
    unset resp.http.x-amz-version-id;
    unset resp.http.x-amz-meta-surrogate-key;
    unset resp.http.x-amz-meta-sha256;
    unset resp.http.x-amz-meta-manifest-sha256;
    unset resp.http.x-amz-meta-release-id;
}

sub vcl_synth {
    if (req.http.X-Purged) {
        set resp.http.X-Purged = req.http.X-Purged;
    }
}
