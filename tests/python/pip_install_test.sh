#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `pip install --no-build-isolation .` into a fresh venv (Debian's Python packages only, no
# network), reusing the build tree BUILD_DIR so the module is only relinked, then imports the
# installed package from outside the source tree and serves + invokes one workflow through it.
# Usage: pip_install_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=${1:?usage: pip_install_test.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: pip_install_test.sh SOURCE_DIR BUILD_DIR}
work=$(mktemp -d "${TMPDIR:-/tmp}/blazen-pip.XXXXXX")
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 -m venv --system-site-packages "$work/venv"
(cd "$src" && BLAZEN_BUILD_DIR="$build" BLAZEN_BUILD_JOBS=1 \
  "$work/venv/bin/pip" install --quiet --no-build-isolation --no-index --no-deps .)
cd "$work"
unset PYTHONPATH
"$work/venv/bin/python" - <<'PY'
import asyncio, pathlib, blazen
where = pathlib.Path(blazen.__file__).resolve()
assert "site-packages" in where.parts, where
assert blazen.ENVELOPE_VERSION == 1 and "blazen::echo" in blazen.registered_step_ids()

async def main():
    server = blazen.BlazenPeerServer("pip-node")
    serving = asyncio.create_task(server.serve("127.0.0.1:0"))
    client = await blazen.BlazenPeerClient.connect(await server.wait_serving(), "parent")
    response = await client.invoke_sub_workflow(
        blazen.SubWorkflowRequest("echo", step_ids=["blazen::echo"], input={"pip": True}))
    assert response.error is None and response.result_value() == {"pip": True}, response
    serving.cancel()

asyncio.run(main())
print("pip install OK:", where)
PY
