"""Prometheus metrics of one app, in the app's own registry (no process-wide globals)."""

from __future__ import annotations

from typing import Any, Callable, Mapping


class Metrics:
    """Request counts and latency per route, answer verdicts, claim verdicts, index size."""

    def __init__(self, index_size: Callable[[], Mapping[str, int]]) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("groundqa_http_requests", "HTTP requests by route, method and status", ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram(
            "groundqa_http_request_duration_seconds",
            "HTTP request latency by route",
            ["route", "method"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=self.registry,
        )
        self.answers = Counter("groundqa_answers", "Answers by verdict", ["verdict"], registry=self.registry)
        self.claims = Counter("groundqa_claims", "Claims judged by the guard, by verdict", ["verdict"], registry=self.registry)
        self.unsupported_rate = Gauge("groundqa_unsupported_claim_rate", "Share of judged claims that were unsupported (since start)", registry=self.registry)
        self.stage = Histogram("groundqa_stage_duration_seconds", "Pipeline stage time", ["stage"], buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60), registry=self.registry)
        index = Gauge("groundqa_index_size", "Index size", ["unit"], registry=self.registry)
        index.labels("chunks").set_function(lambda: index_size().get("chunks", 0))
        index.labels("documents").set_function(lambda: index_size().get("documents", 0))
        self._n_claims = 0
        self._n_unsupported = 0

    def observe_answer(self, answer: Mapping[str, Any]) -> None:
        self.answers.labels(answer.get("verdict", "unknown")).inc()
        for c in answer.get("claims", []):
            v = c.get("verdict", "unknown")
            self.claims.labels(v).inc()
            self._n_claims += 1
            self._n_unsupported += v != "supported"
        if self._n_claims:
            self.unsupported_rate.set(self._n_unsupported / self._n_claims)
        for stage, ms in (answer.get("timings_ms") or {}).items():
            if stage != "total":
                self.stage.labels(stage).observe(float(ms) / 1000.0)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
