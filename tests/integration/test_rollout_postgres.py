"""The rollout tests again, with every piece of state in a real Postgres server that this module starts.

The server is `pgserver` (a dev extra: PostgreSQL's own binaries in a wheel, started as a child process on a
Unix socket in a temp folder, stopped at the end). The app's routers, controller and model replicas all reach it
through ``state.url``; nothing is written to the SQLite default. Two of the SQLite-backed tests run here as they
are (imported, so they stay one test): the restart mid-ramp, and a promotion under load. Then the server is
stopped under traffic: users keep their answers from the last state, and the rollout goes on once it is back.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import httpx
import pytest

from driftline.core.state_db import StateDB, model_state
from tests.integration import test_rollout_serving as serving
from tests.integration.test_rollout_serving import AUTH, _register, _wait_candidate_loaded, _wait_phase

app_url = serving.app_url  # the same app fixture, built here from this module's rcfg (state in Postgres)
rows = serving.rows
test_a_restarted_app_resumes_the_rollout_where_it_was = serving.test_a_restarted_app_resumes_the_rollout_where_it_was
test_healthy_canary_is_promoted_through_all_steps_under_load = (
    serving.test_healthy_canary_is_promoted_through_all_steps_under_load
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def postgres():
    import pgserver  # a dev extra that `make test` installs: missing, this must fail, not skip

    folder = Path(tempfile.mkdtemp(prefix="dlpg-", dir="/tmp"))  # short: the Unix socket path has a 107-byte limit
    server = pgserver.get_server(folder, cleanup_mode="delete")
    server.psql("CREATE DATABASE driftline;")
    yield server, f"postgresql+psycopg://postgres@/driftline?host={folder}"
    server.cleanup()


@pytest.fixture(scope="module")
def rcfg(cfg, champion, postgres):
    rcfg = serving.module_config(cfg, "rollout-postgres", **{"state.url": postgres[1]})
    yield rcfg
    serving.give_back_the_champion(rcfg, champion)


def test_every_piece_of_state_is_in_postgres(rcfg, app_url, postgres) -> None:
    db = model_state(rcfg)  # the model's own documents and streams in the shared database
    assert db.url.startswith("postgresql+psycopg://")
    assert db.get("serving") is not None and db.get("rollout") is not None  # the tests above ran here
    transitions = db.events("transitions")
    assert {t["to"] for t in transitions} >= {"CANARY", "PROMOTED", "ROLLED_BACK"}
    assert any(e["kind"] == "rollout_requested" for e in db.events("timeline")), db.events("timeline", last=5)
    assert not (rcfg.workdir_path / "state" / "driftline.db").exists()  # nothing went to the SQLite default


def test_two_models_keep_their_own_rollouts_in_one_database_across_a_restart(rcfg, champion, serve_port) -> None:
    """Two models of one app, one Postgres: each has its own rollout, and both are where they were after the app
    is deleted and deployed again (before, both would have written the one ``rollout`` document)."""
    from ray import serve

    from driftline.serve_apps.app import build_app
    from tests.integration.test_fleet_serving import copies_of_the_champion

    candidates = copies_of_the_champion(rcfg, ["pg-a", "pg-b"], candidates=True)
    two = rcfg.with_overrides(**{"serve.models": [{"name": "pg-a"}, {"name": "pg-b", "placement": "remote"}]})
    url = f"http://127.0.0.1:{serve_port}/pg-two"
    specs = {
        "pg-a": {"mode": "shadow", "candidate_version": candidates["pg-a"], "shadow": {"min_requests": 10**6}},
        "pg-b": {"mode": "canary", "candidate_version": candidates["pg-b"], "canary": {"min_requests_per_step": 10**6}},
    }
    serve.run(build_app(two), name="pg-two", route_prefix="/pg-two")
    try:
        for name, spec in specs.items():
            started = httpx.post(f"{url}/models/{name}/rollout", json=spec, headers=AUTH)
            assert started.status_code == 200, started.text
        before = {name: httpx.get(f"{url}/models/{name}/rollout").json()["rollout"] for name in specs}
        serve.delete("pg-two")
        serve.run(build_app(two), name="pg-two", route_prefix="/pg-two")
        for name, spec in specs.items():
            after = httpx.get(f"{url}/models/{name}/rollout").json()["rollout"]
            assert after["rollout_id"] == before[name]["rollout_id"] and after["phase"] == spec["mode"].upper()
            assert after["spec"]["candidate_version"] == spec["candidate_version"]
        db = StateDB(rcfg.state_url)
        assert db.for_model("pg-a").get("rollout").body["phase"] == "SHADOW"
        assert db.for_model("pg-b").get("rollout").body["phase"] == "CANARY"
    finally:
        for name in specs:
            httpx.post(f"{url}/models/{name}/rollout/abort", headers=AUTH)
        serve.delete("pg-two")


def test_a_stopped_database_keeps_users_served_and_the_rollout_resumes(rcfg, champion, app_url, rows, postgres) -> None:
    server, _ = postgres
    candidate = _register(rcfg, champion, {}, epochs=1)
    spec = {
        "mode": "canary",
        "candidate_version": candidate,
        # What is tested is the outage, not latency: p99 of ten answers is their slowest one, and on a shared
        # 2-core machine that one can be twice the champion's (CI saw 2.1x and rolled back a healthy copy).
        "canary": {
            "steps": [0.5, 1.0],
            "min_requests_per_step": 10,
            "min_seconds_per_step": 0,
            "max_p99_latency_ratio": 100.0,
        },
    }
    assert httpx.post(f"{app_url}/rollout", json=spec, headers=AUTH).status_code == 200
    try:
        _wait_candidate_loaded(app_url, candidate)
        _pg_ctl(server, "stop")
        with httpx.Client(timeout=30) as client:
            answers = [
                client.post(f"{app_url}/predict", json={"instances": [rows[i]]}, headers={"X-User-Id": f"pg{i}"})
                for i in range(60)
            ]
        assert [a.status_code for a in answers] == [200] * 60  # served from the last state the replicas hold
        assert {a.headers["X-Variant"] for a in answers} == {"champion", "candidate"}  # the canary split held
        _pg_ctl(server, "start")
        with httpx.Client(timeout=30) as client:
            deadline = time.monotonic() + 90
            while httpx.get(f"{app_url}/rollout").json()["rollout"]["phase"] == "CANARY":
                assert time.monotonic() < deadline, "the rollout did not go on after the database came back"
                for i in range(10):
                    client.post(f"{app_url}/predict", json={"instances": [rows[i]]}, headers={"X-User-Id": f"q{i}"})
        status = _wait_phase(app_url, {"PROMOTED", "ROLLED_BACK"})
        assert status["rollout"]["phase"] == "PROMOTED", status["rollout"]["history"][-1]
    finally:
        httpx.post(f"{app_url}/rollout/abort", headers=AUTH)


def _pg_ctl(server, action: str) -> None:
    """Stop the server (fast shutdown: sessions are cut) or start it again on the same data and socket."""
    from pgserver import _commands  # the wheel's own pg_ctl, run as the user pgserver runs the server as

    if action == "stop":
        _commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=30)
    else:
        server.ensure_postgres_running()
