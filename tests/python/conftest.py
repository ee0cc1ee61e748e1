# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures of the blazen package tests: a clean token environment, the Python steps the
seed document's examples name, and a peer served from this process on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess

import pytest

import blazen


@pytest.fixture(autouse=True)
def _no_ambient_token(monkeypatch):
    monkeypatch.delenv(blazen.PEER_TOKEN_ENV, raising=False)


# The steps of the seed's "analyze-pipeline" example, registered from Python: analyze counts the
# words of the document and hands off to summarize, which ends the run.
def _analyze(ctx, event):
    words = event.data["document"].split()
    ctx.state["word_count"] = len(words)
    return blazen.Event("my_app::Analyzed", {"words": words})


async def _summarize(ctx, event):
    await asyncio.sleep(0)
    words = event.payload["words"]
    ctx.state["summarized_by"] = ctx.workflow_name
    return blazen.StopEvent(result={"summary": " ".join(words[:3]), "words": len(words)})


blazen.register_step_builder("my_app::analyze", _analyze, accepts=["blazen::StartEvent"],
                             emits=["my_app::Analyzed"])
blazen.register_step_builder("my_app::summarize", _summarize, accepts=["my_app::Analyzed"],
                             emits=["blazen::StopEvent"])


@contextlib.asynccontextmanager
async def served(node_id="node-b", **kwargs):
    """A BlazenPeerServer serving on 127.0.0.1:<free port> for the duration of the block."""
    server = blazen.BlazenPeerServer(node_id, shutdown_grace_secs=1.0, **kwargs)
    task = asyncio.create_task(server.serve("127.0.0.1:0"))
    try:
        await asyncio.wait_for(server.wait_serving(), 30)
        yield server
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def run(coro):
    return asyncio.run(coro)


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """A CA, a server certificate for localhost/127.0.0.1, a client certificate, and a
    certificate from another CA."""
    d = tmp_path_factory.mktemp("pki")
    (d / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for ca in ("ca", "other-ca"):
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                f"{ca}.key", cwd=d)
        openssl("req", "-x509", "-new", "-key", f"{ca}.key", "-subj", f"/CN={ca}", "-days", "30",
                "-out", f"{ca}.pem", cwd=d)
    for name, ca, extra in (("server", "ca", ["-extfile", "server.ext"]), ("client", "ca", []),
                            ("other-client", "other-ca", [])):
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                f"{name}.key", cwd=d)
        openssl("req", "-new", "-key", f"{name}.key", "-subj", f"/CN={name}", "-out",
                f"{name}.csr", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                "-CAcreateserial", "-days", "30", *extra, "-out", f"{name}.pem", cwd=d)
    return d


PEER_BIN = os.environ.get("BLAZEN_PEER_BIN", "blazen-peer")
