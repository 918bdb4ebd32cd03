"""The gate refuses unusable input and unsafe targets before anything changes (exit 2)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from aideon_resilience.cli.main import main
from aideon_resilience.errors import InputFileError, SafetyRefusal
from aideon_resilience.gate import GateOptions
from aideon_resilience.gate.prepare import prepare
from aideon_resilience.settings import Settings
from tests.conftest import REPO
from tests.kubeconfigs import api_server, write_kubeconfig


@pytest.fixture()
def manifests(tmp_path: Path) -> Path:
    """A copy of the environments' gate inputs (slo, shape, gate) that tests may break."""
    root = tmp_path / "manifests"
    for env in ("local", "staging"):
        src = REPO / "manifests" / "environments" / env
        dst = root / "environments" / env
        dst.mkdir(parents=True)
        for name in ("slo.yaml", "cluster-shape.yaml", "gate.yaml"):
            shutil.copyfile(src / name, dst / name)
    shutil.copytree(REPO / "manifests" / "loadgen", root / "loadgen")
    return root


def _opts(manifests: Path, tmp_path: Path, **kw: object) -> GateOptions:
    return GateOptions(manifests=manifests, out=tmp_path / "reports", chaos_dir=REPO / "chaos", **kw)  # type: ignore[arg-type]


def test_local_inputs_are_accepted_and_name_a_fresh_run_directory(manifests: Path, tmp_path: Path) -> None:
    prep = prepare(_opts(manifests, tmp_path, run_id="r1"))
    assert prep.context == "kwok-aideon"
    assert [p.stem for p in prep.experiments] == prep.config.experiments
    assert prep.run_dir == tmp_path / "reports" / "r1"
    assert not prep.run_dir.exists()  # nothing written yet


def test_unknown_experiment_names_the_gate_file_and_field(manifests: Path, tmp_path: Path) -> None:
    gate = manifests / "environments" / "local" / "gate.yaml"
    gate.write_text(gate.read_text().replace("pod-kill,", "pod-kil,"))
    with pytest.raises(InputFileError, match=r"gate\.yaml: experiments: experiment 'pod-kil' has no file"):
        prepare(_opts(manifests, tmp_path))


def test_malformed_slo_file_is_an_input_error(manifests: Path, tmp_path: Path) -> None:
    (manifests / "environments" / "local" / "slo.yaml").write_text("slos: [\n")
    with pytest.raises(InputFileError, match=r"slo\.yaml"):
        prepare(_opts(manifests, tmp_path))


def test_unbounded_gate_is_refused(manifests: Path, tmp_path: Path) -> None:
    gate = manifests / "environments" / "local" / "gate.yaml"
    text = re.sub(r"(?m)^max_seconds: \d+$", "max_seconds: 999999", gate.read_text())
    assert "max_seconds: 999999" in text
    gate.write_text(text)
    with pytest.raises(InputFileError, match=r"gate\.yaml: max_seconds: Input should be less than or equal to 14400"):
        prepare(_opts(manifests, tmp_path))


def test_non_local_context_must_be_named_and_allow_listed(manifests: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIDEON_CHAOS_ALLOWED_CONTEXTS", raising=False)
    with pytest.raises(SafetyRefusal, match="name the cluster with --context"):
        prepare(_opts(manifests, tmp_path, env="staging"))
    with pytest.raises(SafetyRefusal, match="--context staging-eu: not allow-listed"):
        prepare(_opts(manifests, tmp_path, env="staging", context="staging-eu"))
    monkeypatch.setenv("AIDEON_CHAOS_ALLOWED_CONTEXTS", "staging-eu")
    with pytest.raises(SafetyRefusal, match="set AIDEON_GATEWAY_URL"):
        prepare(_opts(manifests, tmp_path, env="staging", context="staging-eu"))
    kubeconfig = tmp_path / "kubeconfig"
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    with pytest.raises(InputFileError, match=r"kubeconfig: KUBECONFIG: no such kubeconfig"):
        prepare(_opts(manifests, tmp_path, env="staging", context="staging-eu", gateway_url="http://127.0.0.1:8080"))
    with api_server() as url:
        write_kubeconfig(kubeconfig, url, "staging-eu")
        prep = prepare(_opts(manifests, tmp_path, env="staging", context="staging-eu",
                             gateway_url="http://127.0.0.1:8080"))
    assert prep.context == "staging-eu"
    with pytest.raises(InputFileError, match=r"kubeconfig: clusters\[c\]\.server: API server .* does not answer"):
        prepare(_opts(manifests, tmp_path, env="staging", context="staging-eu", gateway_url="http://127.0.0.1:8080"))
    shutil.rmtree(manifests / "loadgen")
    with pytest.raises(InputFileError, match=r"loadgen: --manifests: no load generator"):
        prepare(_opts(manifests, tmp_path, env="staging", context="staging-eu", gateway_url="http://127.0.0.1:8080"))


def test_local_environment_refuses_another_context(manifests: Path, tmp_path: Path) -> None:
    with pytest.raises(SafetyRefusal, match="the local environment runs on kwok-aideon only"):
        prepare(_opts(manifests, tmp_path, context="prod"))


def test_cli_refusal_is_one_line_exit_2_and_writes_nothing(manifests: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "reports"
    code = main(["gate", "--env", "staging", "--context", "prod", "--manifests", str(manifests), "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["aideon-resilience: --context prod: not allow-listed; add it to AIDEON_CHAOS_ALLOWED_CONTEXTS "
                   "to let the gate break it (nothing was changed)"]
    assert not out.exists()


def test_experiment_subset_must_come_from_the_suite(manifests: Path, tmp_path: Path) -> None:
    gate = manifests / "environments" / "local" / "gate.yaml"
    suite = re.sub(r"(?m)^experiments: .*$", "experiments: [pod-kill, node-drain]", gate.read_text())
    gate.write_text(suite)  # a suite without zone-outage (chaos/ has it)
    prep = prepare(_opts(manifests, tmp_path, experiments=["node-drain"]))
    assert [p.stem for p in prep.experiments] == ["node-drain"]
    with pytest.raises(InputFileError, match=r"--experiments: 'zone-outage' is not in the suite"):
        prepare(_opts(manifests, tmp_path, experiments=["zone-outage"]))


def test_overlay_is_for_the_local_environment_only(manifests: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    variant = REPO / "manifests" / "variants" / "pdb-blocks-drains"
    assert prepare(_opts(manifests, tmp_path, overlay=variant)).context == "kwok-aideon"
    with pytest.raises(InputFileError, match="--overlay: not a kustomize directory"):
        prepare(_opts(manifests, tmp_path, overlay=tmp_path))
    monkeypatch.setenv("AIDEON_CHAOS_ALLOWED_CONTEXTS", "stg")
    with pytest.raises(SafetyRefusal, match="--overlay: only the local environment"):
        prepare(_opts(manifests, tmp_path, env="staging", context="stg", overlay=variant,
                      gateway_url="http://127.0.0.1:1"))


def test_outlier_target_is_a_gateway_stand_in_that_keeps_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    import aideon_resilience.gate.targets.local as local

    def standin(port: int, **kw: object) -> dict[str, object]:
        return {"service": "api-gateway", "namespace": "aideon-backend", "port": port, "ready": True,
                "terminating": False, "node_ready": True, **kw}

    state = SimpleNamespace(
        haproxy_stats_url="http://127.0.0.1:9000/stats",
        standins=[
            standin(1001, terminating=True),  # evicted: its process outlives its place in the proxy
            standin(1002, namespace="elsewhere"),
            standin(1003, ready=False),
            standin(1004, node_ready=False),
            standin(1005),
            {**standin(1000), "service": "auth-service"},
        ],
        outlier={"api-gateway": {"base_ejection_s": 15.0, "interval_s": 5.0}},
        routes={},
    )
    monkeypatch.setattr(local, "dataplane_state", lambda paths: state)

    def target(environ: dict[str, str]) -> local.LocalTarget:
        return local.LocalTarget(REPO / "manifests", REPO / "manifests" / "environments" / "local",
                                 None, Settings(environ))  # type: ignore[arg-type]

    env = target({}).chaos_env()
    assert env["AIDEON_BACKEND_ADMIN_URL"] == "http://127.0.0.1:1005"
    assert env["AIDEON_PROXY_STATS_URL"] == "http://127.0.0.1:9000/stats;csv"
    assert env["AIDEON_PROXY_BACKEND"] == "be_api-gateway"
    # the backend fails for three of the gateway's ejection times, unless the user said otherwise
    assert env["AIDEON_CHAOS_OUTLIER_SECONDS"] == "45"
    assert "AIDEON_CHAOS_OUTLIER_SECONDS" not in target({"AIDEON_CHAOS_OUTLIER_SECONDS": "60"}).chaos_env()
    state.outlier = {}  # no outlier detection: the experiment's own default
    assert "AIDEON_CHAOS_OUTLIER_SECONDS" not in target({}).chaos_env()
    # a route split over subsets: the backend broken is one of the heaviest subset's pool
    state.routes = {"api-gateway": [["api-gateway.v2", 10], ["api-gateway.v1", 90]]}
    state.outlier = {"api-gateway.v1": {"base_ejection_s": 20.0}}
    state.standins[4]["pools"] = ["api-gateway", "api-gateway.v2"]
    state.standins.append(standin(1006, pools=["api-gateway", "api-gateway.v1"]))
    env = target({}).chaos_env()
    assert env["AIDEON_BACKEND_ADMIN_URL"] == "http://127.0.0.1:1006"
    assert env["AIDEON_PROXY_BACKEND"] == "be_api-gateway.v1"
    assert env["AIDEON_CHAOS_OUTLIER_SECONDS"] == "60"


def test_a_load_its_workers_cannot_carry_is_refused_by_the_cli_in_one_line(
    manifests: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gate = manifests / "environments" / "staging" / "gate.yaml"
    text = re.sub(r"(?m)^  workers: auto.*$", "  workers: 1", gate.read_text())
    assert "  workers: 1\n" in text
    gate.write_text(text)
    out = tmp_path / "reports"
    code = main(["gate", "--env", "staging", "--context", "prod", "--manifests", str(manifests), "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"aideon-resilience: {gate}: load.workers: 1 worker carries 13,000 users by the measured capacity "
                   "(13,000 each, core/plan/capacity.json), fewer than users 20,000; the plan needs 2 (or say auto)"]
    assert not out.exists()


def test_a_rehearsal_prepares_staging_at_its_shape_with_its_own_suite_and_slos(tmp_path: Path) -> None:
    from aideon_resilience.gate.targets import RehearsalTarget

    prep = prepare(_opts(REPO / "manifests", tmp_path, env="staging", rehearsal=True, run_id="r1"))
    assert isinstance(prep.target, RehearsalTarget) and prep.kind == "rehearsal"
    assert prep.context == "kwok-aideon-rehearsal"  # its own cluster, allow-listed by default
    assert prep.target.shape.nodes == 12 and prep.target.rehearsal.users == 20000
    assert prep.config.experiments == ["pod-kill", "node-drain", "node-loss", "zone-outage"]
    assert {s.family for s in prep.slos.slos} >= {"plan_replicas", "zone_capacity"}
    assert "client" not in {s.family for s in prep.slos.slos}  # no request is sent
    assert prep.target.chaos_env()["AIDEON_CHAOS_DRAIN_COUNT"] == "2"
    assert not prep.run_dir.exists()


def test_rehearsal_input_errors_name_the_rehearsal_file(tmp_path: Path) -> None:
    opts = _opts(REPO / "manifests", tmp_path, env="staging", rehearsal=True)
    with pytest.raises(InputFileError, match=r"staging/rehearsal\.yaml: users: --users: -3 must be positive"):
        prepare(GateOptions(**{**opts.__dict__, "users": -3}))
    with pytest.raises(InputFileError, match=r"staging/rehearsal\.yaml: experiments: --experiments: 'load-surge'"):
        prepare(GateOptions(**{**opts.__dict__, "experiments": ["load-surge"]}))
    with pytest.raises(InputFileError, match=r"local/rehearsal\.yaml: no rehearsal configuration"):
        prepare(GateOptions(**{**opts.__dict__, "env": "local"}))


def test_an_slo_file_with_nothing_for_a_rehearsal_is_refused(manifests: Path, tmp_path: Path) -> None:
    env = manifests / "environments" / "local"
    shutil.copyfile(REPO / "manifests" / "environments" / "staging" / "rehearsal.yaml", env / "rehearsal.yaml")
    with pytest.raises(InputFileError, match=r"local/slo\.yaml: slos: no SLO applies to a rehearsal run"):
        prepare(_opts(manifests, tmp_path, rehearsal=True))


def test_rehearse_refuses_an_environment_without_a_rehearsal_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    out = tmp_path / "reports"
    assert main(["rehearse", "--env", "local", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["aideon-resilience: manifests/environments/local/rehearsal.yaml: no rehearsal configuration "
                   "(expected users, ramp_seconds, experiments)"]
    assert not out.exists()


def test_a_second_interrupt_during_the_release_releases_again() -> None:
    from aideon_resilience.gate.run import _release

    class Flaky:
        calls = 0

        def release(self, progress: object) -> None:
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise KeyboardInterrupt

    lines: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        _release(Flaky(), lines.append)  # type: ignore[arg-type]
    assert Flaky.calls == 2 and lines == ["interrupted while releasing the target: releasing it again before stopping"]
