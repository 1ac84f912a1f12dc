# source: written for opencti-mock; builds the fuzz targets' seed inputs from real inputs.
"""Write seed inputs for every fuzz target under OUT/<target>/ (default fuzz/seeds/).

Usage: python3 fuzz/seeds.py [OUT] [--pycti PYTHON]

Sources, all in this repository: the GraphQL documents pycti 7.261026.0 sends (extracted
from the installed package with fixtures/python/extract_documents.py and
fixtures/python/record_entity_documents.py, run with PYTHON, the interpreter of the pycti
venv the tests create under target/; skipped when it is not given), the STIX objects of
fixtures/stix/{valid,invalid}, and the patterns written in src/ and tests/. The input
layouts are those of fuzz/harness.rs; its constants (tokens, connector and work ids) are
repeated here.

The seeds are not committed: `cargo fuzz cmin` keeps the few that matter in fuzz/corpus/.
"""

import base64
import glob
import hashlib
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONNECTOR_ID = "8a0b2c9e-3f1d-4e5a-9b7c-6d2e1f0a4b3c"
WORK_ID = f"work_{CONNECTOR_ID}_2026-01-01T00:00:00.000Z"
# graphql_request: first byte % 3 = caller (none, connector, admin); (byte / 3) % 4 = headers
NO_TOKEN, CONNECTOR, ADMIN = 0, 1, 2
WITH_WORK = 3
MODULES = [
    "pycti/connector/opencti_connector_helper.py",
    "pycti/api/opencti_api_client.py",
    "pycti/api/opencti_api_connector.py",
    "pycti/api/opencti_api_work.py",
]


def write(out, target, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def compact(document):
    return re.sub(r"\s+", " ", document).strip()


def stix_objects():
    """Every valid fixture object, by file, in file order."""
    out = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "fixtures/stix/valid/*.json"))):
        with open(path) as f:
            out[os.path.basename(path)[:-5]] = json.load(f)
    return out


def invalid_objects():
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, "fixtures/stix/invalid/*.json"))):
        with open(path) as f:
            out.append([case["object"] for case in json.load(f)])
    return out


def bundle(objects, ident="bundle--6a4f0f4e-5b8a-4c3e-9d2f-1e0a7b6c5d4e"):
    return json.dumps({"type": "bundle", "id": ident, "objects": objects}, separators=(",", ":"))


def bundles():
    """Small bundles: one per fixture type, related objects together, the invalid cases."""
    valid = stix_objects()
    out = [bundle(objs) for objs in valid.values()]
    by_id = {o["id"]: o for objs in valid.values() for o in objs}
    # Relationships and sightings with the objects they reference (whatever the fixtures hold).
    for name in ("relationship", "sighting", "report", "note", "grouping", "observed-data"):
        for o in valid.get(name, []):
            refs = [v for k, v in o.items() if k.endswith("_ref") and isinstance(v, str)]
            refs += [r for k, v in o.items() if k.endswith("_refs") and isinstance(v, list) for r in v]
            out.append(bundle([by_id[r] for r in refs if r in by_id] + [o]))
            out.append(bundle([o] + [by_id[r] for r in refs if r in by_id]))
    out += [bundle(objs) for objs in invalid_objects()]
    out.append(bundle([]))
    out.append('{"type":"bundle","objects":[{"type":"indicator"}]}')
    return [b for b in out if len(b) < 30000]


def pycti_documents(python):
    """(operation, document, variables) for every document pycti sends."""
    out = []
    run = lambda *args: json.loads(subprocess.run([python, *args], check=True, capture_output=True, cwd=ROOT).stdout)
    helper = run(os.path.join(ROOT, "fixtures/python/extract_documents.py"), *MODULES)
    small = json.loads(bundles()[0])
    push_bundle = json.dumps(small)
    variables = {
        "draftWorkspaceAdd": {"input": {"name": "fuzz draft"}},
        "UploadImport": {"file": None, "fileMarkings": []},
        "UploadPending": {"file": None, "entityId": None, "file_markings": []},
        "StixBundlePush": {"connectorId": CONNECTOR_ID, "bundle": push_bundle, "work_id": WORK_ID},
        "StixQuery": {"id": small["objects"][0]["id"]},
        "GetConnector": {"id": CONNECTOR_ID},
        "PingConnector": {
            "id": CONNECTOR_ID,
            "state": '{"last_run": 1767225600}',
            "connectorInfo": {
                "run_and_terminate": False,
                "buffering": False,
                "queue_threshold": 500,
                "queue_messages_size": 0.0,
                "next_run_datetime": None,
                "last_run_datetime": None,
            },
        },
        "RegisterConnector": {
            "input": {
                "id": "0f6b2c6e-1a2b-4c3d-8e9f-0a1b2c3d4e5f",
                "name": "Fuzz importer",
                "type": "EXTERNAL_IMPORT",
                "scope": ["indicator", "malware"],
                "auto": False,
                "only_contextual": False,
                "playbook_compatible": False,
            }
        },
        "ConnectorDeletionMutation": {"id": CONNECTOR_ID},
        "workToReceived": {"id": WORK_ID, "message": "Connector ready to process the operation"},
        "workToProcessed": {"id": WORK_ID, "message": "done", "inError": False},
        "pingWork": {"id": WORK_ID},
        "reportExpectation": {"id": WORK_ID, "error": {"error": "boom", "source": "{}"}},
        "addExpectations": {"id": WORK_ID, "expectations": 3},
        "addDraftContext": {"id": WORK_ID, "draftContext": "draft"},
        "workAdd": {"connectorId": CONNECTOR_ID, "friendlyName": "run", "isMultiPartWork": False},
        "ConnectorWorksMutation": {"workId": WORK_ID},
        "WorkQuery": {"id": WORK_ID},
        "WorkAliveQuery": {"id": WORK_ID},
        "ConnectorWorksQuery": {
            "count": 50,
            "filters": {"mode": "and", "filters": [{"key": "connector_id", "values": [CONNECTOR_ID]}], "filterGroups": []},
        },
        "StreamCollection": {"id": "live"},
    }
    for d in helper["documents"]:
        out.append((d["operation"], compact(d["document"]), variables.get(d["operation"], {}), True))
    entity = run(os.path.join(ROOT, "fixtures/python/record_entity_documents.py"))
    for d in entity["documents"]:
        out.append((d["operation"], compact(d["document"]), d.get("variables") or {}, False))
    return out


def graphql_seeds(out, python):
    def emit(mode, body):
        write(out, "graphql_request", bytes([mode]) + body.encode())

    def request(query, variables=None, name=None):
        r = {"query": query}
        if variables is not None:
            r["variables"] = variables
        if name is not None:
            r["operationName"] = name
        return json.dumps(r, separators=(",", ":"))

    if python:
        for operation, document, variables, helper in pycti_documents(python):
            body = request(document, variables)
            emit(ADMIN, body)
            if helper:
                emit(CONNECTOR, body)
                emit(CONNECTOR + 3 * 1, body)  # with the work's header
    for b in bundles()[:40]:
        q = "mutation P($connectorId: String!, $bundle: String!, $work_id: String) { stixBundlePush(connectorId: $connectorId, bundle: $bundle, work_id: $work_id) }"
        emit(CONNECTOR, request(q, {"connectorId": CONNECTOR_ID, "bundle": b, "work_id": WORK_ID}))
    hostile = [
        request("query { about { version } }"),
        request("{ __schema { types { name fields { name } } } }"),
        request("query A { ...F } fragment F on Query { ...G } fragment G on Query { ...F }"),
        request("query { " + " ".join(f"a{i}: about {{ version }}" for i in range(40)) + " }"),
        request("query { about " + "{ version " * 30 + "}" * 31),
        request("query Q($x: Int) { about { version } }", {"x": "not an int"}),
        request("mutation { workEdit(id: \"" + WORK_ID + "\") { toProcessed(message: \"m\", inError: false) } }"),
        request("query { about { version } } query B { about { version } }", None, "B"),
        request("query { about { version } }", "not an object"),
        '{"query": 1}',
        '{"variables": {}}',
        '{"query": "query { about { version } }", "variables": null}',
        '{"query": "query { about { versio',
        "[]",
        "",
        "null",
        '{"query":"mutation { a: registerConnector(input: {id: \\"9c1d\\", name: \\"n\\", type: EXTERNAL_IMPORT}) { id } b: pingConnector(id: \\"9c1d\\") { id } }"}',
    ]
    for body in hostile:
        for mode in (NO_TOKEN, CONNECTOR, ADMIN):
            emit(mode, body)


def bundle_seeds(out):
    for i, b in enumerate(bundles()):
        # mode: bit 0 profile 6.9, bit 1 cleanup_inconsistent_bundle, bit 2 the existing work
        write(out, "bundle_push", bytes([(i % 8)]) + b.encode())


def rust_literals(path):
    """The string literals of a Rust file, decoded (plain and raw strings)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    out = []
    for m in re.finditer(r'r(#*)"(.*?)"\1', text, re.S):
        out.append(m.group(2))
    for m in re.finditer(r'(?<![r#\w])"((?:[^"\\\n]|\\.)*)"', text):
        try:
            out.append(json.loads('"' + m.group(1).replace("\\'", "'") + '"'))
        except ValueError:
            pass
    return out


def pattern_seeds(out):
    patterns = set()
    for name in ("indicator",):
        with open(os.path.join(ROOT, f"fixtures/stix/valid/{name}.json")) as f:
            patterns.update(o["pattern"] for o in json.load(f) if "pattern" in o)
        with open(os.path.join(ROOT, f"fixtures/stix/invalid/{name}.json")) as f:
            patterns.update(c["object"]["pattern"] for c in json.load(f) if isinstance(c["object"].get("pattern"), str))
    files = ["src/stix/pattern.rs", "src/validate/checks.rs", "src/ingest/rules.rs"]
    files += glob.glob(os.path.join(ROOT, "tests/*.rs"))
    for path in files:
        for lit in rust_literals(os.path.join(ROOT, path)):
            s = lit.strip()
            if s.startswith(("[", "(")) and ":" in s and len(s) < 2000:
                patterns.add(lit)
    for p in sorted(patterns):
        write(out, "stix_pattern", p.encode())


def multipart_body(boundary, parts):
    b = b""
    for headers, content in parts:
        b += b"--" + boundary + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + content + b"\r\n"
    return b + b"--" + boundary + b"--\r\n"


def multipart_seeds(out):
    ops = json.dumps({
        "query": "mutation UploadImport($file: Upload!) { uploadImport(file: $file) { id name } }",
        "variables": {"file": None},
    }).encode()
    mp = json.dumps({"0": ["variables.file"]}).encode()
    disp = lambda name, filename=None: b'Content-Disposition: form-data; name="' + name + b'"' + (
        b'; filename="' + filename + b'"' if filename else b"")
    file_part = ([disp(b"0", b"feed.json"), b"Content-Type: application/json"], b'{"type":"bundle","objects":[]}')
    cases = [
        [([disp(b"operations")], ops), ([disp(b"map")], mp), file_part],
        [([disp(b"operations")], ops), ([disp(b"map")], mp)],
        [([disp(b"map")], mp), ([disp(b"operations")], ops), file_part],
        [([disp(b"operations")], ops), ([disp(b"map")], b'{"0": ["variables.file", "variables.other"]}'), file_part, file_part],
        [([disp(b"operations")], b"not json"), ([disp(b"map")], mp), file_part],
        [([disp(b"operations")], ops), ([disp(b"map")], mp), ([disp(b"extra")], b"x"), file_part],
        [([disp(b"operations")], ops), ([disp(b"map")], b'{"0": "variables.file"}'), file_part],
    ]
    for boundary in (b"----pyctiboundary7e3f", b"X", b'"quoted; boundary"'):
        for i, parts in enumerate(cases):
            body = multipart_body(boundary.strip(b'"'), parts)
            for cut in (0, 7, 200):
                write(out, "multipart_upload", bytes([len(boundary)]) + boundary + bytes([cut]) + body)


def amqp_seeds(out):
    b64 = lambda s: base64.b64encode(s.encode()).decode()
    for i, b in enumerate(bundles()[:60]):
        pycti = {"bundle_type": "QUEUE_BUNDLE", "applicant_id": None, "action_sequence": 1,
                 "entities_types": [], "content": b64(b), "update": False, "draft_id": None,
                 "no_split": i % 3 == 0, "work_id": WORK_ID}
        platform = {"type": "bundle", "applicant_id": None, "content": b64(b), "update": True}
        if i % 2:
            platform["work_id"] = WORK_ID
        for m in (pycti, platform):
            write(out, "amqp_message", json.dumps(m, separators=(",", ":")).encode())
        obj = json.loads(b)["objects"][:1]
        if obj:
            for kind in ("create", "update", "delete", "merge"):
                event = {"type": kind, "data": obj[0], "context": {}}
                m = {"type": "event", "applicant_id": None, "content": b64(json.dumps(event)), "work_id": WORK_ID}
                write(out, "amqp_message", json.dumps(m, separators=(",", ":")).encode())
    for m in ('{"content": "%%%"}', '{"type": "weird", "content": ""}', '{"entities_types": "indicator,malware", "content": "e30="}',
              '{"bundle_type": "OTHER", "content": "e30="}', "not json"):
        write(out, "amqp_message", m.encode())


PIKA_CONVERSATION = r"""
import sys, pika
params = pika.ConnectionParameters(host="127.0.0.1", port=int(sys.argv[1]), heartbeat=10,
                                   credentials=pika.PlainCredentials("guest", "guest"))
conn = pika.BlockingConnection(params)
ch = conn.channel()
ch.confirm_delivery()
ch.basic_qos(prefetch_count=1)
x, q = "fuzz-seed.exchange", "fuzz-seed-queue"
ch.exchange_declare(x, exchange_type="direct", durable=True)
ch.queue_declare(q, durable=True, arguments={"name": "seed", "config": {"id": "1", "type": "EXTERNAL_IMPORT",
                 "scope": ["ipv4-addr"]}, "x-queue-type": "classic"})
ch.queue_bind(q, x, routing_key="seed")
for body in (b"{}", b'{"type": "bundle", "objects": []}', bytes(range(256)) * 20):
    ch.basic_publish(x, "seed", body, properties=pika.BasicProperties(delivery_mode=2, content_encoding="utf-8"))
method, props, body = ch.basic_get(q)
ch.basic_nack(method.delivery_tag, requeue=True)
for method, props, body in ch.consume(q, inactivity_timeout=1):
    if method is None:
        break
    ch.basic_ack(method.delivery_tag)
ch.cancel()
ch.queue_purge(q)
ch.queue_unbind(q, x, routing_key="seed")
ch.queue_delete(q)
ch.exchange_delete(x)
conn.close()
"""


def amqp_frame_seeds(out, python):
    """What pika sends as pycti drives it, recorded through a proxy to the local RabbitMQ:
    the frames after the protocol header, cut into a few inputs (first byte: frame_max)."""
    import socket
    import threading
    if not python:
        return
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    sent = bytearray()

    def relay(src, dst, keep):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            if keep is not None:
                keep.extend(data)
            dst.sendall(data)

    def proxy():
        client, _ = listener.accept()
        broker = socket.create_connection(("127.0.0.1", 5672))
        up = threading.Thread(target=relay, args=(client, broker, sent))
        up.start()
        relay(broker, client, None)
        up.join()

    t = threading.Thread(target=proxy, daemon=True)
    t.start()
    subprocess.run([python, "-c", PIKA_CONVERSATION, str(port)], check=True, timeout=60)
    t.join(timeout=10)
    frames = bytes(sent[8:])  # after the protocol header
    for choice in (0, 1, 2):
        write(out, "amqp_frame", bytes([choice]) + frames)
    step = max(1, len(frames) // 8)
    for i in range(0, len(frames), step):
        write(out, "amqp_frame", bytes([i % 3]) + frames[i:i + step])


def main():
    args = sys.argv[1:]
    python = None
    if "--pycti" in args:
        i = args.index("--pycti")
        python = args[i + 1]
        del args[i:i + 2]
    out = args[0] if args else os.path.join(ROOT, "fuzz/seeds")
    graphql_seeds(out, python)
    bundle_seeds(out)
    pattern_seeds(out)
    multipart_seeds(out)
    amqp_seeds(out)
    amqp_frame_seeds(out, python)
    for target in sorted(os.listdir(out)):
        files = os.listdir(os.path.join(out, target))
        size = sum(os.path.getsize(os.path.join(out, target, f)) for f in files)
        print(f"{target}: {len(files)} seeds, {size} bytes")


if __name__ == "__main__":
    main()
