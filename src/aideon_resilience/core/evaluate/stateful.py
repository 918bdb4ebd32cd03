"""Stateful-recovery SLOs: a StatefulSet pod and its node are lost, and the store recovers.

The loss is the first action of the experiment (`stateful-node-loss`) matching `loss_activity`:
it starts when the node is taken away and ends once the node is seen down. The pods lost are the
StatefulSet's pods (the sampler's `stateful_pod` samples) that ran, when the loss started, on a
node that was down when it ended. Times are from the start of the loss: the time the control
plane takes to see a node gone is part of the recovery. For each matching workload:

- **replacement**: every lost pod comes back under the same name (a new pod object: another
  `uid`) with the same volume claims bound to the same volumes (where the sampler read them
  both times: a claim made again on a new volume is data lost), ready and holding for
  `READY_HOLD_S`, within T of the loss. A StatefulSet pod on a node that is down is only replaced once it is gone (the
  out-of-service taint of a non-graceful node shutdown, or the node deleted), and its zonal
  volume takes it to a node of the same zone: the evidence names both;
- **majority**: from the loss until the replacement is back (else the experiment's end), ready
  replicas never below a majority of the replicas (`replicas // 2 + 1`), the quorum a
  replicated store needs to keep serving.
"""

from __future__ import annotations

from aideon_resilience.core.evaluate._common import (
    READY_HOLD_S,
    Check,
    RunData,
    Scenario,
    judge_scenario,
    not_reached,
    timed,
)
from aideon_resilience.core.evaluate.slo import StatefulSlo
from aideon_resilience.core.evaluate.verdict import Figure, SloResult, Status
from aideon_resilience.core.evidence.timeline import ChaosActivity, StatefulPodSample, Timeline, WorkloadSample


def evaluate_stateful(slo: StatefulSlo, data: RunData, warn_ratio: float) -> SloResult:
    return judge_scenario(slo, "stateful", data, (slo.loss_activity, "node loss"),
                          lambda found, action: _checks(slo, found, action, data, warn_ratio))


def _checks(slo: StatefulSlo, found: Scenario, loss: ChaosActivity, data: RunData,
            warn_ratio: float) -> list[Check]:
    tl = found.timeline
    lost_at = loss.start
    pods = tl.stateful_pod_series()
    checks: list[Check] = []
    for key, samples in sorted(found.series.items()):
        lost = _lost_pods(pods.get(key, []), _down_nodes(tl, loss.end), lost_at)
        if not lost:
            checks.append(Check(Status.INCONCLUSIVE, f"{key}: no pod of it was on the lost node(s)"))
            continue
        back_at: list[float] = []
        for pod in lost:
            check, at = _replacement(key, pod, pods[key], lost_at, tl, slo, data, warn_ratio)
            checks.append(check)
            if at is not None:
                back_at.append(at)
        until = max(back_at) if len(back_at) == len(lost) else found.experiment.end
        checks.append(_majority(key, samples, lost_at, until, data))
    return checks


def _down_nodes(tl: Timeline, t: float) -> set[str]:
    return {name for name, ready in tl.node_readiness_at(t).items() if not ready}


def _lost_pods(samples: list[StatefulPodSample], down: set[str], t: float) -> list[StatefulPodSample]:
    """The pods' last samples up to `t` (the loss's start) that put them on a node found down."""
    last: dict[str, StatefulPodSample] = {}
    for s in samples:
        if s.t <= t:
            last[s.pod] = s
    return sorted((s for s in last.values() if s.node in down and s.phase != "Deleted"), key=lambda s: s.pod)


def _replacement(key: str, pod: StatefulPodSample, samples: list[StatefulPodSample], lost_at: float, tl: Timeline,
                 slo: StatefulSlo, data: RunData, warn_ratio: float) -> tuple[Check, float | None]:
    mine = [s for s in samples if s.pod == pod.pod and s.uid != pod.uid and s.t >= lost_at]
    back = next((s for i, s in enumerate(mine) if s.ready and _holds(mine[i:], s)), None)
    zones = tl.node_zones()
    if back is None:
        seen = mine[-1] if mine else None
        where = f"last seen {seen.phase} on {seen.node}" if seen else "no replacement pod seen"
        return not_reached(
            data, lost_at + slo.within_s,
            f"{key}: {pod.pod} not back {slo.within_s:g} s after its node {pod.node} was lost ({where})",
            f"{key}: the run ended before {pod.pod} was back",
        ), None
    if back.claims != pod.claims:
        return Check(Status.FAIL, f"{key}: {pod.pod} came back with claims {', '.join(back.claims) or 'none'}, "
                     f"not its own {', '.join(pod.claims)}"), back.t
    moved = {c: (v, back.volumes[c]) for c, v in pod.volumes.items() if back.volumes.get(c, v) != v}
    if moved:
        return Check(Status.FAIL, f"{key}: {pod.pod} came back with " + ", ".join(
            f"{c} on volume {new}, not its own {old}" for c, (old, new) in sorted(moved.items()))), back.t
    took = back.t - lost_at
    check = timed(
        took, slo.within_s, warn_ratio,
        f"{key}: {pod.pod} back, ready with its claims, {took:.0f} s after its node was lost "
        f"(limit {slo.within_s:g} s)",
        f"{key} {pod.pod} recovery_s",
        [f"{pod.pod} on {pod.node} ({zones.get(pod.node or '') or 'no zone'}) lost at {data.rel(lost_at)}; back on "
         f"{back.node} ({zones.get(back.node or '') or 'no zone'}) at {data.rel(back.t)} with "
         f"{_claims(back)}"],
    )
    return check, back.t


def _claims(pod: StatefulPodSample) -> str:
    """"data-x (volume pv-1), ..." for the evidence: the claims and, where read, their volumes."""
    return ", ".join(f"{c} (volume {pod.volumes[c]})" if c in pod.volumes else c for c in pod.claims) or "no claim"


def _holds(samples: list[StatefulPodSample], first: StatefulPodSample) -> bool:
    """Ready from `first` on for READY_HOLD_S (the same pod object)."""
    return all(s.ready for s in samples if s.uid == first.uid and s.t <= first.t + READY_HOLD_S)


def _majority(key: str, samples: list[WorkloadSample], since: float, until: float, data: RunData) -> Check:
    """Ready replicas never below a majority of the replicas over [since, until]."""
    before = [s for s in samples if s.t <= since][-1:]
    judged = before + [s for s in samples if since < s.t <= until]
    if not judged:
        return Check(Status.INCONCLUSIVE, f"{key}: no sample of its replicas around the loss")
    short = [s for s in judged if s.ready < s.replicas // 2 + 1]
    low = min(judged, key=lambda s: s.ready)
    figures = {f"{key} lowest_ready_during_loss": Figure(value=low.ready, limit=low.replicas // 2 + 1,
                                                         better="higher")}
    if short:
        first = short[0]
        return Check(Status.FAIL, f"{key}: {first.ready} of {first.replicas} replicas ready at {data.rel(first.t)}, "
                     f"below its majority of {first.replicas // 2 + 1}", figures=figures)
    return Check(Status.PASS, f"{key}: a majority ready throughout (lowest {low.ready} of {low.replicas})",
                 figures=figures)
