"""Prometheus metrics: request latency by route, quotes by model, and the live on-time rate.

Each app has its own registry (tests build many apps in one process); the live on-time rate and
the models being served are read at scrape time, so they are never stale and cost nothing between
scrapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 1, 5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)


class Metrics:
    def __init__(
        self, live: Callable[[], Iterator[tuple[str, str, dict[str, tuple[int, int]]]]]
    ) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "eta_http_request_duration_seconds",
            "Time from the first byte of a request to the end of its response, by route.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.quotes = Counter(
            "eta_quotes",
            "Items quoted, by model and version.",
            ["model", "version"],
            registry=self.registry,
        )
        self.item_errors = Counter(
            "eta_quote_item_errors",
            "Items answered with an error instead of a quote, by model.",
            ["model"],
            registry=self.registry,
        )
        self.engine_calls = Histogram(
            "eta_engine_call_items",
            "Items per engine call (concurrent requests are answered together).",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.reloads = Counter(
            "eta_model_reloads",
            "Model loads on start or reload, by model and outcome.",
            ["model", "outcome"],
            registry=self.registry,
        )
        self.registry.register(_Live(live))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.latency.labels(method, route, str(status)).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Live(Collector):
    """The served models and their live on-time rates, read when Prometheus scrapes."""

    def __init__(
        self, live: Callable[[], Iterator[tuple[str, str, dict[str, tuple[int, int]]]]]
    ) -> None:
        self.live = live

    def collect(self) -> Iterator[GaugeMetricFamily]:
        info = GaugeMetricFamily(
            "eta_model_info",
            "The model version being served (value 1).",
            labels=["model", "version"],
        )
        rate = GaugeMetricFamily(
            "eta_on_time_rate",
            "Share of promises kept among outcomes reported since the model was deployed.",
            labels=["model", "segment"],
        )
        judged = GaugeMetricFamily(
            "eta_judged_outcomes",
            "Outcomes judged since the model was deployed (what eta_on_time_rate rests on).",
            labels=["model", "segment"],
        )
        for name, version, outcomes in self.live():
            info.add_metric([name, version], 1.0)
            for segment, (kept, n) in outcomes.items():
                rate.add_metric([name, segment], kept / n)
                judged.add_metric([name, segment], n)
        yield info
        yield rate
        yield judged
