"""The Rasa model: named after a fingerprint of what it is trained from.

``python -m scripts.model`` trains the model only when the training data, the
domain, the config or the custom NLU components changed since the last
training: the fingerprint of those files names the model file, so an existing
file means there is nothing to do.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO / "var" / "models"
RASA = REPO / ".venv-rasa" / "bin" / "rasa"
MODEL_PREFIX = "guichet-"
#: Bumped when the way a model is trained changes, so that models trained the old way are retrained.
TRAINING_RECIPE = 2

logger = logging.getLogger(__name__)


def training_inputs(repo: Path = REPO) -> list[Path]:
    """The files a model is trained from (test stories excluded), sorted."""
    files = [repo / "bot" / "config.yml", repo / "bot" / "domain.yml"]
    files += sorted((repo / "bot" / "components").glob("*.py"))
    files += sorted(
        path for path in (repo / "training_data").rglob("*.yml") if not path.name.startswith("test_")
    )
    return files


def training_data(repo: Path = REPO) -> list[str]:
    """The data files ``rasa train`` reads, relative to the repository: test stories stay out.

    Given the whole folder, Rasa would also learn the test stories' messages as NLU examples.
    """
    return [
        path.relative_to(repo).as_posix()
        for path in training_inputs(repo)
        if path.is_relative_to(repo / "training_data")
    ]


def fingerprint(repo: Path = REPO) -> str:
    """A short hash of the training inputs' names and contents."""
    digest = hashlib.sha256(f"recipe {TRAINING_RECIPE}\0".encode())
    for path in training_inputs(repo):
        digest.update(path.relative_to(repo).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def model_path(repo: Path = REPO) -> Path:
    """Where the model for the current training inputs is (or will be)."""
    return repo / "var" / "models" / f"{MODEL_PREFIX}{fingerprint(repo)}.tar.gz"


def rasa_environment() -> dict[str, str]:
    """Environment for Rasa commands: repo importable, no telemetry, quiet TensorFlow."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["RASA_TELEMETRY_ENABLED"] = "false"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    return env


def ensure_trained(force: bool = False) -> Path:
    """Trains the model unless one exists for the current inputs; returns its path.

    Raises:
        RuntimeError: when ``rasa train`` fails.
    """
    target = model_path()
    if target.exists() and not force:
        logger.info("Rasa model up to date: %s", target.relative_to(REPO))
        return target
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    logger.info("training the Rasa model (%s)", target.name)
    command = [
        str(RASA),
        "train",
        "--config", "bot/config.yml",
        "--domain", "bot/domain.yml",
        "--data", *training_data(),
        "--out", str(MODELS_DIR),
        "--fixed-model-name", target.name.removesuffix(".tar.gz"),
    ]  # fmt: skip
    completed = subprocess.run(command, cwd=REPO, env=rasa_environment(), check=False)
    if completed.returncode != 0 or not target.exists():
        raise RuntimeError(f"rasa train failed (exit {completed.returncode})")
    for old in MODELS_DIR.glob(f"{MODEL_PREFIX}*.tar.gz"):
        if old != target:
            old.unlink()
    return target


def main(argv: list[str] | None = None) -> int:
    """CLI: train if needed and print the model's path."""
    parser = argparse.ArgumentParser(prog="python -m scripts.model", description=__doc__)
    parser.add_argument("--force", action="store_true", help="train even if the model is up to date")
    parser.add_argument("--print-path", action="store_true", help="only print where the model would be")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.print_path:
        print(model_path())
        return 0
    try:
        print(ensure_trained(force=args.force))
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
