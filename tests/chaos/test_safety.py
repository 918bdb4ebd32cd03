"""The safety control refuses before any mutation and restores at the end; SIGTERM handling."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from chaoslib.exceptions import InterruptExecution

from aideon_resilience.chaos import signals, undo
from aideon_resilience.chaos.actions import drain_nodes
from aideon_resilience.chaos.controls import safety
from tests.chaos.fakekube import FakeKube

NS = "aideon-backend"


@pytest.fixture
def opted_in(fake: FakeKube) -> FakeKube:
    fake.core.namespaces[NS] = {"chaos.aideon.io/allowed": "true"}
    fake.core.namespaces["aideon-data"] = {}
    return fake


def _run_control(namespaces: str, configuration: dict[str, str] | None = None) -> None:
    safety.before_experiment_control(context={}, configuration=configuration or {}, secrets=None, namespaces=namespaces)


def test_context_not_allow_listed_is_refused_and_nothing_changes(
    opted_in: FakeKube, monkeypatch: pytest.MonkeyPatch, undo_dir: Path
) -> None:
    monkeypatch.setenv("KUBERNETES_CONTEXT", "staging-eu")
    with pytest.raises(InterruptExecution, match="'staging-eu' is not allow-listed"):
        _run_control(NS)
    journal: dict[str, object] = {}
    safety.after_experiment_control(context={}, state=journal)
    assert opted_in.core.mutations == []
    assert not undo_dir.exists() or undo.pending_steps(undo_dir) == []
    assert "refused" in journal["aideon_undo"]  # type: ignore[operator]


def test_namespace_without_opt_in_label_is_refused(opted_in: FakeKube) -> None:
    with pytest.raises(InterruptExecution, match="'aideon-data' has not opted in"):
        _run_control(f"{NS},aideon-data")
    with pytest.raises(InterruptExecution, match="'nope' does not exist"):
        _run_control("nope")
    assert opted_in.core.mutations == []


def test_namespaces_come_from_configuration_and_are_required(opted_in: FakeKube) -> None:
    _run_control("", {"namespace": NS})
    safety.after_experiment_control(context={}, state={})
    with pytest.raises(InterruptExecution, match="no target namespace"):
        _run_control("")


def test_unverifiable_target_fails_closed(opted_in: FakeKube, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(name: str) -> None:
        raise ConnectionError("apiserver unreachable")

    monkeypatch.setattr(opted_in.core, "read_namespace", broken)
    with pytest.raises(InterruptExecution, match="could not verify the target: apiserver unreachable"):
        _run_control(NS)


def test_after_experiment_replays_what_rollbacks_left(opted_in: FakeKube) -> None:
    _run_control(NS)
    try:
        drain_nodes(name="node-a1", timeout=5)  # method ran, rollbacks did not (default strategy)
    finally:
        journal: dict[str, object] = {}
        safety.after_experiment_control(context={}, state=journal)
    assert opted_in.core.nodes["node-a1"].spec.unschedulable is False
    assert journal["aideon_undo"]["undone"] == ["uncordon node node-a1"]  # type: ignore[index]


def test_sigterm_during_a_run_raises_terminated(opted_in: FakeKube) -> None:
    _run_control(NS)
    try:
        assert signal.getsignal(signal.SIGTERM) is signals._on_sigterm
        with pytest.raises(signals.Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler interrupts the sleep
    finally:
        safety.after_experiment_control(context={}, state={})
    assert signal.getsignal(signal.SIGTERM) is not signals._on_sigterm
    assert isinstance(signals.Terminated(), KeyboardInterrupt)  # never swallowed as ActivityFailed


def test_current_context_comes_from_the_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aideon_resilience.chaos import guard, k8s
    from aideon_resilience.errors import SafetyRefusal

    monkeypatch.delenv("KUBERNETES_CONTEXT", raising=False)
    monkeypatch.delenv("CHAOSTOOLKIT_IN_POD", raising=False)
    monkeypatch.delenv("AIDEON_CHAOS_ALLOWED_CONTEXTS", raising=False)
    cfg = tmp_path / "kubeconfig"
    cfg.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: kwok-aideon\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {}}]\n"
        "contexts: [{name: kwok-aideon, context: {cluster: c, user: u}},\n"
        "           {name: prod, context: {cluster: c, user: u}}]\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(cfg))
    assert guard.require_allowed_context() == "kwok-aideon"
    cfg.write_text(cfg.read_text().replace("current-context: kwok-aideon", "current-context: prod"))
    with pytest.raises(SafetyRefusal, match="'prod' is not allow-listed"):
        guard.require_allowed_context()
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    with pytest.raises(SafetyRefusal, match="no kubeconfig file"):
        k8s.current_context()
    monkeypatch.setenv("CHAOSTOOLKIT_IN_POD", "true")
    with pytest.raises(SafetyRefusal, match="'in-cluster' is not allow-listed"):
        guard.require_allowed_context()
    monkeypatch.setenv("AIDEON_CHAOS_ALLOWED_CONTEXTS", "in-cluster")
    assert guard.require_allowed_context() == "in-cluster"


def _nothing() -> None:
    return None


def _signal_self_then_wait(signame: str) -> None:
    """A Python provider: the signal arrives while the activity runs (as during a drain)."""
    os.kill(os.getpid(), getattr(signal, signame))
    time.sleep(5)


@pytest.mark.parametrize(("signame", "raised"), [("SIGINT", KeyboardInterrupt), ("SIGTERM", signals.Terminated)])
def test_an_interrupt_during_an_activity_skips_its_pause_after(
    opted_in: FakeKube, signame: str, raised: type[BaseException]
) -> None:
    """chaoslib sleeps `pauses.after` in a `finally`, even after an interrupt: with the safety control
    installed the interrupt reaches the run at once instead of after the pause (issue 12)."""
    from chaoslib.activity import execute_activity

    activity = {
        "type": "action", "name": "signal-self",
        "provider": {"type": "python", "module": __name__, "func": "_signal_self_then_wait",
                     "arguments": {"signame": signame}},
        "pauses": {"after": 30},
    }
    _run_control(NS)
    started = time.monotonic()
    try:
        with pytest.raises(raised):
            execute_activity({"title": "t"}, activity, {}, {}, None)
        took = time.monotonic() - started
        assert signals.interrupted()
    finally:
        safety.after_experiment_control(context={}, state={})
    assert took < 2.0, f"the interrupt waited {took:.1f} s (the pause is 30 s)"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_pauses_last_their_time_when_nothing_interrupts(opted_in: FakeKube) -> None:
    from chaoslib.activity import execute_activity

    activity = {"type": "probe", "name": "noop", "provider": {"type": "python", "module": __name__, "func": "_nothing"},
                "pauses": {"after": 0.3}}
    _run_control(NS)
    try:
        started = time.monotonic()
        run = execute_activity({"title": "t"}, activity, {}, {}, None)
        assert run["status"] == "succeeded"
        assert time.monotonic() - started >= 0.3
    finally:
        safety.after_experiment_control(context={}, state={})
