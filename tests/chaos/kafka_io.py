"""Kafka side of the chaos suite (kafka-python, a pure-Python client that works against Tansu):
producing raw records, reading topic metadata, and measuring consumer lag."""

from __future__ import annotations

import logging
import threading
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

# kafka-python logs every refused connection while the broker restarts; the report says enough.
logging.getLogger("kafka").setLevel(logging.CRITICAL)


class Producer:
    """A thread-safe producer that retries a record until the broker acknowledged it or a deadline
    passed. It never creates topics (Baton provisions its own; after a broker loss, whether Baton
    re-creates them is part of what is tested)."""

    def __init__(self, address: str):
        self.address = address
        self._lock = threading.Lock()
        self._producer: KafkaProducer | None = None

    def _get(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                self._producer = KafkaProducer(
                    bootstrap_servers=self.address, acks="all", max_request_size=4 * 1024 * 1024,
                    # Not idempotent: its producer id and sequence numbers would not survive a broker
                    # that lost its data; a retried record is deduped by Baton's inbox instead.
                    enable_idempotence=False,
                    allow_auto_create_topics=False, request_timeout_ms=10_000, max_block_ms=5_000,
                    delivery_timeout_ms=20_000, linger_ms=0, reconnect_backoff_max_ms=1_000,
                    retry_backoff_ms=200, metadata_max_age_ms=2_000)
            return self._producer

    def send(self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]],
             deadline_s: float = 60) -> tuple[int, int, int]:
        """Returns (partition, offset, tries) once acknowledged; raises the last error at the deadline."""
        deadline = time.time() + deadline_s
        tries = 0
        while True:
            tries += 1
            try:
                md = self._get().send(topic, value=value, key=key, headers=headers).get(timeout=25)
                return md.partition, md.offset, tries
            except Exception:  # noqa: BLE001 - any failure is retried until the deadline
                if time.time() > deadline:
                    raise
                self.close()  # a fresh client: no state of a broker incarnation that is gone
                time.sleep(1.0)

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                try:
                    self._producer.close(timeout=5)
                except Exception:  # noqa: BLE001
                    pass
                self._producer = None


def topic_partitions(address: str, topics: list[str]) -> dict[str, int]:
    """Partition count of each topic that exists now (missing topics are left out)."""
    admin = KafkaAdminClient(bootstrap_servers=address, request_timeout_ms=5_000)
    try:
        meta = admin.describe_topics(topics)
    finally:
        admin.close()
    out = {}
    for t in meta:
        if t.get("error_code", 0) == 0 and t.get("partitions"):
            out[t.get("name") or t.get("topic")] = len(t["partitions"])
    return out


def consumer_lag(address: str, groups: dict[str, list[str]]) -> dict:
    """Per group: the sum over its topics' partitions of (end offset - committed offset); a
    partition with records but no committed offset counts its whole end offset."""
    admin = KafkaAdminClient(bootstrap_servers=address, request_timeout_ms=5_000)
    consumer = KafkaConsumer(bootstrap_servers=address, request_timeout_ms=6_000)
    try:
        report = {}
        for group, topics in groups.items():
            parts = topic_partitions(address, topics)
            tps = [TopicPartition(t, p) for t, n in parts.items() for p in range(n)]
            ends = consumer.end_offsets(tps) if tps else {}
            committed_raw = admin.list_group_offsets({group: None}).get(group, {})
            committed = {tp: (om.offset if om is not None else -1) for tp, om in committed_raw.items()}
            lag = 0
            behind = {}
            for tp in tps:
                end = ends.get(tp, 0)
                c = committed.get(tp, -1)
                gap = end - c if c >= 0 else end
                if gap > 0:
                    behind[f"{tp.topic}/{tp.partition}"] = {"end": end, "committed": c}
                lag += max(gap, 0)
            report[group] = {"lag": lag, "behind": behind, "topics": parts}
        return report
    finally:
        consumer.close()
        admin.close()
