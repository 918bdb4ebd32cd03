"""`junit.xml`: one test case per SLO.

fail → `<failure>`; inconclusive → `<error>` (missing evidence must not read as a pass, and CI
systems treat `<skipped>` as green); warn passes with its message in `<system-out>`; every case
carries its evidence in `<system-out>`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from aideon_resilience.core.evaluate.verdict import Status, Verdict


def render_junit(verdict: Verdict) -> str:
    counts = verdict.counts()
    suites = ET.Element("testsuites", name="aideon-resilience")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"resilience-{verdict.kind}.{verdict.environment or 'run'}",
        tests=str(len(verdict.slos)),
        failures=str(counts[Status.FAIL.value]),
        errors=str(counts[Status.INCONCLUSIVE.value]),
        skipped="0",
        timestamp="",
    )
    suite.attrib.pop("timestamp")
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("run_id", verdict.run_id),
        ("verdict", verdict.verdict.value),
        ("score", f"{verdict.score:.4f}"),
        ("kind", verdict.kind),
        *(("note", n) for n in verdict.notes),
    ):
        ET.SubElement(props, "property", name=name, value=value)
    for r in verdict.slos:
        case = ET.SubElement(suite, "testcase", classname=f"slo.{r.family}", name=r.id, time="0")
        if r.status is Status.FAIL:
            ET.SubElement(case, "failure", message=r.message, type="slo-failed").text = r.message
        elif r.status is Status.INCONCLUSIVE:
            ET.SubElement(case, "error", message=r.message, type="slo-inconclusive").text = r.message
        out = [f"status: {r.status.value}", f"message: {r.message}", *r.evidence.items]
        ET.SubElement(case, "system-out").text = "\n".join(out)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
