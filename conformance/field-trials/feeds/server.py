"""Loopback feed server and third-party API stubs for the field trials (stdlib only).

    python3 server.py PORT DATA_DIR LOG_FILE

Serves the feeds written by make_data.py (DATA_DIR) at the paths the connectors' docker-compose
URLs have, answers as isMalicious, FIRST EPSS and an import-document-ai backend would, and logs
every request to LOG_FILE. Binds 127.0.0.1 only.

The import-document-ai backend answers the same bundle for any file at /docai/stix. At
/docai-strict/stix it refuses, with HTTP 422, a PDF without its %%EOF trailer (a truncated or
corrupt one), as a backend that cannot read a file would: a diagnostic variant uses it."""
import json, os, sys, re, uuid, datetime
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlparse, parse_qs

DATA = LOG = None  # set from the command line
FILES = {
    "/abusessl/sslipblacklist.csv": ("sslipblacklist.csv", "text/csv"),
    "/stopforumspam/toxic_domains_whole_filtered_50000.txt": ("toxic_domains.txt", "text/plain"),
    "/urlhaus/downloads/csv_recent/": ("urlhaus_csv_recent.csv", "text/csv"),
    "/datasets/sectors.json": ("sectors.json", "application/json"),
    "/datasets/geography.json": ("geography.json", "application/json"),
    "/datasets/companies.json": ("companies.json", "application/json"),
    "/disarm/DISARM.json": ("DISARM.json", "application/json"),
}

def ismalicious(query):
    # A realistic isMalicious /check answer; loopback documentation ranges are "malicious".
    bad = query.startswith("198.51.100.") or query.endswith(".example.com")
    return {
        "query": query, "malicious": bad, "confidenceScore": 87 if bad else 5,
        "categories": ["c2", "botnet"] if bad else [],
        "sources": [{"name": "FeodoTracker", "url": "https://feodotracker.abuse.ch/", "category": "c2"}] if bad else [],
        "reputation": {"malicious": 7, "suspicious": 1, "harmless": 60, "undetected": 12} if bad else {"harmless": 70},
        "geo": {"country": "Netherlands", "countryCode": "NL"},
    }

def epss(cve):
    return {"status": "OK", "status-code": 200, "version": "1.0", "access": "public", "total": 1, "offset": 0, "limit": 100,
            "data": [{"cve": cve, "epss": "0.943580000", "percentile": "0.999420000", "date": "2026-08-20"}]}

def docai_bundle(filename):
    ts = "2026-08-20T06:00:00.000Z"
    def sid(t, n): return f"{t}--{uuid.uuid5(uuid.NAMESPACE_URL, t + n)}"
    isid, mal, loc = sid("intrusion-set", "APT-Example"), sid("malware", "ExampleLoader"), sid("location", "FR")
    ip = sid("ipv4-addr", "198.51.100.61")
    return {"type": "bundle", "id": "bundle--" + str(uuid.uuid4()), "objects": [
        {"type": "intrusion-set", "spec_version": "2.1", "id": isid, "created": ts, "modified": ts, "name": "APT-Example"},
        {"type": "malware", "spec_version": "2.1", "id": mal, "created": ts, "modified": ts, "name": "ExampleLoader", "is_family": True},
        {"type": "location", "spec_version": "2.1", "id": loc, "created": ts, "modified": ts, "name": "France", "country": "FR"},
        {"type": "ipv4-addr", "spec_version": "2.1", "id": ip, "value": "198.51.100.61"},
        {"type": "relationship", "spec_version": "2.1", "id": sid("relationship", "uses"), "created": ts, "modified": ts,
         "relationship_type": "uses", "source_ref": isid, "target_ref": mal},
        {"type": "relationship", "spec_version": "2.1", "id": sid("relationship", "targets"), "created": ts, "modified": ts,
         "relationship_type": "targets", "source_ref": isid, "target_ref": loc},
    ]}

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, fmt, *args):
        with open(LOG, "a") as f:
            f.write(f"{datetime.datetime.utcnow().isoformat()} {self.command} {self.path} {fmt % args}\n")
    def send(self, code, body, ctype="application/json"):
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        u = urlparse(self.path); q = parse_qs(u.query)
        if u.path in FILES:
            name, ctype = FILES[u.path]
            with open(os.path.join(DATA, name), "rb") as f:
                return self.send(200, f.read(), ctype)
        if u.path == "/ismalicious/check":
            return self.send(200, ismalicious(q.get("query", [""])[0]))
        if u.path.rstrip("/") == "/epss":
            return self.send(200, epss(q.get("cve", [""])[0]))
        self.send(404, {"error": "not found"})
    def do_POST(self):
        u = urlparse(self.path)
        n = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(n) if n else b""
        if u.path in ("/docai/stix", "/docai-strict/stix"):
            m = re.search(rb'filename="([^"]+)"', body)
            pdf = re.search(rb"Content-Type: application/pdf", body, re.IGNORECASE)
            if u.path == "/docai-strict/stix" and pdf and b"%%EOF" not in body:
                return self.send(422, {"error": "the file could not be read"})
            return self.send(200, docai_bundle(m.group(1).decode() if m else "file"))
        self.send(404, {"error": "not found"})

if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    port, DATA, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
