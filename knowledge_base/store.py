"""Reading, validating and fingerprinting the entries' YAML files (``<slug>.yml``, one entry per file)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from knowledge_base.models import LANGUAGES, NO_LANGUAGE_ERROR, Entry, is_http_url

logger = logging.getLogger(__name__)

#: File name patterns of entries.
ENTRY_SUFFIXES: tuple[str, ...] = (".yml", ".yaml")

#: libyaml's loader when PyYAML was built with it (about ten times faster), else the pure-Python one.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\(\s*([^)\s]*)[^)]*\)")
_BARE_URL = re.compile(r"(?<![\w/])(https?:\S*)")
_TRAILING_PUNCTUATION = ".,;:!?»\"')]>*_"


@dataclass(frozen=True)
class Problem:
    """Something wrong with an entry file.

    Attributes:
        file: The file's name (relative to the entries folder).
        field: Dotted path of the field at fault (``fr.questions[2]``), or None for the whole file.
        message: What is wrong, in plain words.
    """

    file: str
    field: str | None
    message: str

    def __str__(self) -> str:
        if self.field:
            return f"{self.file}: {self.field}: {self.message}"
        return f"{self.file}: {self.message}"


class InvalidEntriesError(ValueError):
    """Some entry files cannot be loaded.

    Attributes:
        problems: What is wrong, file by file.
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        listing = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the knowledge-base entries:\n{listing}")


def entry_files(entries_dir: Path) -> list[Path]:
    """List the entry files of a folder.

    Args:
        entries_dir: Folder of the entries.

    Returns:
        The ``.yml``/``.yaml`` files, sorted by name.

    Raises:
        FileNotFoundError: The folder does not exist.
    """
    entries_dir = Path(entries_dir)
    if not entries_dir.is_dir():
        raise FileNotFoundError(f"entries folder not found: {entries_dir}")
    return sorted(path for path in entries_dir.iterdir() if path.suffix in ENTRY_SUFFIXES and path.is_file())


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _schema_problems(name: str, error: ValidationError) -> list[Problem]:
    problems = []
    for detail in error.errors(include_url=False):
        loc = tuple(detail["loc"])
        message = detail["msg"]
        if detail["type"] == NO_LANGUAGE_ERROR:
            field: str | None = ", ".join(LANGUAGES)
        elif detail["type"] == "extra_forbidden":
            field = _field_path(loc)
            message = "unknown field (check its spelling)"
        else:
            field = _field_path(loc) or None
        problems.append(Problem(name, field, message.removeprefix("Value error, ")))
    return problems


def _parse_file(path: Path) -> tuple[Entry | None, list[Problem]]:
    """Read one file: an entry, or the problems that stop it from being one."""
    name = path.name
    try:
        data: Any = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except UnicodeDecodeError as exc:
        return None, [Problem(name, None, f"not UTF-8 text: {exc}")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc)
        return None, [Problem(name, None, f"YAML syntax error{where}: {reason}")]
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        return None, [Problem(name, None, f"expected a mapping of fields, the file is {kind}")]
    try:
        entry = Entry.model_validate(data)
    except ValidationError as exc:
        return None, _schema_problems(name, exc)
    if entry.slug != path.stem:
        return entry, [
            Problem(
                name, "slug", f"slug {entry.slug!r} does not match the file name (expected {path.stem!r})"
            )
        ]
    return entry, []


def _read_dir(entries_dir: Path) -> tuple[list[Entry], list[Problem]]:
    """Parse every file; report what makes the set unloadable (syntax, schema, slugs)."""
    parsed = [(path, *_parse_file(path)) for path in entry_files(entries_dir)]
    files_of_slug: dict[str, list[str]] = {}
    for path, entry, _ in parsed:
        if entry is not None:
            files_of_slug.setdefault(entry.slug, []).append(path.name)
    entries: list[Entry] = []
    problems: list[Problem] = []
    for path, entry, file_problems in parsed:
        problems.extend(file_problems)
        if entry is None:
            continue
        others = [name for name in files_of_slug[entry.slug] if name != path.name]
        if others:
            problems.append(
                Problem(path.name, "slug", f"duplicate slug {entry.slug!r}, also in {', '.join(others)}")
            )
        elif not file_problems:
            entries.append(entry)
    entries.sort(key=lambda entry: entry.slug)
    return entries, problems


def _link_problems(text: str) -> list[str]:
    """Find malformed links in Markdown text."""
    messages = []
    for match in _MARKDOWN_LINK.finditer(text):
        target = match.group(2)
        if not (is_http_url(target) or target.startswith(("mailto:", "tel:"))):
            messages.append(f"malformed link target {target!r} for [{match.group(1)}]")
    for match in _BARE_URL.finditer(_MARKDOWN_LINK.sub("", text)):
        url = match.group(1).rstrip(_TRAILING_PUNCTUATION)
        if not is_http_url(url):
            messages.append(f"malformed link {url!r}")
    return messages


def _content_problems(entries: Iterable[Entry], files: dict[str, str]) -> list[Problem]:
    """Checks that do not stop loading: both languages, links in answers, questions shared by entries."""
    problems: list[Problem] = []
    owner_of_question: dict[tuple[str, str], str] = {}
    for entry in entries:
        name = files[entry.slug]
        if entry.origin == "commune":
            for lang in LANGUAGES:
                if getattr(entry, lang) is None:
                    problems.append(
                        Problem(
                            name, lang, "missing: the commune's entries must be written in French and English"
                        )
                    )
        for lang in entry.languages():
            _, content = entry.localized(lang)
            for field in ("answer", "cost", "delay", "where"):
                for message in _link_problems(getattr(content, field) or ""):
                    problems.append(Problem(name, f"{lang}.{field}", message))
            for message in (m for doc in content.documents for m in _link_problems(doc)):
                problems.append(Problem(name, f"{lang}.documents", message))
            if entry.origin != "commune":
                continue  # imported pages may share a title; their publisher owns them
            for position, question in enumerate(content.questions):
                key = (lang, " ".join(question.casefold().split()))
                other = owner_of_question.setdefault(key, entry.slug)
                if other != entry.slug:
                    problems.append(
                        Problem(name, f"{lang}.questions[{position}]", f"same question as entry {other!r}")
                    )
    return problems


def validate_entries(entries_dir: Path) -> list[Problem]:
    """Check every entry file of a folder.

    Reports YAML syntax errors, schema errors (missing or unknown fields, wrong types, bad slug), a slug
    that does not match its file name, duplicate slugs, an entry with no language, a commune entry missing
    French or English, malformed links (``url`` and links in the Markdown fields) and questions shared by
    two entries.

    Args:
        entries_dir: Folder of the entries.

    Returns:
        The problems found, in file order; empty when everything is fine.
    """
    entries_dir = Path(entries_dir)
    try:
        files = entry_files(entries_dir)
    except FileNotFoundError as exc:
        return [Problem(str(entries_dir), None, str(exc))]
    if not files:
        return [Problem(str(entries_dir), None, "no entry files (*.yml) in this folder")]
    entries, problems = _read_dir(entries_dir)
    names = {path.stem: path.name for path in files}
    # Files whose slug does not match their name were reported already and are left out of `entries`.
    problems.extend(_content_problems(entries, {entry.slug: names[entry.slug] for entry in entries}))
    order = {path.name: position for position, path in enumerate(files)}
    return sorted(problems, key=lambda problem: order.get(problem.file, -1))


def load_entries(entries_dir: Path) -> list[Entry]:
    """Load every entry of a folder.

    Only problems that make a file unusable stop the load (syntax, schema, slug); a commune entry missing a
    language still loads (``validate_entries`` reports it).

    Args:
        entries_dir: Folder of the entries.

    Returns:
        The entries, sorted by slug.

    Raises:
        FileNotFoundError: The folder does not exist.
        InvalidEntriesError: Some files are broken; the error lists every problem.
    """
    entries, problems = _read_dir(Path(entries_dir))
    if problems:
        raise InvalidEntriesError(problems)
    logger.debug("loaded %d entries from %s", len(entries), entries_dir)
    return entries


def load_out_of_scope(path: Path) -> list[tuple[str, str]]:
    """Read the out-of-scope examples: questions the knowledge base must not answer from.

    The file maps a language (``fr``, ``en``) to a list of questions. A missing file means no examples.

    Args:
        path: The YAML file.

    Returns:
        ``(lang, question)`` pairs, in file order.

    Raises:
        InvalidEntriesError: The file is not a mapping of languages to lists of questions.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    try:
        data: Any = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise InvalidEntriesError([Problem(path.name, None, f"YAML syntax error: {exc}")]) from exc
    if data is None:
        return []
    if not isinstance(data, dict):
        raise InvalidEntriesError([Problem(path.name, None, "expected a mapping of languages to questions")])
    pairs: list[tuple[str, str]] = []
    problems: list[Problem] = []
    for lang, questions in data.items():
        if lang not in LANGUAGES:
            problems.append(Problem(path.name, str(lang), f"unknown language; use {', '.join(LANGUAGES)}"))
        elif not isinstance(questions, list) or not all(isinstance(q, str) and q.strip() for q in questions):
            problems.append(Problem(path.name, str(lang), "expected a list of non-empty questions"))
        else:
            pairs.extend((str(lang), " ".join(question.split())) for question in questions)
    if problems:
        raise InvalidEntriesError(problems)
    return pairs


def canonical_entries(entries: Iterable[Entry]) -> list[dict[str, Any]]:
    """Turn entries into plain JSON data, sorted by slug.

    Args:
        entries: The entries.

    Returns:
        One JSON-compatible dict per entry.
    """
    return [entry.model_dump(mode="json") for entry in sorted(entries, key=lambda entry: entry.slug)]


def entries_fingerprint(entries: Iterable[Entry]) -> str:
    """Fingerprint the content of a set of entries, to know when the index must be rebuilt.

    Args:
        entries: The entries (order does not matter).

    Returns:
        The sha256 hex digest of their canonical JSON form.
    """
    canonical = json.dumps(
        canonical_entries(entries), ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_fingerprint_cache: dict[tuple[Path, ...], tuple[tuple[tuple[str, int, int], ...], str]] = {}
_fingerprint_lock = threading.Lock()


def load_sources(dirs: Sequence[Path]) -> list[Entry]:
    """Load the entries of several folders: the commune's, then imported sources.

    Args:
        dirs: The folders; the first one must exist, later ones are skipped when missing.

    Returns:
        All the entries, sorted by slug.

    Raises:
        FileNotFoundError: The first folder does not exist.
        InvalidEntriesError: Some files are broken, or two folders hold the same slug.
    """
    entries: list[Entry] = []
    problems: list[Problem] = []
    folder_of: dict[str, Path] = {}
    for position, folder in enumerate(dirs):
        folder = Path(folder)
        if position and not folder.is_dir():
            continue
        found, found_problems = _read_dir(folder)
        prefix = f"{folder.name}/" if position else ""
        problems.extend(
            Problem(prefix + problem.file, problem.field, problem.message) for problem in found_problems
        )
        for entry in found:
            other = folder_of.setdefault(entry.slug, folder)
            if other != folder:
                problems.append(
                    Problem(
                        prefix + f"{entry.slug}.yml",
                        "slug",
                        f"duplicate slug {entry.slug!r}, also in {other}",
                    )
                )
            else:
                entries.append(entry)
    if problems:
        raise InvalidEntriesError(problems)
    entries.sort(key=lambda entry: entry.slug)
    return entries


def sources_fingerprint(dirs: Sequence[Path]) -> str:
    """Fingerprint the entries of several folders, re-reading the files only when one changed.

    The files' names, sizes and modification times are compared with the previous call, so repeated calls
    (health checks) cost a directory listing.

    Args:
        dirs: The folders, as for :func:`load_sources`.

    Returns:
        ``entries_fingerprint(load_sources(dirs))``.

    Raises:
        FileNotFoundError: The first folder does not exist.
        InvalidEntriesError: Some files are broken.
    """
    key = tuple(Path(folder).absolute() for folder in dirs)
    signature = tuple(
        (str(path), stat.st_mtime_ns, stat.st_size)
        for position, folder in enumerate(key)
        if not position or folder.is_dir()
        for path in entry_files(folder)
        for stat in (path.stat(),)
    )
    with _fingerprint_lock:
        cached = _fingerprint_cache.get(key)
        if cached is not None and cached[0] == signature:
            return cached[1]
    fingerprint = entries_fingerprint(load_sources(key))
    with _fingerprint_lock:
        _fingerprint_cache[key] = (signature, fingerprint)
    return fingerprint
