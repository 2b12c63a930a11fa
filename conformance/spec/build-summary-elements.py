#!/usr/bin/env python3
"""Build summary-elements.json: for every concrete FHIR R4 (4.0.1) resource type,
the sorted top-level element names that the spec marks isSummary.

profiles-resources.json is trimmed and has no isSummary, so this script reads the
full snapshots of the StructureDefinitions in the npm package
hl7.fhir.r4.examples@4.0.1 (package/StructureDefinition-<Type>.json).

Usage:
    python3 build-summary-elements.py [--tgz hl7.fhir.r4.examples-4.0.1.tgz] [--out DIR]

If --tgz is not given, ./hl7.fhir.r4.examples-4.0.1.tgz (next to this script or
in the current directory) is used, otherwise `npm pack hl7.fhir.r4.examples@4.0.1`
is run in a temporary directory. Only the Python 3 standard library is used.
The output is byte-for-byte deterministic.

Concrete resource types are the StructureDefinitions with kind "resource",
derivation "specialization" and abstract false (146 in R4). "Top-level" means a
snapshot element whose path has exactly one dot (Patient.name, not
Patient.name.family). A choice element is recorded by its base name: value[x]
becomes "value"; medbridge's element filter matches it against the JSON names
valueQuantity, valueString, ... of a resource.

If profiles-resources.json is found in --out, the script checks that it names
the same types and that every recorded name is a top-level element there.
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
EXPECTED_TYPES = 146
OUT_NAME = "summary-elements.json"


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


def top_level_name(path):
    """'Observation.value[x]' -> 'value'; None for the root and nested paths."""
    parts = path.split(".")
    if len(parts) != 2:
        return None
    name = parts[1]
    if name.endswith("[x]"):
        name = name[:-3]
    return name


def summary_elements(tgz):
    out = {}
    with tarfile.open(tgz, "r:gz") as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name)
        for m in members:
            base = m.name.rsplit("/", 1)[-1]
            if not (base.startswith("StructureDefinition-") and base.endswith(".json")):
                continue
            sd = json.loads(tar.extractfile(m).read().decode("utf-8-sig"))
            if (sd.get("resourceType") != "StructureDefinition" or sd.get("kind") != "resource"
                    or sd.get("derivation") != "specialization" or sd.get("abstract")):
                continue
            typ = sd["type"]
            if typ in out:
                raise SystemExit("duplicate StructureDefinition for %s" % typ)
            names = set()
            for e in sd["snapshot"]["element"]:
                name = top_level_name(e["path"])
                if name is not None and e.get("isSummary") is True:
                    names.add(name)
            out[typ] = sorted(names)
    return out


def check_against_profiles(out, path):
    with open(path, encoding="utf-8") as f:
        bundle = json.load(f)
    top = {}
    for entry in bundle["entry"]:
        sd = entry["resource"]
        if sd.get("abstract") or sd.get("derivation") == "constraint":
            continue
        top[sd["type"]] = {top_level_name(e["path"]) for e in sd["snapshot"]["element"]} - {None}
    if set(top) != set(out):
        raise SystemExit("types differ from %s: %s" % (path, sorted(set(top) ^ set(out))))
    for typ, names in out.items():
        unknown = set(names) - top[typ]
        if unknown:
            raise SystemExit("%s: %s not top-level elements in %s" % (typ, sorted(unknown), path))


def render(out):
    # One type per line keeps diffs readable.
    lines = ["%s:%s" % (json.dumps(t), json.dumps(out[t], separators=(",", ":"))) for t in sorted(out)]
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode("utf-8")


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

    out = summary_elements(tgz)
    if len(out) != EXPECTED_TYPES:
        raise SystemExit("found %d concrete resource types, expected %d" % (len(out), EXPECTED_TYPES))
    profiles = os.path.join(a.out, "profiles-resources.json")
    if os.path.exists(profiles):
        check_against_profiles(out, profiles)

    os.makedirs(a.out, exist_ok=True)
    dest = os.path.join(a.out, OUT_NAME)
    data = render(out)
    with open(dest, "wb") as f:
        f.write(data)
    sys.stderr.write("wrote %s: %d types, %d bytes\n" % (dest, len(out), len(data)))


if __name__ == "__main__":
    main()
