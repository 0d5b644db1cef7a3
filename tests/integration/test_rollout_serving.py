"""Shadow, canary and A/B over real HTTP on Ray Serve, with real MLflow versions and on-disk rollout state."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from driftline.datasets import load_stream
from driftline.model.registry import CHAMPION, ModelRegistry
from driftline.serve_apps.assignment import assign_variant
from driftline.serve_apps.model_host import FAULT_DELAY_TAG, FAULT_RATE_TAG
from driftline.serve_apps.prediction_log import FEEDBACK, PREDICTIONS, ParquetSink
from driftline.train_jobs.local_executor import fit_local
from driftline.train_jobs.loop import LoopConfig

pytestmark = pytest.mark.integration
TOKEN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def module_config(cfg, folder: str, **overrides):
    """Same MLflow store as the session's champion, but a module's own serving/rollout state and logs (``folder``
    under the session's work folder), with fast polls and flushes and the admin token set."""
    settings = {
        "workdir": str(cfg.workdir_path / folder),
        "mlflow.tracking_uri": cfg.tracking_uri,
        "serve.admin_token": TOKEN,
        "serve.log_flush_seconds": 0.5,
        "serve.poll_seconds": 0.2,
        "serve.request_timeout_seconds": 2.0,
        "serve.max_body_bytes": 1_000_000,
    }
    return cfg.with_overrides(**{**settings, **overrides})


def give_back_the_champion(rcfg, champion) -> None:
    """Promotions in a module move the alias: later modules get the session's champion back."""
    registry = ModelRegistry(rcfg)
    registry.set_alias(CHAMPION, champion.version.version)
    registry.delete_alias("candidate")


@pytest.fixture(scope="module", params=["inline", "remote"])
def rcfg(cfg, champion, request):
    """The whole suite runs in both placements: the modes, faults and promises mean the same in each."""
    rcfg = module_config(cfg, f"rollout-tests-{request.param}", **{"serve.placement": request.param})
    yield rcfg
    give_back_the_champion(rcfg, champion)


@pytest.fixture(scope="module")
def rows(rcfg):
    stream, schema = load_stream(rcfg.data)
    return stream.iloc[2000:4000][list(schema.feature_names)].to_dict("records")


def _register(rcfg, champion, tags: dict[str, str], epochs: int) -> str:
    """A new version: the champion fine-tuned a little on newer rows (real weights, real MLflow version)."""
    registry = ModelRegistry(rcfg)
    bundle, _ = registry.load_bundle(f"models:/{rcfg.mlflow.model_name}@{CHAMPION}")
    stream, _ = load_stream(rcfg.data)
    newer = stream.iloc[2000:3000]
    tuned = fit_local(bundle, newer, LoopConfig(bundle.to_bytes(), epochs=epochs, seed=3)).bundle
    version = registry.register(
        tuned,
        profile_json=registry.load_profile_json(f"models:/{rcfg.mlflow.model_name}@{CHAMPION}"),
        example=newer,
        metrics={},
        params={},
        tags={"driftline.trigger": "test", **tags},
        run_name="test-candidate",
    )
    return version.version


def _app_name(rcfg) -> str:
    return f"rollout-{rcfg.serve.placement.value}"


@pytest.fixture(scope="module")
def app_url(rcfg, champion, serve_port):
    from ray import serve

    from driftline.serve_apps.app import build_app

    name = _app_name(rcfg)
    serve.run(build_app(rcfg), name=name, route_prefix=f"/{name}")
    yield f"http://127.0.0.1:{serve_port}/{name}"
    serve.delete(name)


def _wait_phase(url: str, phases: set[str], timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = httpx.get(f"{url}/rollout").json()
        if status["rollout"] and status["rollout"]["phase"] in phases:
            return status
        time.sleep(0.2)
    raise AssertionError(f"rollout did not reach {phases}: {status}")


def _wait_candidate_loaded(url: str, version: str, timeout: float = 60.0) -> None:
    """Routers and the candidate slot converge within poll_seconds plus one model load."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/healthz").json().get("candidate_loaded") == version:
            return
        time.sleep(0.2)
    raise AssertionError(f"candidate {version} never loaded")


def _wait_logged(rcfg, ids: list[str], per_id: int, timeout: float = 60.0):
    """The prediction log's records of ``ids`` once each id has ``per_id`` of them (polled, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        log = ParquetSink(rcfg.workdir_path / "logs").read(PREDICTIONS)
        log = log[log.request_id.isin(ids)] if len(log) else log
        if len(log) >= per_id * len(ids) or time.monotonic() > deadline:
            return log
        time.sleep(0.2)


def _settled(url: str, timeout: float = 30.0) -> dict:
    """The rollout status once the routers' counter windows have all reached the controller (two equal reads)."""
    deadline = time.monotonic() + timeout
    last = httpx.get(f"{url}/rollout").json()
    while time.monotonic() < deadline:
        time.sleep(1.5)
        now = httpx.get(f"{url}/rollout").json()
        if (
            now["rollout"]["candidate_total"] == last["rollout"]["candidate_total"]
            and now["rollout"]["champion_total"] == last["rollout"]["champion_total"]
        ):
            return now
        last = now
    return last


def _drive(url: str, rows: list[dict], stop: threading.Event, results: list, workers: int = 4) -> None:
    """Closed-loop load: single-row requests with distinct user ids until ``stop`` is set."""

    def worker(w: int) -> None:
        with httpx.Client(timeout=30) as client:
            i = w
            while not stop.is_set():
                row = rows[i % len(rows)]
                try:
                    response = client.post(f"{url}/predict", json={"instances": [row]}, headers={"X-User-Id": f"u{i}"})
                except httpx.HTTPError as exc:  # a reset or a read timeout is a failed request, not a warning
                    results.append((f"exception: {type(exc).__name__}: {exc}", None, None))
                else:
                    results.append(
                        (
                            response.status_code,
                            response.headers.get("X-Variant"),
                            response.headers.get("X-Model-Version"),
                        )
                    )
                i += workers

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(worker, range(workers)))


def test_admin_api_needs_the_token(app_url) -> None:
    spec = {"mode": "canary", "candidate_version": "1"}
    assert httpx.post(f"{app_url}/rollout", json=spec).status_code == 401
    assert httpx.post(f"{app_url}/rollout", json=spec, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert httpx.post(f"{app_url}/rollout/abort").status_code == 401
    bad = httpx.post(f"{app_url}/rollout", json={"mode": "blue-green", "candidate_version": "2"}, headers=AUTH)
    assert bad.status_code == 422 and "mode" in bad.json()["error"]["message"]
    unauthenticated_bad = httpx.post(f"{app_url}/rollout", json={"mode": "blue-green", "shadow": "x"})
    assert unauthenticated_bad.status_code == 401  # authentication comes before validation
    assert httpx.get(f"{app_url}/rollout").status_code == 200  # reads are open


def test_only_a_version_that_passed_its_gates_rolls_out_unless_forced(app_url, rcfg, champion) -> None:
    rejected = _register(rcfg, champion, {"driftline.rejected_reason": "recent accuracy 0.61 < champion 0.70"}, 1)
    spec = {"mode": "shadow", "candidate_version": rejected, "shadow": {"min_requests": 100_000}}
    refused = httpx.post(f"{app_url}/rollout", json=spec, headers=AUTH)
    assert refused.status_code == 409 and "failed its offline gates" in refused.json()["error"]["message"]
    unknown = httpx.post(f"{app_url}/rollout", json={**spec, "candidate_version": "999"}, headers=AUTH)
    assert unknown.status_code == 409 and "not in the registry" in unknown.json()["error"]["message"]
    forced = httpx.post(f"{app_url}/rollout?force=true", json=spec, headers=AUTH)
    assert forced.status_code == 200 and forced.json()["rollout"]["phase"] == "SHADOW"
    assert httpx.post(f"{app_url}/rollout/abort", headers=AUTH).status_code == 200
    kinds = [(e["kind"], e.get("version")) for e in httpx.get(f"{app_url}/rollout").json()["timeline"]]
    assert ("rollout_requested", rejected) in kinds and ("manual_abort", rejected) in kinds
    requested = [e for e in httpx.get(f"{app_url}/rollout").json()["timeline"] if e["kind"] == "rollout_requested"]
    assert "FORCED" in requested[-1]["message"]


def test_feedback_is_joined_once_and_bad_feedback_is_clear(app_url, rows) -> None:
    answer = httpx.post(f"{app_url}/predict", json={"instances": rows[:1]}).json()
    rid, token = answer["request_id"], answer["feedback_tokens"][0]
    first = httpx.post(f"{app_url}/feedback", json={"request_id": rid, "label": 1, "token": token})
    assert first.status_code == 200 and first.json()["status"] == "accepted"
    again = httpx.post(f"{app_url}/feedback", json={"request_id": rid, "label": 1, "token": token})
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    never = httpx.post(f"{app_url}/feedback", json={"request_id": "never-seen", "label": 1}, headers=AUTH)
    assert never.status_code == 404  # a trusted pipeline (admin token) needs no per-row token
    assert httpx.post(f"{app_url}/feedback", json={"request_id": rid, "label": "yes"}).status_code == 422
    assert httpx.post(f"{app_url}/feedback", json={"request_id": rid, "label": 5}).status_code == 422
    batch = httpx.post(
        f"{app_url}/feedback",
        json={"items": [{"request_id": rid, "label": 1, "token": token}, {"request_id": "x", "label": 0}]},
    )
    assert batch.json()["counts"] == {"duplicate": 1, "bad_token": 1}


def test_nobody_labels_a_request_they_did_not_receive(app_url, rows) -> None:
    """Forged, reused or missing tokens are a 403: labels cannot be planted on someone else's prediction."""
    mine = httpx.post(f"{app_url}/predict", json={"instances": rows[:2]}).json()
    theirs = httpx.post(f"{app_url}/predict", json={"instances": rows[:1]}, headers={"X-Request-Id": "victim"}).json()
    rid = theirs["request_id"]
    assert httpx.post(f"{app_url}/feedback", json={"request_id": rid, "label": 1}).status_code == 403
    forged = {"request_id": rid, "label": 1, "token": "0" * 32}
    assert httpx.post(f"{app_url}/feedback", json=forged).status_code == 403
    reused = {"request_id": rid, "label": 1, "token": mine["feedback_tokens"][0]}  # another request's token
    assert httpx.post(f"{app_url}/feedback", json=reused).status_code == 403
    other_row = {"request_id": mine["request_id"], "row": 1, "label": 1, "token": mine["feedback_tokens"][0]}
    assert httpx.post(f"{app_url}/feedback", json=other_row).status_code == 403  # tokens are per row
    client_id = {"request_id": "victim", "label": 1, "token": theirs["feedback_tokens"][0]}
    assert httpx.post(f"{app_url}/feedback", json=client_id).status_code == 403  # the client's id is no key
    ok = {"request_id": rid, "label": 1, "token": theirs["feedback_tokens"][0]}
    assert httpx.post(f"{app_url}/feedback", json=ok).status_code == 200


def test_shadow_answers_from_champion_and_logs_candidate_one_for_one(rcfg, champion, app_url, rows) -> None:
    candidate = _register(rcfg, champion, {}, epochs=1)
    spec = {"mode": "shadow", "candidate_version": candidate, "shadow": {"fraction": 1.0, "min_requests": 100_000}}
    assert httpx.post(f"{app_url}/rollout", json=spec, headers=AUTH).status_code == 200
    _wait_candidate_loaded(app_url, candidate)
    ids = []
    with httpx.Client(timeout=30) as client:
        for row in rows[:120]:
            response = client.post(f"{app_url}/predict", json={"instances": [row]})
            assert response.status_code == 200
            assert response.headers["X-Variant"] == "champion"
            assert response.headers["X-Model-Version"] == champion.version.version
            ids.append(response.json()["request_id"])
    log = _wait_logged(rcfg, ids, per_id=2)  # shadow calls finish off the user's path, then the log flushes
    httpx.post(f"{app_url}/rollout/abort", headers=AUTH)
    served, shadow = log[log.role == "served"], log[log.role == "shadow"]
    assert sorted(served.request_id) == sorted(ids) and set(served.variant) == {"champion"}
    assert sorted(shadow.request_id) == sorted(ids)  # one shadow record per request, same id
    assert set(shadow.variant) == {"candidate"} and set(shadow.model_version) == {candidate}


def test_failing_canary_rolls_back_without_user_visible_errors(rcfg, champion, app_url, rows) -> None:
    broken = _register(rcfg, champion, {FAULT_RATE_TAG: "0.2"}, epochs=1)
    spec = {
        "mode": "canary",
        "candidate_version": broken,
        "canary": {
            "steps": [0.2, 0.5, 1.0],
            "min_requests_per_step": 40,
            "min_seconds_per_step": 0.5,
            "max_p99_latency_ratio": 100.0,
            "max_failed_checks": 1,
        },
    }
    assert httpx.post(f"{app_url}/rollout", json=spec, headers=AUTH).status_code == 200
    stop, results = threading.Event(), []
    load = threading.Thread(target=_drive, args=(app_url, rows, stop, results))
    load.start()
    try:
        status = _wait_phase(app_url, {"ROLLED_BACK", "PROMOTED"}, timeout=90)
    finally:
        stop.set()
        load.join()
    assert status["rollout"]["phase"] == "ROLLED_BACK"
    assert "error" in status["rollout"]["history"][-1]["reason"]
    assert [r for r in results if r[0] != 200] == []  # candidate failures fell back to the champion
    assert any(r[1] == "candidate" for r in results)  # the candidate did serve its share
    deadline = time.monotonic() + 30  # routers converge within poll_seconds: poll, never a fixed sleep
    while time.monotonic() < deadline:
        after = [httpx.post(f"{app_url}/predict", json={"instances": [r]}).headers["X-Variant"] for r in rows[:30]]
        if set(after) == {"champion"}:
            break
        time.sleep(0.2)
    assert set(after) == {"champion"}
    assert ModelRegistry(rcfg).alias_version(CHAMPION) == champion.version.version


def test_ab_split_matches_weight_and_users_keep_their_variant(rcfg, champion, app_url, rows) -> None:
    candidate = _register(rcfg, champion, {}, epochs=1)
    spec = {
        "mode": "ab",
        "candidate_version": candidate,
        "ab": {"candidate_share": 0.3, "min_samples_per_arm": 10_000, "max_samples_per_arm": 20_000},
    }
    assert httpx.post(f"{app_url}/rollout", json=spec, headers=AUTH).status_code == 200
    _wait_candidate_loaded(app_url, candidate)
    n = 1500
    with httpx.Client(timeout=30) as client:
        first = [
            client.post(f"{app_url}/predict", json={"instances": [rows[0]]}, headers={"X-User-Id": f"k{i}"}).headers[
                "X-Variant"
            ]
            for i in range(n)
        ]
        again = [
            client.post(f"{app_url}/predict", json={"instances": [rows[1]]}, headers={"X-User-Id": f"k{i}"}).headers[
                "X-Variant"
            ]
            for i in range(0, n, 5)
        ]
    httpx.post(f"{app_url}/rollout/abort", headers=AUTH)
    share = np.mean([v == "candidate" for v in first])
    assert abs(share - 0.3) < 3 * np.sqrt(0.3 * 0.7 / n), share
    assert again == first[::5]


def test_a_restarted_app_resumes_the_rollout_where_it_was(rcfg, champion, app_url, rows) -> None:
    from ray import serve

    from driftline.serve_apps.app import build_app

    def routing(status: dict) -> tuple:
        traffic = status["serving"]["traffic"]  # the revision moves with every saved tick; the routing must not
        return (
            traffic["champion_version"],
            traffic["candidate_version"],
            traffic["mode"],
            traffic["candidate_weight"],
            traffic["salt"],
            status["serving"]["slots"],
        )

    candidate = _register(rcfg, champion, {}, epochs=1)
    spec = {
        "mode": "canary",
        "candidate_version": candidate,
        "canary": {
            "steps": [0.3, 0.6, 1.0],
            "min_requests_per_step": 20,
            "min_seconds_per_step": 0,
            "max_p99_latency_ratio": 100.0,
        },
    }
    assert httpx.post(f"{app_url}/rollout", json=spec, headers=AUTH).status_code == 200
    try:
        _wait_candidate_loaded(app_url, candidate)
        user = iter(range(10**6))
        with httpx.Client(timeout=30) as client:

            def send(n: int) -> None:
                for _ in range(n):
                    i = next(user)
                    client.post(
                        f"{app_url}/predict", json={"instances": [rows[i % len(rows)]]}, headers={"X-User-Id": f"r{i}"}
                    )

            deadline = time.monotonic() + 60
            while httpx.get(f"{app_url}/rollout").json()["rollout"]["step_index"] < 1 and time.monotonic() < deadline:
                send(10)  # until the first step passed: the rollout is mid-ramp, not at its start
            send(5)  # some traffic at step 2, fewer candidate requests than its check needs
        before = _settled(app_url)
        assert before["rollout"]["step_index"] == 1 and before["rollout"]["candidate"]["requests"] > 0, before
        name = _app_name(rcfg)
        serve.delete(name)  # router, controller, slots (if remote) and log writer all go away
        serve.run(build_app(rcfg), name=name, route_prefix=f"/{name}")
        after = httpx.get(f"{app_url}/rollout").json()
        assert after["rollout"]["phase"] == "CANARY"
        assert after["rollout"]["rollout_id"] == before["rollout"]["rollout_id"]
        assert after["rollout"]["step_index"] == 1  # the step was not reset
        for arm in ("champion", "candidate", "champion_total", "candidate_total"):  # nor its counters
            assert after["rollout"][arm]["requests"] == before["rollout"][arm]["requests"], arm
        assert routing(after) == routing(before)
        _wait_candidate_loaded(app_url, candidate)
        # Users keep their variant across the restart: three known to the candidate, three to the champion (few, so
        # the step's check does not run and the rollout stays where it was).
        traffic = after["serving"]["traffic"]
        keys = [f"r{i}" for i in range(1000)]
        by_variant = {
            v: [k for k in keys if assign_variant(traffic["salt"], k, traffic["candidate_weight"]) == v][:3]
            for v in ("candidate", "champion")
        }
        for expected, users in by_variant.items():
            for user in users:
                answer = httpx.post(f"{app_url}/predict", json={"instances": rows[:1]}, headers={"X-User-Id": user})
                assert answer.headers["X-Variant"] == expected, (user, expected)
    finally:  # never leave a rollout running for the next test
        httpx.post(f"{app_url}/rollout/abort", headers=AUTH)
    assert httpx.get(f"{app_url}/rollout").json()["rollout"]["phase"] == "ROLLED_BACK"


def test_healthy_canary_is_promoted_through_all_steps_under_load(rcfg, champion, app_url, rows) -> None:
    candidate = _register(rcfg, champion, {}, epochs=2)
    spec = {
        "mode": "canary",
        "candidate_version": candidate,
        "canary": {
            "steps": [0.1, 0.5, 1.0],
            "min_requests_per_step": 30,
            "min_seconds_per_step": 0.5,
            "max_p99_latency_ratio": 100.0,
            "max_failed_checks": 2,
        },
    }
    assert httpx.post(f"{app_url}/rollout", json=spec, headers=AUTH).status_code == 200
    stop, results = threading.Event(), []
    load = threading.Thread(target=_drive, args=(app_url, rows, stop, results))
    load.start()
    try:
        status = _wait_phase(app_url, {"PROMOTED", "ROLLED_BACK"}, timeout=120)
        time.sleep(1.0)  # keep the load on across the role flip
    finally:
        stop.set()
        load.join()
    assert status["rollout"]["phase"] == "PROMOTED", status["rollout"]["history"][-1]
    history = status["rollout"]["history"]
    passed = [t["evidence"]["weight"] for t in history if t["from"] == "CANARY" and "passed" in t["reason"]]
    assert passed == [0.1, 0.5, 1.0], history  # each step passed its check at its weight, in order, then promotion
    assert history[-1]["to"] == "PROMOTED" and history[-1]["reason"] == "canary passed every step"
    assert [r for r in results if r[0] != 200] == [], "a promotion under load must not fail requests"
    assert ModelRegistry(rcfg).alias_version(CHAMPION) == candidate
    response = httpx.post(f"{app_url}/predict", json={"instances": rows[:1]})
    assert response.headers["X-Model-Version"] == candidate and response.headers["X-Variant"] == "champion"
    ids = []
    for row in rows[:5]:  # labels after the role flip, each sent twice: stored once, for the new champion
        answer = httpx.post(f"{app_url}/predict", json={"instances": [row]}).json()
        label = {"request_id": answer["request_id"], "label": 1, "token": answer["feedback_tokens"][0]}
        statuses = [httpx.post(f"{app_url}/feedback", json=label).json()["status"] for _ in range(2)]
        assert statuses == ["accepted", "duplicate"], statuses
        ids.append(answer["request_id"])
    deadline = time.monotonic() + 30
    while True:
        labels = ParquetSink(rcfg.workdir_path / "logs").read(FEEDBACK)
        labels = labels[labels.request_id.isin(ids)] if len(labels) else labels
        if len(labels) >= len(ids) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert sorted(labels.request_id) == sorted(ids) and labels.groupby(["request_id", "row"]).size().max() == 1


def test_hostile_bodies_are_4xx_fast_and_never_logged(app_url, rows) -> None:
    """Oversized, deeply nested, overflowing and mistyped bodies: a clear 4xx each, the router unharmed."""
    huge = b'{"dataframe_split": {"columns": ["x0"], "data": [' + b"[1.0]," * 400_000 + b"[1.0]]}}"
    started = time.monotonic()
    assert httpx.post(f"{app_url}/predict", content=huge, timeout=30).status_code == 413
    assert time.monotonic() - started < 5  # refused on its declared size, before parsing
    deep = b"[" * 10_000 + b"]" * 10_000
    assert httpx.post(f"{app_url}/predict", content=deep, timeout=30).status_code == 400
    row = rows[0]
    for bad in ({**row, "x0": 10**400}, {**row, "x1": 3.5e38}):
        answer = httpx.post(f"{app_url}/predict", content=json.dumps({"instances": [bad]}), timeout=30)
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "out_of_range"
    split = {"dataframe_split": {"columns": [["x0"]], "data": [[1.0]]}}
    assert httpx.post(f"{app_url}/predict", json=split, timeout=30).status_code == 400
    assert httpx.post(f"{app_url}/rollout", json={"mode": "shadow", "shadow": "x"}, headers=AUTH).status_code == 422
    assert httpx.post(f"{app_url}/predict", json={"instances": [row]}, timeout=30).status_code == 200  # still fine


def test_a_hung_candidate_times_out_counts_against_it_and_the_champion_answers(app_url, rcfg, champion, rows) -> None:
    slow = _register(rcfg, champion, {FAULT_DELAY_TAG: "4"}, epochs=1)
    spec = {
        "mode": "canary",
        "candidate_version": slow,
        "canary": {"steps": [0.5, 1.0], "min_requests_per_step": 10, "min_seconds_per_step": 0, "max_failed_checks": 0},
    }
    assert httpx.post(f"{app_url}/rollout", json=spec, headers=AUTH).status_code == 200
    _wait_candidate_loaded(app_url, slow)
    answers: list[tuple[int, str | None, float]] = []
    with httpx.Client(timeout=30) as client:
        # Which users hash to the candidate depends on the version's salt: send until 10 of them did (the step's
        # minimum), not a fixed number of requests that may leave the step undecided.
        for i in range(200):
            started = time.monotonic()
            r = client.post(f"{app_url}/predict", json={"instances": [rows[i]]}, headers={"X-User-Id": f"t{i}"})
            answers.append((r.status_code, r.headers.get("X-Fallback"), time.monotonic() - started))
            if sum(a[1] == "candidate-unavailable" for a in answers) >= 10:
                break
    assert all(status == 200 for status, _, _ in answers)  # no user saw the hang as an error
    fell_back = [a for a in answers if a[1] == "candidate-unavailable"]
    assert len(fell_back) == 10, len(fell_back)
    assert fell_back and all(seconds < 10 for _, _, seconds in fell_back)  # 2 s timeout + the champion's answer
    status = _wait_phase(app_url, {"ROLLED_BACK"}, timeout=60)
    assert "error_rate" in status["rollout"]["history"][-1]["reason"]
