#!/usr/bin/env bash
# Prepare what the tests need, cached under .cache/ between runs:
#  - the stock Glance 33 config files (glance-api.conf, glance-api-paste.ini),
#    extracted from the glance==33.0.0 wheel on PyPI (never committed);
#  - a Python venv at .cache/venv with glance==33.0.0, gunicorn (to serve it),
#    and the PyMySQL and psycopg2 drivers, the oracle for differential tests such as
#    crates/db/tests/schema_diff.rs; plus the reference clients the black-box
#    tests drive (python-glanceclient 4.13, python-openstackclient 10.5,
#    openstacksdk). Tests find it there; nothing is exported;
#  - a venv at .cache/keystone-venv with keystone==30.0.0 and gunicorn;
#  - a venv at .cache/tempest-venv with tempest 47 and glance-tempest-plugin;
#  - osc, the Rust OpenStack CLI (openstack_cli 0.13.8), in a per-user cache
#    OUTSIDE the repository, ${XDG_CACHE_HOME:-$HOME/.cache}/glimpse-test/,
#    since it takes ~30 minutes to build (GLIMPSE_SKIP_OSC_INSTALL=1 skips
#    it; scripts/test.sh passes its path to tests as GLIMPSE_OSC).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/.cache"
mkdir -p "$cache/wheels"
if [ ! -f "$cache/glance-etc/glance-api.conf" ]; then
    echo "test-env: fetching glance==33.0.0 from PyPI for its stock config files"
    python3 -m pip download --quiet --no-deps --dest "$cache/wheels" glance==33.0.0
    rm -rf "$cache/glance-etc.tmp" && mkdir -p "$cache/glance-etc.tmp"
    python3 - "$cache/wheels" "$cache/glance-etc.tmp" <<'PY'
import glob, os, sys, zipfile
wheel = sorted(glob.glob(os.path.join(sys.argv[1], "glance-33.0.0-*.whl")))[0]
prefix = "glance-33.0.0.data/data/etc/glance/"
with zipfile.ZipFile(wheel) as z:
    for name in ("glance-api.conf", "glance-api-paste.ini"):
        with open(os.path.join(sys.argv[2], name), "wb") as out:
            out.write(z.read(prefix + name))
PY
    rm -rf "$cache/glance-etc" && mv "$cache/glance-etc.tmp" "$cache/glance-etc"
fi
echo "test-env: stock Glance 33 files in $cache/glance-etc"
# ensure_venv DIR IMPORTS LABEL PACKAGE...: a venv at DIR whose python can
# import IMPORTS (comma-separated), (re)created with pip when it cannot.
ensure_venv() {
    local dir=$1 imports=$2 label=$3 start
    shift 3
    if ! "$dir/bin/python" -c "import $imports" 2>/dev/null; then
        echo "test-env: installing $label into $dir (once)"
        start=$(date +%s)
        rm -rf "$dir"
        python3 -m venv "$dir"
        "$dir/bin/python" -m pip install --quiet --disable-pip-version-check \
            --find-links "$cache/wheels" "$@"
        echo "test-env: $label ready in $(( $(date +%s) - start )) s"
    fi
    echo "test-env: $label in $dir"
}

venv="$cache/venv"
ensure_venv "$venv" "glance, glance_store, gunicorn, pymysql, psycopg2" "Glance 33" \
    glance==33.0.0 gunicorn pymysql psycopg2-binary
clients="python-glanceclient==4.13.0 python-openstackclient==10.5.0 openstacksdk"
if ! "$venv/bin/python" -c 'import glanceclient, openstackclient, openstack' 2>/dev/null; then
    echo "test-env: installing the reference clients into $venv (once)"
    start=$(date +%s)
    # shellcheck disable=SC2086
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $clients
    echo "test-env: clients ready in $(( $(date +%s) - start )) s"
fi
echo "test-env: glance and openstack clients in $venv/bin"

# A real Keystone for the auth tests (crates/glimpse/tests/keystone.rs) and
# the conformance harness (conformance/keystone.py): its own venv, since
# Keystone pins versions of the oslo libraries Glance's venv also uses.
ensure_venv "$cache/keystone-venv" "keystone, gunicorn" "Keystone 30" keystone==30.0.0 gunicorn

# Tempest and glance-tempest-plugin for the conformance run (conformance/run.py).
ensure_venv "$cache/tempest-venv" "tempest, glance_tempest_plugin" "tempest 47" \
    tempest==47.0.0 glance-tempest-plugin==0.17.0

# osc for crates/glimpse/tests/osc.rs: built from crates.io once per machine
# (the same path as GLIMPSE_OSC in scripts/test.sh).
osc_version=0.13.8
osc_root="${XDG_CACHE_HOME:-$HOME/.cache}/glimpse-test/osc-$osc_version"
if [ "${GLIMPSE_SKIP_OSC_INSTALL:-}" = 1 ]; then
    echo "test-env: GLIMPSE_SKIP_OSC_INSTALL=1, not installing osc (tests/osc.rs will skip)"
else
    if [ "$("$osc_root/bin/osc" --version 2>/dev/null)" != "osc $osc_version" ]; then
        echo "test-env: ################################################################"
        echo "test-env: # building osc $osc_version (cargo install openstack_cli) into"
        echo "test-env: # $osc_root"
        echo "test-env: # this takes ~30 MINUTES on 2 cores, once per machine"
        echo "test-env: # (GLIMPSE_SKIP_OSC_INSTALL=1 skips it; the osc test then skips)"
        echo "test-env: ################################################################"
        start=$(date +%s)
        cargo install openstack_cli --version "$osc_version" --locked --root "$osc_root"
        echo "test-env: osc ready in $(( ($(date +%s) - start) / 60 )) min"
    fi
    echo "test-env: osc $osc_version in $osc_root/bin"
fi
