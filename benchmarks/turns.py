"""Chat turns through the API with the real three processes (Rasa, actions, API), and their floor.

Four measures of knowledge-base question turns:

- the floor: Rasa's ``/model/parse`` alone (the NLU pipeline, language detection included), no dialogue;
- sequential: one conversation at a time, each question sent as soon as the previous answer arrived;
- 10 concurrent conversations: ten citizens chatting at once, each reading the answer before the next
  question for a random time averaging ``think`` seconds (uniform between half and one and a half times it;
  a real citizen reads and types for longer), starting at random moments within the first ``think`` seconds,
  so that they do not all send at the same instant;
- saturation: the same ten conversations with no pause at all, which measures the machine's capacity in
  turns per second rather than what a citizen waits.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

from api.config import Settings
from benchmarks.common import summary
from scripts.stack import Stack, StackError, isolated_environment, prepare, service_specs

#: Conversations are this many turns long.
TURNS_PER_CONVERSATION = 10


@contextmanager
def running_stack() -> Iterator[Settings]:
    """Starts the three processes on free ports with Rasa's HTTP API open, and stops them after."""
    with tempfile.TemporaryDirectory() as var:
        var_dir = Path(var)
        os.environ.update(isolated_environment(var_dir))
        os.environ["GUICHET_RATE_LIMITS"] = "off"  # a load test, from one address
        settings = Settings()
        model = prepare()
        log_path = var_dir / "stack.log"
        specs = service_specs(settings, model, var_dir, enable_rasa_api=True)
        with log_path.open("w") as log, Stack(specs, out=log) as stack:
            started = time.perf_counter()
            try:
                stack.wait_until_ready(timeout=400)
            except StackError as error:
                sys.exit(f"{error}; see {log_path}")
            print(f"{'stack start to ready (model trained)':<52} {time.perf_counter() - started:7.1f} s")
            yield settings


class Citizen:
    """Sends questions through the API, in conversations of ``TURNS_PER_CONVERSATION`` turns."""

    def __init__(self, client: httpx.Client, questions: Sequence[str]) -> None:
        self.client = client
        self.questions = questions

    def turns(self, count: int, offset: int, think: float = 0.0) -> list[float]:
        """Sends ``count`` questions and returns each turn's latency in milliseconds.

        With ``think``, waits a random time in [0, think] before the first question and in
        [think / 2, 3 * think / 2] before each next one (seeded by ``offset``: runs are repeatable).
        """
        rng = random.Random(offset)
        times: list[float] = []
        url, headers = "", {}
        if think:
            time.sleep(rng.uniform(0, think))
        for i in range(count):
            if i % TURNS_PER_CONVERSATION == 0:
                created = self.client.post("/api/conversations", json={"language": None}).json()
                headers = {"Authorization": f"Bearer {created['token']}"}
                url = f"/api/conversations/{created['id']}/messages"
            if think and i:
                time.sleep(rng.uniform(think / 2, 3 * think / 2))
            text = self.questions[(offset + i) % len(self.questions)]
            started = time.perf_counter()
            response = self.client.post(url, json={"text": text}, headers=headers)
            times.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
        return times


def parse_floor(client: httpx.Client, rasa_url: str, questions: Sequence[str]) -> list[float]:
    """Latency of Rasa's ``/model/parse`` alone, for each question."""
    times = []
    for text in questions:
        started = time.perf_counter()
        client.post(f"{rasa_url}/model/parse", json={"text": text}).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return times


def concurrently(citizen: Citizen, turns: int, concurrency: int, think: float) -> tuple[list[float], float]:
    """``concurrency`` conversations at once; returns every turn's latency and the turns per second."""
    per_conversation = max(1, turns // concurrency)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = pool.map(
            lambda n: citizen.turns(per_conversation, n * per_conversation, think), range(concurrency)
        )
        times = [ms for batch in results for ms in batch]
    return times, len(times) / (time.perf_counter() - started)


def bench_turns(questions: Sequence[str], turns: int, concurrency: int, think: float = 1.0) -> None:
    """Knowledge-base question turns through the API with the real processes, and Rasa's parse floor."""
    with running_stack() as settings:
        limits = httpx.Limits(max_connections=concurrency + 2)
        base_url = f"http://127.0.0.1:{settings.api_port}"
        with httpx.Client(base_url=base_url, timeout=60, limits=limits) as client:
            citizen = Citizen(client, questions)
            citizen.turns(TURNS_PER_CONVERSATION, 0)  # warm-up: loads the embedding model in the actions
            floor = parse_floor(client, settings.rasa_url, questions)
            print(summary("floor: Rasa /model/parse alone", floor))
            print(summary("chat turn through the API, sequential", citizen.turns(turns, 0)))
            times, _ = concurrently(citizen, turns, concurrency, think)
            print(summary(f"chat turn, {concurrency} conversations, ~{think:g} s reading", times))
            times, rate = concurrently(citizen, turns, concurrency, 0.0)
            print(summary(f"chat turn, {concurrency} conversations, no pause", times))
            print(f"{'capacity (turns per second, no pause)':<52} {rate:7.1f}")
