#!/usr/bin/env bash
# The container deployments of examples/ are valid and say what the README says: the
# Compose file (checked by docker-compose's own `config`, which validates it against the
# Compose schema) binds the parent /run/vaultfs with rslave propagation; the Kubernetes
# file is a DaemonSet that runs the daemon privileged, in the node's pid namespace, with
# /dev/fuse and the node's /run/vaultfs bound Bidirectional, and a consumer Pod that binds
# that parent with HostToContainer. Both pass yamllint. (t_docker.sh runs the Compose
# file for real; no Kubernetes runs here.)
. "$(dirname "$0")/lib.sh"
EX=$(cd "$(dirname "$0")/../../examples" && pwd)
PY=/usr/bin/python3
$PY -c 'import yaml' 2>/dev/null || { echo "python3-yaml missing: skipped"; exit 77; }

if command -v yamllint >/dev/null; then
	# line length aside (the comments are prose), the default rules
	out=$(yamllint -d '{extends: default, rules: {line-length: {max: 100}, document-start: disable}}' \
		"$EX/compose.yaml" "$EX/kubernetes.yaml" 2>&1) && pass || fail "yamllint: $out"
else
	echo "yamllint missing: not run"
fi
if command -v docker-compose >/dev/null; then
	check "docker-compose config" docker-compose -f "$EX/compose.yaml" config -q
else
	echo "docker-compose missing: the Compose schema is not checked"
fi

# The checker prints each failure on a line, or "ok".
cat >"$T/check.py" <<'EOF'
import sys
import yaml

bad = []


def want(what, cond):
    if not cond:
        bad.append(what)


compose = yaml.safe_load(open(sys.argv[1]))
for name, svc in compose["services"].items():
    vols = svc.get("volumes", [])
    want(f"compose: {name} binds /run/vaultfs with rslave propagation",
         {"type": "bind", "source": "/run/vaultfs", "target": "/run/vaultfs",
          "bind": {"propagation": "rslave"}} in vols)
    want(f"compose: {name} binds no mount point below /run/vaultfs",
         not any(isinstance(v, dict) and v.get("source", "").startswith("/run/vaultfs/")
                 or isinstance(v, str) and v.startswith("/run/vaultfs/") for v in vols))

docs = [d for d in yaml.safe_load_all(open(sys.argv[2])) if d]
kinds = {d["kind"]: d for d in docs}
want("kubernetes: one DaemonSet and one Pod", sorted(kinds) == ["DaemonSet", "Pod"] and len(docs) == 2)
ds = kinds.get("DaemonSet", {})
want("kubernetes: DaemonSet is apps/v1", ds.get("apiVersion") == "apps/v1")
spec = ds.get("spec", {})
tpl = spec.get("template", {})
want("kubernetes: the selector matches the template's labels",
     spec.get("selector", {}).get("matchLabels", {}).items()
     <= tpl.get("metadata", {}).get("labels", {}).items())
pod = tpl.get("spec", {})
want("kubernetes: the daemon sees its callers (hostPID)", pod.get("hostPID") is True)
vols = {v["name"]: v for v in pod.get("volumes", [])}
for c in pod.get("containers", []):
    want("kubernetes: the daemon is privileged", c.get("securityContext", {}).get("privileged") is True)
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    run = mounts.get("/run/vaultfs", {})
    want("kubernetes: the daemon binds /run/vaultfs Bidirectional",
         run.get("mountPropagation") == "Bidirectional"
         and vols.get(run.get("name"), {}).get("hostPath", {}).get("path") == "/run/vaultfs")
    fuse = mounts.get("/dev/fuse", {})
    want("kubernetes: the daemon gets /dev/fuse",
         vols.get(fuse.get("name"), {}).get("hostPath", {}) == {"path": "/dev/fuse", "type": "CharDevice"})
    cmd = " ".join(c.get("command", []))
    want("kubernetes: the daemon mounts /var/lib/vaultfs/app on /run/vaultfs/app in the foreground",
         "vaultfs mount /var/lib/vaultfs/app /run/vaultfs/app -f" in cmd)
consumer = kinds.get("Pod", {}).get("spec", {})
cvols = {v["name"]: v for v in consumer.get("volumes", [])}
for c in consumer.get("containers", []):
    ms = c.get("volumeMounts", [])
    want("kubernetes: the consumer binds the node's /run/vaultfs HostToContainer",
         any(m.get("mountPath") == "/run/vaultfs" and m.get("mountPropagation") == "HostToContainer"
             and cvols.get(m["name"], {}).get("hostPath", {}).get("path") == "/run/vaultfs" for m in ms))
    want("kubernetes: the consumer binds no mount point below /run/vaultfs",
         not any(v.get("hostPath", {}).get("path", "").startswith("/run/vaultfs/") for v in cvols.values()))
print("\n".join(bad) if bad else "ok")
EOF
out=$($PY "$T/check.py" "$EX/compose.yaml" "$EX/kubernetes.yaml")
if [ "$out" = ok ]; then pass; else fail "$out"; fi

# And it fails where it should: the parent bound without propagation, or the mount point
# bound in its place.
sed 's/propagation: rslave/propagation: rprivate/' "$EX/compose.yaml" >"$T/compose.yaml"
sed -e 's/mountPropagation: HostToContainer/mountPropagation: None/' \
	-e 's/mountPropagation: Bidirectional/mountPropagation: HostToContainer/' "$EX/kubernetes.yaml" >"$T/kubernetes.yaml"
same "the checks catch propagation that is missing" \
	"$(printf '%s\n' "compose: consumer binds /run/vaultfs with rslave propagation" \
		"kubernetes: the daemon binds /run/vaultfs Bidirectional" \
		"kubernetes: the consumer binds the node's /run/vaultfs HostToContainer")" \
	"$($PY "$T/check.py" "$T/compose.yaml" "$T/kubernetes.yaml")"
sed 's#source: /run/vaultfs$#source: /run/vaultfs/app#' "$EX/compose.yaml" >"$T/compose.yaml"
sed 's#path: /run/vaultfs$#path: /run/vaultfs/app#' "$EX/kubernetes.yaml" >"$T/kubernetes.yaml"
$PY "$T/check.py" "$T/compose.yaml" "$T/kubernetes.yaml" >"$T/out"
grep -q "compose: consumer binds no mount point below /run/vaultfs" "$T/out" &&
	grep -q "kubernetes: the consumer binds no mount point below /run/vaultfs" "$T/out" && pass ||
	fail "binding the mount point is not caught: $(cat "$T/out")"
finish
