"""The experiments family: a deviated experiment can never sit beside a pass."""

from __future__ import annotations

from typing import Any

from aideon_resilience.core.evaluate.verdict import Status
from tests.core.runfactory import experiment, healthy_events, result, run_data, without

SLO = """\
environment: test
slos:
  - id: experiments-held
    family: experiments
    weight: 1
    experiments: {patterns}
"""


def _result(events: list[dict[str, Any]] | None, patterns: str = '["*"]') -> Any:
    return result("experiments-held", run_data(None, events), slo_yaml=SLO.format(patterns=patterns))


def test_every_experiment_held_passes() -> None:
    r = _result(healthy_events())
    assert r.status is Status.PASS, r.message
    assert "pod-kill: held" in r.message and "node-drain: held" in r.message


def test_a_deviated_hypothesis_fails_and_names_the_probe() -> None:
    surge = {**experiment("load-surge", 300, 400), "held": False,
             "reasons": ["steady state after the method not met: client-slo"]}
    r = _result([*healthy_events(), surge])
    assert r.status is Status.FAIL
    assert r.message == "load-surge: did not hold (steady state after the method not met: client-slo)"


def test_a_timeline_without_held_falls_back_to_status_and_deviated() -> None:
    events = [*healthy_events(), experiment("node-loss", 300, 400, deviated=True),
              experiment("zone-outage", 410, 500, status="interrupted")]
    r = _result(events)
    assert r.status is Status.FAIL
    assert "node-loss: did not hold (deviated)" in r.message
    assert "zone-outage: did not hold (run interrupted)" in r.message


def test_a_named_experiment_without_journal_is_inconclusive_never_a_pass() -> None:
    r = _result(without(healthy_events(), experiment="pod-kill"), '["pod-kill", "node-drain"]')
    assert r.status is Status.INCONCLUSIVE
    assert "pod-kill: no journal" in r.message
    assert _result(None).status is Status.INCONCLUSIVE
    assert _result([e for e in healthy_events() if e["kind"] != "experiment"]).status is Status.INCONCLUSIVE
