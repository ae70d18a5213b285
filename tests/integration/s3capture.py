#!/usr/bin/env python3
"""The tier tests' signer check (test_tier.sh): a server on loopback that
answers every request 200 and writes it as one JSON line (method, path,
headers, body in hex) to LOG; READY is made once it listens.

   s3capture.py PORT LOG READY              serve until killed
   s3capture.py --check LOG ACCESS SECRET REGION
       for each request in LOG, the Authorization header botocore's
       S3SigV4Auth computes for it (the same method, path, body and
       x-amz-date; host, range and x-amz-* headers as sent) compared with
       the one received: prints "ok METHOD PATH" or "DIFF ..." per
       request, exit 1 on any difference."""
import datetime, http.server, json, sys

def serve(port, log, ready):
    out = open(log, 'a')
    class H(http.server.BaseHTTPRequestHandler):
        def any(self):
            n = int(self.headers.get('Content-Length') or 0)
            body = self.rfile.read(n) if n else b''
            out.write(json.dumps({"method": self.command, "path": self.path,
                                  "headers": dict(self.headers.items()),
                                  "body": body.hex()}) + "\n")
            out.flush()
            self.send_response(200)
            self.send_header('Content-Length', '0')
            self.end_headers()
        do_GET = do_PUT = do_DELETE = do_POST = do_HEAD = any
        def log_message(self, *a):
            pass
    s = http.server.HTTPServer(('127.0.0.1', port), H)
    open(ready, 'w').close()
    s.serve_forever()

def check(log, access, secret, region):
    import botocore.auth
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    bad = 0
    for line in open(log):
        r = json.loads(line)
        h = {k.lower(): v for k, v in r["headers"].items()}
        when = datetime.datetime.strptime(h["x-amz-date"], "%Y%m%dT%H%M%SZ")
        class Fixed(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return when
        botocore.auth.datetime.datetime = Fixed
        signed = {k: v for k, v in h.items()
                  if k == "range" or k.startswith("x-amz-")}
        signed.pop("x-amz-date", None)
        req = AWSRequest(method=r["method"], url="http://" + h["host"] + r["path"],
                         data=bytes.fromhex(r["body"]), headers=signed)
        S3SigV4Auth(Credentials(access, secret), "s3", region).add_auth(req)
        want, got = req.headers["Authorization"], h.get("authorization", "")
        if want == got:
            print("ok", r["method"], r["path"])
        else:
            bad += 1
            print("DIFF", r["method"], r["path"], "\n  botocore:", want, "\n  sent:    ", got)
    sys.exit(1 if bad else 0)

if sys.argv[1] == "--check":
    check(*sys.argv[2:6])
else:
    serve(int(sys.argv[1]), sys.argv[2], sys.argv[3])
