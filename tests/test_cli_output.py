"""Operator commands print only what the operator asked for; `flask sync run` shows a progress bar."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.simulator_fixtures import stop_quickly
from tickettracker.sync.cli import ConsoleReporter, progress_bar
from tickettracker.sync.runner import SyncCounts
from vendorsim import VendorSimulator

ROOT = Path(__file__).resolve().parent.parent


def _flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "LOG_LEVEL")}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi:app", *args], cwd=ROOT,
                          env={**clean, **env}, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_a_command_on_the_embedded_database_prints_only_its_answer(redis_url, tmp_path):
    done = _flask({"REDIS_URL": redis_url, "INSTANCE_PATH": str(tmp_path / "instance")}, "check")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "PostgreSQL and Redis answer.\n"
    assert done.stderr == "", "the embedded PostgreSQL's start and stop must not reach the operator"


@pytest.mark.slow
def test_sync_run_shows_a_progress_bar_and_a_summary_and_nothing_else(app_config):
    sim = VendorSimulator(seed=3, sizes={"freshservice": 5, "freshdesk": 5, "jira": 120}).start()
    try:
        env = {**app_config, **sim.settings_env(), "SYNC_PAGE_SIZE": "10"}
        done = _flask(env, "sync", "run", "jira")
    finally:
        stop_quickly(sim)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert done.stderr == "" and "INFO" not in done.stdout
    bars = [line for line in lines if line.startswith("[")]
    assert bars[-1].startswith("[########################] 100%"), bars
    assert 3 <= len(bars) <= 14, "a pipe gets one line per 10 % step, not one per page"
    assert lines[-2].startswith("Sync completed: fetched 120") and "requests" in lines[-1]


def test_on_a_terminal_the_bar_is_rewritten_in_place_and_fits_the_width():
    runner = CliRunner()
    with runner.isolation() as (out, _err, _):
        reporter = ConsoleReporter(True, columns=60)
        reporter.progress(None, "Jira: starting", SyncCounts())
        reporter.progress(40, "Jira: page 4 of 10 with a rather long description of the page", SyncCounts(fetched=40))
        reporter.finish()
        text = out.getvalue().decode()
    frames = text.split("\r")[1:]
    assert frames[0].startswith("[........................]   …")
    assert frames[1].startswith("[##########..............]  40% Jira: page 4")
    assert all(len(frame.rstrip("\n")) <= 59 for frame in frames) and text.endswith("\n")
    assert progress_bar(0) == "[........................]   0%" and progress_bar(150).endswith("100%")
