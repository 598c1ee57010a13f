"""Chat turns through the API with the real three processes (Rasa, actions, API)."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from api.config import Settings
from benchmarks.common import summary
from scripts.stack import Stack, StackError, isolated_environment, prepare, service_specs


def bench_turns(questions: Sequence[str], turns: int, concurrency: int) -> None:
    """Knowledge-base answer turns through the API, with the real processes."""
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
