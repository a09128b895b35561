vcl 4.1;

# Local CDN edge in front of the moto S3 origin. `portal up` replaces the
# ORIGIN placeholders with the origin's address when it starts Varnish.

import std;

backend origin {
    .host = "{{ORIGIN_HOST}}";
    .port = "{{ORIGIN_PORT}}";
    .connect_timeout = 2s;
    .first_byte_timeout = 10s;
}

acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    if (req.method == "PURGE" || req.method == "BAN") {
        if (!client.ip ~ purgers) {
            return (synth(405, "Purge not allowed from " + client.ip));
        }
        if (req.method == "BAN") {
            ban("obj.http.Surrogate-Key ~ " + req.http.Surrogate-Key);
            return (synth(200, "Banned"));
        }
        return (purge);
    }
}
