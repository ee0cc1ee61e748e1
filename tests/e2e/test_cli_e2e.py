# SPDX-License-Identifier: Apache-2.0
"""End to end through the command-line tool: `blazen-peer serve` in its own process, and the
`invoke`, `deref`, `release`, `release-scope` and `describe` commands against it: round trips,
tokens, mTLS, usage errors, a client killed mid-deref, and bounded memory on both sides while a
large ref streams."""

import json
import os
import signal
import subprocess
import time

import pytest

PEER = os.environ.get("BLAZEN_PEER_BIN", "blazen-peer")


def pattern(n, offset=0):
    return bytes((offset + i) % 251 for i in range(n))


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "BLAZEN_PEER_TOKEN"}
    env.update(extra)
    return env


class Peer:
    def __init__(self, *args, env=None):
        self.proc = subprocess.Popen(
            [PEER, "serve", "--listen", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env or clean_env(),
        )
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.proc.kill()
            pytest.fail("peer did not start: " + line)
        self.address = line.split()[-1]
        self.port = int(self.address.rsplit(":", 1)[1])

    def url(self, scheme="http", host=None):
        return f"{scheme}://{host or '127.0.0.1'}:{self.port}"

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        self.proc.stdout.close()
        return code


def cli(*args, env=None, check=None, timeout=120):
    r = subprocess.run(
        [PEER, *args], capture_output=True, env=env or clean_env(), timeout=timeout
    )
    if check is not None:
        assert r.returncode == check, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    return r


@pytest.fixture
def peer():
    p = Peer("--node-id", "cli-node")
    yield p
    assert p.stop() == 0


def invoke(peer, *args, **kw):
    r = cli("invoke", "--peer", peer.url(), *args, **kw)
    return r, (json.loads(r.stdout) if r.stdout.strip().startswith(b"{") else None)


def make_blob(peer, n, *extra, lifetime="until_parent_finish"):
    r, out = invoke(
        peer,
        "--workflow", "blob", "--steps", "blazen::host_blob",
        "--input", json.dumps({"bytes": n, "lifetime": lifetime}), *extra, check=0,
    )
    (key,) = out["refs"].keys()
    return key


def test_invoke_deref_release_round_trip(peer, tmp_path):
    r, out = invoke(peer, "--workflow", "echo", "--input", '{"a":[1,2]}', check=0)
    assert out["result"] == {"a": [1, 2]} and out["error"] is None

    key = make_blob(peer, 3_000_000)
    target = tmp_path / "blob.bin"
    cli("deref", "--peer", peer.url(), key, "-o", str(target), check=0)
    assert target.read_bytes() == pattern(3_000_000)
    r = cli("deref", "--peer", peer.url(), key, check=0)  # to standard output
    assert r.stdout == pattern(3_000_000)

    assert cli("release", "--peer", peer.url(), key, check=0).stdout.strip() == b"released"
    r = cli("release", "--peer", peer.url(), key, check=1)
    assert r.stdout.strip() == b"not found"
    r = cli("deref", "--peer", peer.url(), key, "-o", str(target), check=1)
    assert b"not found" in r.stderr and b"NOT_FOUND" in r.stderr


def test_events_state_and_workflow_errors(peer):
    r = cli("invoke", "--peer", peer.url(), "--workflow", "state", "--input", '{"k":"v"}',
            "--events", check=0)
    lines = r.stdout.decode().strip().splitlines()
    events = [json.loads(line) for line in lines[:2]]
    assert [e["event_type"] for e in events] == ["blazen::StartEvent", "blazen::StopEvent"]
    out = json.loads("\n".join(lines[2:]))
    assert out["state"] == {"k": "v"} and out["result"] == {"k": "v"}

    r, out = invoke(peer, "--workflow", "x", "--steps", "blazen::fail",
                    "--input", '{"message":"bad input"}', check=1)
    assert out["error"] == "workflow error: step 'fail' failed: bad input"

    r, _ = invoke(peer, "--workflow", "x", "--steps", "nope::step", "--input", "{}", check=1)
    assert b"unknown step id `nope::step`" in r.stderr


def test_describe_and_release_scope(peer):
    for n in (100, 200):
        make_blob(peer, n, "--parent-run-id", "parent-a")
    make_blob(peer, 300, "--parent-run-id", "parent-b")
    d = json.loads(cli("describe", "--peer", peer.url(), check=0).stdout)
    assert d["node_id"] == "cli-node"
    assert "blazen::echo" in d["step_ids"] and d["default_workflows"]["echo"] == ["blazen::echo"]
    assert d["devices"][0]["pool_in_use_bytes"] == 600
    assert cli("release-scope", "--peer", peer.url(), "parent-a", check=0).stdout.strip() == b"2"
    d = json.loads(cli("describe", "--peer", peer.url(), check=0).stdout)
    assert d["devices"][0]["pool_in_use_bytes"] == 300


def test_fleet_options_are_described_and_busy_honours_the_slowdown():
    p = Peer("--node-id", "fleet-node", "--label", "gpu=h100", "--label", "region=eu-west",
             "--capacity-weight", "2.5", "--slowdown", "3")
    try:
        d = json.loads(cli("describe", "--peer", p.url(), check=0).stdout)
        assert d["labels"] == {"gpu": "h100", "region": "eu-west"}
        assert d["capacity_weight"] == 2.5
        assert d["load"]["max_concurrency"] == 8 and d["load"]["seq"] >= 1
        out = json.loads(cli("invoke", "--peer", p.url(), "--workflow", "b", "--steps",
                             "blazen::busy", "--input", '{"ms": 40}', check=0).stdout)
        assert out["error"] is None, out
        assert out["result"]["slept_ms"] >= 120, out
    finally:
        assert p.stop() == 0
    for bad in (("--label", "novalue"), ("--label", "=x"), ("--capacity-weight", "0"),
                ("--capacity-weight", "abc"), ("--slowdown", "-1")):
        r = cli("serve", "--listen", "127.0.0.1:0", *bad, check=2, timeout=30)
        assert b"--" + bad[0][2:].encode() in r.stderr, r.stderr


def test_token_required(tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")
    wrong = tmp_path / "wrong"
    wrong.write_text("guess\n")
    p = Peer("--token-file", str(token))
    try:
        r, _ = invoke(p, "--workflow", "echo", "--input", "1", check=1)
        assert b"missing authorization header" in r.stderr and b"UNAUTHENTICATED" in r.stderr
        r, _ = invoke(p, "--workflow", "echo", "--input", "1", "--token-file", str(wrong), check=1)
        assert b"token mismatch" in r.stderr
        _, out = invoke(p, "--workflow", "echo", "--input", "1", "--token-file", str(token),
                        check=0)
        assert out["result"] == 1
        # The environment variable works too, and guards deref/release/describe as well.
        _, out = invoke(p, "--workflow", "echo", "--input", "2",
                        env=clean_env(BLAZEN_PEER_TOKEN="s3cret-token"), check=0)
        assert out["result"] == 2
        cli("describe", "--peer", p.url(), check=1)
        cli("release", "--peer", p.url(), "00112233-4455-6677-8899-aabbccddeeff", check=1)
    finally:
        assert p.stop() == 0


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    (d / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for ca in ("ca", "other-ca"):
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-out", f"{ca}.key", cwd=d)
        openssl("req", "-x509", "-new", "-key", f"{ca}.key", "-subj", f"/CN={ca}", "-days", "30",
                "-out", f"{ca}.pem", cwd=d)
    for name, ca, extra in (("server", "ca", ["-extfile", "server.ext"]), ("client", "ca", []),
                            ("other-client", "other-ca", [])):
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-out", f"{name}.key", cwd=d)
        openssl("req", "-new", "-key", f"{name}.key", "-subj", f"/CN={name}", "-out",
                f"{name}.csr", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                "-CAcreateserial", "-days", "30", *extra, "-out", f"{name}.pem", cwd=d)
    return d


def test_mutual_tls(pki):
    p = Peer("--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server.key"),
             "--tls-ca", str(pki / "ca.pem"))
    try:
        base = ["invoke", "--peer", p.url("https", "localhost"), "--workflow", "echo",
                "--input", '"hi"']
        good = ["--tls-cert", str(pki / "client.pem"), "--tls-key", str(pki / "client.key"),
                "--tls-ca", str(pki / "ca.pem")]
        r = cli(*base, *good, check=0)
        assert json.loads(r.stdout)["result"] == "hi"
        cli(*base, check=1)  # no client certificate
        foreign = ["--tls-cert", str(pki / "other-client.pem"),
                   "--tls-key", str(pki / "other-client.key"), "--tls-ca", str(pki / "ca.pem")]
        cli(*base, *foreign, check=1)  # certificate from another CA
        r = cli("invoke", "--peer", p.url(), "--workflow", "echo", "--input", "1", check=1)
        assert r.returncode == 1  # plaintext to a TLS port
    finally:
        assert p.stop() == 0


def test_bad_tls_material_fails_before_serving(pki):
    r = cli("serve", "--listen", "127.0.0.1:0", "--tls-cert", str(pki / "server.pem"),
            "--tls-key", str(pki / "client.key"), "--tls-ca", str(pki / "ca.pem"), check=1)
    assert b"does not match" in r.stderr and b"TLS configuration error" in r.stderr


def test_usage_errors_and_help(peer):
    for command in ("serve", "invoke", "deref", "release", "release-scope", "describe"):
        assert cli(command, "--help", check=0).stdout.startswith(b"usage: blazen-peer")
    r = cli("invoke", "--peer", peer.url(), "--bogus", check=2)
    assert b"unknown option --bogus" in r.stderr
    r = cli("deref", "--peer", peer.url(), "not-a-uuid", check=1)
    assert b"invalid UUID" in r.stderr
    r = cli("frobnicate", check=2)
    assert b"unknown command" in r.stderr
    r = cli("invoke", "--peer", "http://127.0.0.1:1", "--workflow", "echo", "--input", "1",
            check=1)
    assert b"transport error" in r.stderr


def test_serve_refuses_a_port_in_use(peer):
    r = cli("serve", "--listen", peer.address, check=1, timeout=30)
    assert peer.address.encode() in r.stderr


def in_use_bytes(peer):
    d = json.loads(cli("describe", "--peer", peer.url(), check=0).stdout)
    return d["devices"][0]["pool_in_use_bytes"]


def test_client_killed_mid_deref_leaves_nothing_behind(peer):
    size = 512 << 20
    key = make_blob(peer, size)
    client = subprocess.Popen(
        [PEER, "deref", "--peer", peer.url(), key, "--parallel", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=clean_env(),
    )
    got = client.stdout.read(8 << 20)  # the stream is flowing
    assert got == pattern(len(got))
    client.send_signal(signal.SIGKILL)
    client.wait(timeout=30)
    client.stdout.close()
    assert cli("release", "--peer", peer.url(), key, check=0).stdout.strip() == b"released"
    deadline = time.time() + 20
    while in_use_bytes(peer) != 0 and time.time() < deadline:
        time.sleep(0.1)
    assert in_use_bytes(peer) == 0  # the dead stream's lease and buffers are gone


def test_large_ref_streams_with_bounded_memory(peer):
    size = 1 << 30
    key = make_blob(peer, size)
    server_before = peer.rss_kib()
    client = subprocess.Popen(
        [PEER, "deref", "--peer", peer.url(), key, "--parallel", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env(),
    )
    received = 0
    server_peak = server_before
    client_peak = 0
    checked = False
    while True:
        block = client.stdout.read(16 << 20)
        if not block:
            break
        if not checked:
            assert block[:4096] == pattern(4096)
            checked = True
        received += len(block)
        server_peak = max(server_peak, peer.rss_kib())
        try:
            with open(f"/proc/{client.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        client_peak = max(client_peak, int(line.split()[1]))
        except FileNotFoundError:
            pass
    assert client.wait(timeout=60) == 0, client.stderr.read()
    client.stderr.close()
    assert received == size
    assert (server_peak - server_before) < 64 * 1024, (server_before, server_peak)
    assert 0 < client_peak < 64 * 1024, client_peak


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_client_commands_route_over_a_pool_of_peers(tmp_path):
    a = Peer("--node-id", "pool-a", "--label", "gpu=h100")
    b = Peer("--node-id", "pool-b")
    try:
        peers = f"{a.address},{b.address}"
        served = set()
        keys = {}
        for i in range(4):
            r = cli("invoke", "--peers", peers, "--policy", "round_robin", "--workflow", "blob",
                    "--steps", "blazen::host_blob", "--input", json.dumps({"bytes": 1000 + i}),
                    check=0)
            out = json.loads(r.stdout)
            node = out["peer"]["node_id"]
            served.add(node)
            assert out["peer"]["endpoint"] == (a.address if node == "pool-a" else b.address)
            (key,) = out["refs"].keys()
            assert out["refs"][key]["origin_node_id"] == node
            keys[key] = 1000 + i
        # Each command is a fresh pool starting at a random peer (the spread within one pool is
        # tested in tests/python/test_pool.py and tests/client/pool/).
        assert served <= {"pool-a", "pool-b"}
        # Each command is a new process whose pool never saw the ref: it finds the holder.
        for key, n in keys.items():
            target = tmp_path / key
            cli("deref", "--peers", peers, key, "-o", str(target), "--no-progress", check=0)
            assert target.read_bytes() == pattern(n)
            assert cli("release", "--peers", peers, key, check=0).stdout.strip() == b"released"
        assert cli("release", "--peers", peers, next(iter(keys)), check=1).stdout.strip() == \
            b"not found"
        pool = json.loads(cli("pool", "--peers", peers, check=0).stdout)
        assert pool["policy"] == "least_loaded"
        by_id = {p["node_id"]: p for p in pool["peers"]}
        assert set(by_id) == {"pool-a", "pool-b"}
        assert all(p["healthy"] for p in pool["peers"])
        assert by_id["pool-a"]["labels"] == {"gpu": "h100"}
        assert by_id["pool-a"]["load"]["max_concurrency"] == 8
        metrics = cli("pool", "--peers", peers, "--metrics", check=0).stdout.decode()
        assert "blazen_pool_peer_healthy{peer=\"pool-a\"" in metrics
    finally:
        assert a.stop() == 0
        assert b.stop() == 0
    # Bad pool arguments: clear errors, never a hang.
    r = cli("invoke", "--peers", "127.0.0.1:1", "--policy", "fastest", "--workflow", "x",
            check=1, timeout=30)
    assert b"unknown routing policy 'fastest'" in r.stderr
    r = cli("invoke", "--peer", "127.0.0.1:1", "--peers", "127.0.0.1:2", "--workflow", "x",
            check=2, timeout=30)
    assert b"exactly one of --peer, --peers and --discover" in r.stderr
    r = cli("pool", "--discover", "etcd://127.0.0.1", check=1, timeout=30)
    assert b"etcd://127.0.0.1" in r.stderr
    r = cli("pool", "--peers", f"127.0.0.1:{free_port()}", "--wait", "1", check=1, timeout=30)
    assert json.loads(r.stdout)["peers"][0]["healthy"] is False


def test_peers_register_in_etcd_and_a_pool_discovers_them(tmp_path):
    etcd_bin = "/usr/bin/etcd"
    assert os.path.exists(etcd_bin), "etcd-server is not installed: run scripts/setup.sh"
    client_port, peer_port = free_port(), free_port()
    etcd = subprocess.Popen(
        [etcd_bin, "--name", "e2e", "--data-dir", str(tmp_path / "etcd"),
         "--listen-client-urls", f"http://127.0.0.1:{client_port}",
         "--advertise-client-urls", f"http://127.0.0.1:{client_port}",
         "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
         "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
         "--initial-cluster", f"e2e=http://127.0.0.1:{peer_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peers = []
    try:
        etcd_url = f"http://127.0.0.1:{client_port}"
        for i in range(2):
            for _ in range(50):  # etcd needs a moment to answer
                try:
                    peers.append(Peer("--node-id", f"etcd-{i}", "--etcd", etcd_url,
                                      "--etcd-prefix", "/e2e/peers"))
                    break
                except BaseException:  # noqa: BLE001 - pytest.fail while etcd starts
                    time.sleep(0.1)
        assert len(peers) == 2
        discover = f"etcd://127.0.0.1:{client_port}/e2e/peers"
        pool = json.loads(cli("pool", "--discover", discover, check=0).stdout)
        assert sorted(p["node_id"] for p in pool["peers"]) == ["etcd-0", "etcd-1"]
        out = json.loads(cli("invoke", "--discover", discover, "--workflow", "e",
                             "--steps", "blazen::echo", "--input", '{"x": 1}', check=0).stdout)
        assert out["peer"]["node_id"] in ("etcd-0", "etcd-1")
        # A graceful stop deregisters at once.
        assert peers.pop().stop() == 0
        pool = json.loads(cli("pool", "--discover", discover, check=0).stdout)
        assert [p["node_id"] for p in pool["peers"]] == ["etcd-0"]
    finally:
        for p in peers:
            p.stop()
        etcd.terminate()
        etcd.wait(timeout=30)


def test_route_bench_smoke_and_simulation():
    r = cli("route-bench", "--scenario", "smoke", "--json", check=0, timeout=300)
    report = json.loads(r.stdout)
    (scenario,) = report["scenarios"]
    assert {row["policy"] for row in scenario["policies"]} == {
        "round_robin", "random", "least_loaded", "consistent_hash"}
    for row in scenario["policies"]:
        assert row["requests"] > 0 and row["failed"] == 0, row
        assert row["throughput_rps"] > 0 and row["p99_ms"] >= row["p50_ms"] > 0, row
        assert sum(row["picks"].values()) >= row["requests"], row
    sim = json.loads(cli("route-bench", "--simulate", "--peers", "64", "--requests", "5000",
                         "--json", check=0).stdout)
    assert {p["policy"] for p in sim["policies"]} == {"round_robin", "random", "least_loaded"}
    r = cli("route-bench", "--workload", "gpu", check=2)
    assert b"--workload" in r.stderr
