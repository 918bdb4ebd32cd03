from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from aideon_resilience.core.evaluate.verdict import Verdict


def _cases(run_dir: Path) -> tuple[ET.Element, list[ET.Element]]:
    root = ET.parse(run_dir / "junit.xml").getroot()
    suite = root.find("testsuite")
    assert suite is not None
    return suite, suite.findall("testcase")


def test_one_testcase_per_slo_all_passing(healthy_run: tuple[Path, Verdict]) -> None:
    run_dir, verdict = healthy_run
    suite, cases = _cases(run_dir)
    assert [c.get("name") for c in cases] == [r.id for r in verdict.slos]
    assert suite.get("tests") == str(len(verdict.slos)) and suite.get("failures") == "0"
    assert all(c.find("failure") is None and c.find("error") is None for c in cases)
    assert cases[0].get("classname") == "slo.client"


def test_fail_is_failure_and_inconclusive_is_error(mixed_run: tuple[Path, Verdict]) -> None:
    run_dir, verdict = mixed_run
    suite, cases = _cases(run_dir)
    by_name = {c.get("name"): c for c in cases}
    assert len(cases) == len(verdict.slos)
    failure = by_name["anti-affinity-gateway"].find("failure")
    assert failure is not None and "2 replicas on node n2" in (failure.get("message") or "")
    error = by_name["client-latency"].find("error")
    assert error is not None and "no Locust windows file" in (error.get("message") or "")
    assert by_name["hpa-gateway"].find("failure") is None and by_name["hpa-gateway"].find("error") is None
    statuses = [r.status.value for r in verdict.slos]
    assert suite.get("failures") == str(statuses.count("fail"))
    assert suite.get("errors") == str(statuses.count("inconclusive"))
    out = by_name["hpa-gateway"].find("system-out")
    assert out is not None and "status: pass" in (out.text or "")
