"""`flask sync run incidents|jira [--full]`: a sync in the foreground with a progress bar and a summary."""

from __future__ import annotations

import shutil
import sys

import click
from flask.cli import AppGroup

from tickettracker.connectors.base import SyncError
from tickettracker.core.config import get_settings
from tickettracker.sync.runner import SyncCounts, run_sync

TYPES = {"incidents": "Incidents", "jira": "JIRA"}
sync_cli = AppGroup("sync", help="Run vendor syncs from the command line.")


BAR_WIDTH = 24


def progress_bar(percent: int | None) -> str:
    """Return a text progress bar: '[######..................]  25%', or a dotted one when the total is unknown."""
    if percent is None:
        return "[" + "." * BAR_WIDTH + "]   …"
    percent = max(0, min(percent, 100))
    filled = round(BAR_WIDTH * percent / 100)
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {percent:3d}%"


class ConsoleReporter:
    """Prints progress (on a terminal one progress bar rewritten in place; otherwise a line per 10 %) and warnings;
    never cancels."""

    def __init__(self, interactive: bool, columns: int = 100) -> None:
        """Remember whether stdout is a terminal and how wide it is."""
        self.interactive, self.columns = interactive, columns
        self.width = 0
        self.last_step: tuple[str, int] | None = None

    def progress(self, percent: int | None, message: str, counts: SyncCounts) -> None:
        """Show the latest progress."""
        line = f"{progress_bar(percent)} {message} · {counts.fetched} fetched"
        if self.interactive:
            line = line[: self.columns - 1]  # a wrapped line could not be rewritten in place
            click.echo("\r" + line.ljust(self.width), nl=False)
            self.width = len(line)
            return
        step = (message.split(":", 1)[0], -1 if percent is None else percent // 10)
        if step != self.last_step:
            self.last_step = step
            click.echo(line)

    def log(self, level: str, message: str, source: str | None = None) -> None:
        """Print warnings and errors on their own line."""
        if level in ("warning", "error"):
            self.finish()
            click.echo(f"{level}: {message}", err=True)

    def cancelled(self) -> bool:
        """A foreground sync stops only by Ctrl-C."""
        return False

    def finish(self) -> None:
        """End the rewritten progress line."""
        if self.interactive and self.width:
            click.echo()
            self.width = 0


@sync_cli.command("run")
@click.argument("sync_type", type=click.Choice(sorted(TYPES), case_sensitive=False))
@click.option("--full", is_flag=True, help="Ignore the watermark and read everything again.")
def run_command(sync_type: str, full: bool) -> None:
    """Run one sync now and print a summary; exit non-zero when it fails."""
    reporter = ConsoleReporter(sys.stdout.isatty(), shutil.get_terminal_size().columns)
    try:
        outcome = run_sync(get_settings(), TYPES[sync_type.lower()], reporter, full=full)
    except SyncError as error:
        reporter.finish()
        kind = "will likely succeed later" if error.retryable else "needs a configuration change"
        raise click.ClickException(f"Sync failed ({kind}): {error}") from None
    except KeyboardInterrupt:
        reporter.finish()
        click.echo("Interrupted; every page committed so far is kept.", err=True)
        sys.exit(130)
    reporter.finish()
    c = outcome.counts
    click.echo(f"{outcome.message}\n  fetched {c.fetched}, created {c.created}, updated {c.updated}, "
               f"deleted {c.deleted}, requests {c.requests}, rate-limit waits {c.rate_limit_waits}, "
               f"retries {c.retries}")
    if outcome.status != "completed":
        sys.exit(1)
