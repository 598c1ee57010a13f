"""``make bench``: measures and prints what a deployment cares about.

- ``retrieval``: calibration on the tuning question sets, the final measure (recall@1, recall@3, MRR,
  abstention, by kind and language), cross-lingual retrieval, and the embedding backends compared;
- ``kb``: index build time for the commune's entries, one query's latency (embedding included), memory;
- ``service-public``: every service-public.fr page imported: PIAF and DILA questions, speed at 8,000 entries;
- ``nlu``: intent F1 per language by cross-validation of the Rasa pipeline, language detection;
- ``turns``: chat turns through the API with the real three processes, sequential and concurrent, beside
  Rasa's ``/model/parse`` alone;
- ``desk``: a handoff, a claim, and how fast messages reach the other side's WebSocket, each way;
- ``widget``: the citizens' widget's weight as served, its time to interactive and to open in headless
  Chromium, cold and throttled.

Figures go to standard output; copy them, with the machine, into ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

from benchmarks.common import (
    DEV_QUESTIONS,
    FINAL_QUESTIONS,
    HELDOUT_QUESTIONS,
    Question,
    read_questions,
    resident_mib,
    timed,
)
from benchmarks.desk import bench_desk
from benchmarks.nlu import bench_nlu
from benchmarks.retrieval import bench_retrieval, print_query_speed
from benchmarks.service_public import bench_service_public
from benchmarks.turns import bench_turns
from benchmarks.widget import bench_widget
from knowledge_base.config import KnowledgeBaseSettings
from knowledge_base.embeddings import get_backend
from knowledge_base.index import build_index
from knowledge_base.search import Searcher
from knowledge_base.store import load_entries, load_out_of_scope

PARTS = ("retrieval", "kb", "service-public", "nlu", "turns", "desk", "widget")


def bench_knowledge_base(questions: list[Question], rounds: int) -> None:
    """Index build time, query latency and resident memory of the searcher, on the commune's entries."""
    with tempfile.TemporaryDirectory() as index_dir:
        settings = KnowledgeBaseSettings(index_dir=Path(index_dir))
        entries = load_entries(settings.entries_dir)
        examples = load_out_of_scope(settings.out_of_scope_file)
        backend = get_backend(settings)
        backend.encode(["warm-up"])  # the model's load is not part of the build
        build_ms = timed(
            lambda: build_index(
                entries, backend, settings.index_dir, out_of_scope=examples, progress=False, force=True
            )
        )
        print(f"{'index build (' + str(len(entries)) + ' entries, model loaded)':<52} {build_ms:7.0f} ms")
        searcher = Searcher.load(settings)
        print_query_speed(searcher, questions, rounds)
    print(f"{'process resident memory (searcher loaded)':<52} {resident_mib():7.0f} MiB")


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmarks and prints their figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--only", choices=PARTS, action="append", help="run only these parts (repeatable)")
    parser.add_argument("--rounds", type=int, default=5, help="passes over the questions for query latency")
    parser.add_argument("--turns", type=int, default=200, help="chat turns per measure")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--think", type=float, default=1.0, help="seconds a citizen reads, between turns")
    parser.add_argument("--handoffs", type=int, default=200, help="handoffs (and messages each way) for desk")
    parser.add_argument(
        "--widget-runs", type=int, default=30, help="cold page loads of the widget's demo page"
    )
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds of the NLU data")
    parser.add_argument("--backends", action="store_true", help="also compare every embedding backend")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list the questions retrieval gets wrong"
    )
    args = parser.parse_args(argv)
    parts = args.only or list(PARTS)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    dev = read_questions(DEV_QUESTIONS)
    tuning = dev + read_questions(HELDOUT_QUESTIONS)
    final = read_questions(FINAL_QUESTIONS)
    if "retrieval" in parts:
        bench_retrieval(tuning, final, backends=args.backends, verbose=args.verbose)
    if "kb" in parts:
        bench_knowledge_base(dev, args.rounds)
    if "service-public" in parts:
        bench_service_public(dev, args.rounds)
    if "nlu" in parts:
        bench_nlu(args.folds)
    if "turns" in parts:
        bench_turns([q.q for q in dev if q.slug is not None], args.turns, args.concurrency, args.think)
    if "desk" in parts:
        bench_desk(args.handoffs)
    if "widget" in parts:
        bench_widget(args.widget_runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
