#!/usr/bin/env python3
"""Build compartments.json: the five FHIR R4 (4.0.1) compartments as
owner -> resource type -> search-parameter codes.

The source is the CompartmentDefinitions patient, encounter, relatedPerson,
practitioner and device in the npm package hl7.fhir.r4.examples@4.0.1
(package/CompartmentDefinition-<id>.json; CompartmentDefinition-example is
an illustration and is skipped).

Usage:
    python3 build-compartments.py [--tgz hl7.fhir.r4.examples-4.0.1.tgz] [--out DIR]

If --tgz is not given, ./hl7.fhir.r4.examples-4.0.1.tgz (next to this script or
in the current directory) is used, otherwise `npm pack hl7.fhir.r4.examples@4.0.1`
is run in a temporary directory. Only the Python 3 standard library is used.
The output is byte-for-byte deterministic.

Output: a JSON object keyed by the compartment code (the resource type of the
compartment owner: Patient, Encounter, RelatedPerson, Practitioner, Device);
each value maps a resource type to its `param` list, in the published order.
Resource entries without params (types not in the compartment) are left out.
The special code "{def}" (Encounter, RelatedPerson and Practitioner list it for
their own type) means the owner resource itself is in the compartment.

Checks: the five definitions equal the copies in the package's
Bundle-resources.json; every type listed is a concrete resource type; and,
when these files are in --out, the Patient compartment equals
compartment-patient.json and every param code except "{def}" is a search
parameter (with an expression) of its type, Resource or DomainResource in
search-parameters.json.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile

PKG = "hl7.fhir.r4.examples"
VER = "4.0.1"
EXPECTED_SHA1 = "537ea7db3f3c7b3575fe2eaa7808bad21261cca3"  # npm dist.shasum of the tarball
OUT_NAME = "compartments.json"
# CompartmentDefinition id -> compartment code (owner type).
COMPARTMENTS = {
    "patient": "Patient",
    "encounter": "Encounter",
    "relatedPerson": "RelatedPerson",
    "practitioner": "Practitioner",
    "device": "Device",
}
SELF = "{def}"


def get_tgz(arg):
    if arg:
        return os.path.abspath(arg)
    name = "%s-%s.tgz" % (PKG, VER)
    for d in (os.path.dirname(os.path.abspath(__file__)), os.getcwd()):
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    tmp = tempfile.mkdtemp(prefix="fhir-r4-")
    r = subprocess.run(["npm", "pack", "%s@%s" % (PKG, VER)], cwd=tmp,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        raise SystemExit("npm pack failed")
    return os.path.join(tmp, name)


def read_json(tar, name):
    return json.loads(tar.extractfile("package/" + name).read().decode("utf-8-sig"))


def concrete_types(tar):
    types = set()
    for m in tar.getmembers():
        base = m.name.rsplit("/", 1)[-1]
        if not (m.isfile() and base.startswith("StructureDefinition-") and base.endswith(".json")):
            continue
        sd = json.loads(tar.extractfile(m).read().decode("utf-8-sig"))
        if (sd.get("resourceType") == "StructureDefinition" and sd.get("kind") == "resource"
                and sd.get("derivation") == "specialization" and not sd.get("abstract")):
            types.add(sd["type"])
    return types


def compartments(tgz):
    out = {}
    defs = {}
    with tarfile.open(tgz, "r:gz") as tar:
        types = concrete_types(tar)
        for cid, code in COMPARTMENTS.items():
            cd = read_json(tar, "CompartmentDefinition-%s.json" % cid)
            url = "http://hl7.org/fhir/CompartmentDefinition/" + cid
            if cd.get("resourceType") != "CompartmentDefinition" or cd.get("id") != cid or cd.get("url") != url:
                raise SystemExit("CompartmentDefinition-%s.json is not %s" % (cid, url))
            if cd.get("code") != code:
                raise SystemExit("%s: code %r, expected %r" % (url, cd.get("code"), code))
            defs[cid] = cd
            entry = {}
            for r in cd.get("resource", []):
                typ = r["code"]
                if typ not in types:
                    raise SystemExit("%s: %s is not a concrete resource type" % (url, typ))
                if typ in entry:
                    raise SystemExit("%s: %s listed twice" % (url, typ))
                params = r.get("param") or []
                if len(set(params)) != len(params):
                    raise SystemExit("%s: %s has duplicate params %s" % (url, typ, params))
                if params:
                    entry[typ] = list(params)
            out[code] = entry
        bundle = read_json(tar, "Bundle-resources.json")
    seen = set()
    for e in bundle["entry"]:
        r = e["resource"]
        if r.get("resourceType") == "CompartmentDefinition" and r.get("id") in defs:
            seen.add(r["id"])
            if r.get("resource") != defs[r["id"]].get("resource"):
                raise SystemExit("CompartmentDefinition/%s differs from Bundle-resources.json" % r["id"])
    if seen != set(defs):
        raise SystemExit("Bundle-resources.json lacks %s" % sorted(set(defs) - seen))
    return out, defs


def check_patient(defs, path):
    with open(path, encoding="utf-8") as f:
        published = json.load(f)
    if published != defs["patient"]:
        raise SystemExit("CompartmentDefinition-patient.json differs from %s" % path)


def check_params(out, path):
    with open(path, encoding="utf-8") as f:
        bundle = json.load(f)
    codes = {}
    for e in bundle["entry"]:
        r = e["resource"]
        rid = r.get("id", "")
        # medbridge skips the package's illustrative SearchParameters too.
        if rid == "example" or rid.startswith("example-") or not r.get("expression"):
            continue
        for base in r.get("base", []):
            codes.setdefault(base, set()).add(r["code"])
    missing = []
    for owner, entry in sorted(out.items()):
        for typ, params in sorted(entry.items()):
            known = codes.get(typ, set()) | codes.get("Resource", set()) | codes.get("DomainResource", set())
            for p in params:
                if p != SELF and p not in known:
                    missing.append("%s: %s.%s" % (owner, typ, p))
    if missing:
        raise SystemExit("params not in %s: %s" % (path, ", ".join(missing)))


def render(out):
    # One resource type per line keeps diffs readable.
    blocks = []
    for owner in sorted(out):
        entry = out[owner]
        lines = ["%s:%s" % (json.dumps(t), json.dumps(entry[t], separators=(",", ":"))) for t in sorted(entry)]
        blocks.append("%s:{\n%s\n}" % (json.dumps(owner), ",\n".join(lines)))
    return ("{\n" + ",\n".join(blocks) + "\n}\n").encode("utf-8")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tgz", help="path to %s-%s.tgz" % (PKG, VER))
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    a = ap.parse_args()
    tgz = get_tgz(a.tgz)
    with open(tgz, "rb") as f:
        sha1 = hashlib.sha1(f.read()).hexdigest()
    if sha1 != EXPECTED_SHA1:
        sys.stderr.write("WARNING: %s sha1 %s differs from the npm shasum %s\n" % (tgz, sha1, EXPECTED_SHA1))

    out, defs = compartments(tgz)
    patient = os.path.join(a.out, "compartment-patient.json")
    if os.path.exists(patient):
        check_patient(defs, patient)
    params = os.path.join(a.out, "search-parameters.json")
    if os.path.exists(params):
        check_params(out, params)

    os.makedirs(a.out, exist_ok=True)
    dest = os.path.join(a.out, OUT_NAME)
    data = render(out)
    with open(dest, "wb") as f:
        f.write(data)
    counts = ", ".join("%s %d" % (o, len(out[o])) for o in sorted(out))
    sys.stderr.write("wrote %s: %s types, %d bytes\n" % (dest, counts, len(data)))


if __name__ == "__main__":
    main()
