"""``make bench``: measures and prints what a deployment cares about.

- knowledge base: index build time for the commune's entries, one query's
  latency (embedding included), the searcher's resident memory;
- chat turns through the API with the real three processes: latency of a
  knowledge-base answer turn, sequentially and with 10 concurrent conversations.

Queries come from ``tests/knowledge_base/data/threshold.jsonl`` (citizen-style
questions written apart from the entries). Figures go to standard output; copy
them, with the machine, into ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from api.config import Settings
from knowledge_base.config import KnowledgeBaseSettings
from knowledge_base.embeddings import get_backend
from knowledge_base.index import build_index
from knowledge_base.search import Searcher
from knowledge_base.store import load_entries
from scripts.model import REPO
from scripts.stack import Stack, StackError, isolated_environment, prepare, service_specs

QUESTIONS = REPO / "tests" / "knowledge_base" / "data" / "threshold.jsonl"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(name: str, milliseconds: list[float]) -> str:
    """One line: count, p50, p95, max."""
    return (
        f"{name:<48} n={len(milliseconds):<4} p50={percentile(milliseconds, 50):7.1f} ms  "
        f"p95={percentile(milliseconds, 95):7.1f} ms  max={max(milliseconds):7.1f} ms"
    )


def in_scope_questions() -> list[tuple[str, str | None]]:
    """(question, language) pairs of the in-scope benchmark questions."""
    pairs = []
    for line in QUESTIONS.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            if item.get("slug"):
                pairs.append((item["q"], item.get("lang")))
    return pairs


def timed(function: Callable[[], object]) -> float:
    """Milliseconds one call takes."""
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def bench_knowledge_base(rounds: int) -> None:
    """Index build time, query latency and resident memory of the searcher."""
    questions = in_scope_questions()
    with tempfile.TemporaryDirectory() as index_dir:
        settings = KnowledgeBaseSettings(index_dir=Path(index_dir))
        entries = load_entries(settings.entries_dir)
        backend = get_backend(settings)
        backend.encode(["warm-up"])  # the model's load is not part of the build
        build_ms = timed(
            lambda: build_index(entries, backend, settings.index_dir, progress=False, force=True)
        )
        print(f"{'index build (' + str(len(entries)) + ' entries, model loaded)':<48} {build_ms:7.0f} ms")
        searcher = Searcher.load(settings)
        searcher.search("warm-up", lang="fr")
        latencies: list[float] = []
        for _ in range(rounds):
            for question, lang in questions:
                started = time.perf_counter()
                searcher.search(question, lang=lang, k=5)
                latencies.append((time.perf_counter() - started) * 1000)
    print(summary("knowledge-base query (embedding + faiss)", latencies))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'process peak resident memory (searcher loaded)':<48} {peak_mib:7.0f} MiB")


def bench_turns(turns: int, concurrency: int) -> None:
    """Knowledge-base answer turns through the API, with the real processes."""
    questions = [q for q, _ in in_scope_questions()]
    with tempfile.TemporaryDirectory() as var:
        var_dir = Path(var)
        os.environ.update(isolated_environment(var_dir))
        os.environ["GUICHET_RATE_LIMITS"] = "off"  # a load test, from one address
        settings = Settings()
        model = prepare()
        log_path = var_dir / "stack.log"
        with log_path.open("w") as log, Stack(service_specs(settings, model, var_dir), out=log) as stack:
            started = time.perf_counter()
            try:
                stack.wait_until_ready(timeout=400)
            except StackError as error:
                sys.exit(f"{error}; see {log_path}")
            print(f"{'stack start to ready (model trained)':<48} {time.perf_counter() - started:7.1f} s")
            with httpx.Client(base_url=f"http://127.0.0.1:{settings.api_port}", timeout=60) as client:

                def conversation_turns(count: int, offset: int) -> list[float]:
                    created = client.post("/api/conversations", json={"language": None}).json()
                    headers = {"Authorization": f"Bearer {created['token']}"}
                    url = f"/api/conversations/{created['id']}/messages"
                    times = []
                    for i in range(count):
                        text = questions[(offset + i) % len(questions)]
                        started_turn = time.perf_counter()
                        response = client.post(url, json={"text": text}, headers=headers)
                        times.append((time.perf_counter() - started_turn) * 1000)
                        response.raise_for_status()
                    return times

                conversation_turns(5, 0)  # warm-up: loads the embedding model in the action server
                sequential: list[float] = []
                for start in range(0, turns, 10):
                    sequential += conversation_turns(min(10, turns - start), start)
                print(summary("chat turn through the API, sequential", sequential))
                with ThreadPoolExecutor(concurrency) as pool:
                    per_conversation = max(1, turns // concurrency)
                    results = pool.map(
                        lambda n: conversation_turns(per_conversation, n * per_conversation),
                        range(concurrency),
                    )
                    concurrent = [ms for times in results for ms in times]
                print(summary(f"chat turn through the API, {concurrency} concurrent", concurrent))


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmarks and prints their figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="passes over the questions for query latency")
    parser.add_argument("--turns", type=int, default=200, help="chat turns per measure")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--skip-turns", action="store_true", help="only the knowledge-base benchmarks")
    args = parser.parse_args(argv)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    bench_knowledge_base(args.rounds)
    if not args.skip_turns:
        bench_turns(args.turns, args.concurrency)
    return 0


if __name__ == "__main__":
    sys.exit(main())
