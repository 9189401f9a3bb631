#!/usr/bin/python3
"""A move between two RAPI clusters driven by hand, step by step, for tests: an independent client
(Python's http.client and ssl, not ferry's code) that can stop halfway or tamper with what it relays.

usage: rapi_move.py SRC DEST INSTANCE [--name NEW] [--tamper WHAT] [--stop-after import]
  SRC, DEST: IP,CA-FILE,PASSWORD-FILE (user "ferry", port 5080)
  --tamper source-cert   put another certificate (DEST's CA file) under the source's signature
           dest-cert     the same with the destination's certificate (SRC's CA file)
           disk-info     change the port in the destination's signed disk info
           key-name      change the x509 key name relayed to the export
           handshake     change the handshake's HMAC
  --stop-after import    leave after the destination listens; print the destination job id
Prints "source: OK|ERROR msg", "destination: OK|ERROR msg" and the final destination job status.
"""
import base64
import http.client
import json
import ssl
import sys
import time


class Cluster:
    def __init__(self, spec):
        self.ip, ca, pwfile = spec.split(",")
        self.ca = ca
        self.ctx = ssl.create_default_context(cafile=ca)
        self.ctx.check_hostname = False
        with open(pwfile) as f:
            pw = f.read().strip()
        self.auth = "Basic " + base64.b64encode(("ferry:" + pw).encode()).decode()

    def call(self, method, path, body=None):
        conn = http.client.HTTPSConnection(self.ip, 5080, context=self.ctx, timeout=120)
        data = json.dumps(body, sort_keys=True) if body is not None else ""
        conn.request(method, path, body=data, headers={
            "Authorization": self.auth, "Content-Type": "application/json",
            "Accept": "application/json"})
        r = conn.getresponse()
        text = r.read()
        conn.close()
        if r.status != 200:
            raise RuntimeError("%d %s" % (r.status, text.decode(errors="replace")))
        return json.loads(text)

    def job(self, jid, on_log=None, stop=None):
        """Polls a job to its end (or until STOP(entry) is true); returns the record."""
        prev, serial = None, None
        while True:
            w = self.call("GET", "/2/jobs/%s/wait" % jid, {
                "fields": ["status"], "previous_job_info": prev, "previous_log_serial": serial})
            if w is None:
                continue
            for e in w["log_entries"]:
                serial = max(serial or 0, e[0])
                if on_log:
                    on_log(e)
                if stop and stop(e):
                    return None
            if not w["log_entries"] and w["job_info"][0] in ("success", "error", "canceled"):
                return self.call("GET", "/2/jobs/%s" % jid)
            prev = w["job_info"]


def error_of(rec):
    if rec["status"] == "success":
        return None
    r = rec["opresult"][0]
    return r[1][0] if isinstance(r, list) else str(r)


def swap(signed, other_pem_file):
    """Keeps the signature header but puts another valid certificate under it: what a tool in
    the middle holding its own key would send."""
    header = signed.split("\n\n", 1)[0]
    with open(other_pem_file) as f:
        return header + "\n\n" + f.read()


def main():
    args = sys.argv[1:]
    src, dest, inst = Cluster(args[0]), Cluster(args[1]), args[2]
    name, tamper, stop_after = inst, None, None
    i = 3
    while i < len(args):
        if args[i] == "--name":
            name = args[i + 1]
        elif args[i] == "--tamper":
            tamper = args[i + 1]
        elif args[i] == "--stop-after":
            stop_after = args[i + 1]
        i += 2
    info = src.job(src.call("GET", "/2/instances/%s/info?static=1" % inst))["opresult"][0][inst]
    exp = src.job(src.call("PUT", "/2/instances/%s/prepare-export?mode=remote" % inst))["opresult"][0]
    if tamper == "source-cert":
        exp["x509_ca"] = swap(exp["x509_ca"], dest.ca)
    if tamper == "handshake":
        exp["handshake"][1] = "0" * 40
    body = {
        "__version__": 1, "mode": "remote-import", "name": name, "source_instance_name": inst,
        "disk_template": info["disk_template"], "hypervisor": info["hypervisor"], "os": info["os"],
        "disks": [{"size": d["size"], "mode": d["mode"], "name": d["name"]} for d in info["disks"]],
        "nics": [], "hvparams": info["hv_instance"], "beparams": {}, "osparams": {},
        "iallocator": None, "pnode": None, "snode": None, "ip_check": False,
        "start": info["config_state"] == "up", "compress": "none",
        "source_handshake": exp["handshake"], "source_x509_ca": exp["x509_ca"],
        "opportunistic_locking": False}
    djob = dest.call("POST", "/2/instances", body)
    imp = {}
    rec = dest.job(djob, on_log=lambda e: e[2] == "remote-import" and imp.update(e[3]),
                   stop=lambda e: e[2] == "remote-import")
    if rec is not None:  # the import failed before listening
        print("source: OK")
        print("destination: ERROR %s" % error_of(rec))
        print("destination job: %s" % rec["status"])
        return
    if stop_after == "import":
        print(djob)
        return
    if tamper == "dest-cert":
        imp["x509_ca"] = swap(imp["x509_ca"], src.ca)
    if tamper == "disk-info":
        imp["disks"][0][1] += 1
    key = exp["x509_key_name"]
    if tamper == "key-name":
        key = [key[0] + "x", key[1], key[2]]
    ejob = src.call("PUT", "/2/instances/%s/export" % inst, {
        "mode": "remote", "destination": imp["disks"], "destination_x509_ca": imp["x509_ca"],
        "x509_key_name": key, "shutdown": True, "remove_instance": True, "compress": "none"})
    srec = src.job(ejob)
    serr = error_of(srec)
    print("source: " + ("OK" if serr is None else "ERROR " + serr))
    if serr is not None:  # abort the other side, as move-instance does
        dest.call("DELETE", "/2/jobs/%s" % djob)
    drec = dest.job(djob)
    derr = error_of(drec)
    print("destination: " + ("OK" if derr is None else "ERROR " + derr))
    print("destination job: %s" % drec["status"])


main()
