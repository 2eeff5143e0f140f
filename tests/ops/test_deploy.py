"""The files in deploy/ hold together: the systemd units, the container files, the alert rules
and the dashboard (validated by structure: no docker engine or systemd is needed)."""

from __future__ import annotations

import configparser
import json
import re
import shlex
from decimal import Decimal
from pathlib import Path

import yaml

from positionbot.bot.cli import build_parser
from positionbot.bot.config import TrackerConfig
from positionbot.bot.metrics import BotMetrics
from positionbot.storage.store import Store
from positionbot.tracker.core.models import Side
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.exchange.paper import PaperExchange, PaperGateway, default_markets

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / name).read_text())
    return parser


def _cli_args(exec_start: str) -> list[str]:
    argv = shlex.split(exec_start)
    assert argv[0].endswith("/positionbot")
    build_parser().parse_args(argv[1:])  # every option the unit passes exists
    return argv[1:]


def test_service_is_notify_type_with_a_watchdog_and_no_restart_loop_on_config_errors() -> None:
    service = _unit("positionbot.service")["Service"]
    assert service["Type"] == "notify"
    assert service["RestartPreventExitStatus"] == "2"
    assert service["Restart"] == "on-failure"
    watchdog = float(service["WatchdogSec"])
    # The in-process watchdog restarts a stalled job first; systemd only kills a process
    # whose cycles all stopped for longer than that.
    assert watchdog > TrackerConfig().watchdog_seconds
    assert float(service["TimeoutStopSec"]) > 10  # the final outbox flush is bounded at 10 s
    assert service["User"] == "positionbot" and service["NoNewPrivileges"] == "true"
    assert _cli_args(service["ExecStart"])[:1] == ["run"]
    env_file = service["EnvironmentFile"]
    assert env_file in (DEPLOY / "positionbot.env.example").read_text()


def test_backup_timer_starts_the_backup_service_which_runs_the_backup_command() -> None:
    timer = _unit("positionbot-backup.timer")
    assert timer["Timer"]["Unit"] == "positionbot-backup.service"
    assert timer["Timer"]["Persistent"] == "true" and timer["Install"]["WantedBy"] == "timers.target"
    backup = _unit("positionbot-backup.service")["Service"]
    assert backup["Type"] == "oneshot"
    args = _cli_args(backup["ExecStart"])
    assert args[0] == "backup" and "--keep" in args


def test_env_example_names_every_secret_of_the_example_configuration() -> None:
    example = (ROOT / "config.example.toml").read_text()
    named = set(re.findall(r'^\w+_env = "([A-Z0-9_]+)"', example, flags=re.MULTILINE))
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (DEPLOY / "positionbot.env.example").read_text(),
                            flags=re.MULTILINE))
    assert named <= listed


def _instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
            for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_dockerfile_slim_base_non_root_volume_and_healthcheck() -> None:
    steps = _instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    for kind, argument in steps:
        if kind == "COPY":
            for source in argument.split()[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
    users = [argument for kind, argument in steps if kind == "USER"]
    assert users and users[-1] not in ("root", "0")
    last_user = max(i for i, (kind, _) in enumerate(steps) if kind == "USER")
    assert all(kind not in ("RUN",) for kind, _ in steps[last_user:]), "RUN after USER would run as the user"
    assert ("VOLUME", '["/data"]') in steps
    health = next(argument for kind, argument in steps if kind == "HEALTHCHECK")
    assert "/healthz" in health and "CMD" in health
    entry = json.loads(next(argument for kind, argument in steps if kind == "ENTRYPOINT"))
    command = json.loads(next(argument for kind, argument in steps if kind == "CMD"))
    assert entry == ["positionbot"]
    build_parser().parse_args(command)
    assert "constraints.txt" in next(a for k, a in steps if k == "RUN" and "pip install" in a)


def test_compose_builds_the_dockerfile_and_keeps_the_database_on_a_volume() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    service = compose["services"]["positionbot"]
    build = service["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == (DEPLOY / "Dockerfile").resolve()
    assert any(v.split(":")[1] == "/data" and v.split(":")[0] in compose["volumes"]
               for v in service["volumes"])
    assert any(v.split(":")[1] == "/config/config.toml" for v in service["volumes"])
    assert (DEPLOY / (service["env_file"] + ".example")).is_file()
    assert service["stop_signal"] == "SIGTERM"
    assert service["restart"].startswith("on-failure")


async def _exposed_metric_names(tmp_path: Path) -> set[str]:
    exchange = PaperExchange(default_markets(), marks={"BTC/USDT:USDT": Decimal("60000")})
    exchange.open_position("BTC/USDT:USDT", Side.LONG, Decimal("0.01"), Decimal("60000"))
    store = await Store.open(tmp_path / "state.db")
    try:
        tracker = SimplePositionTracker(store, {"main": PaperGateway(exchange, "main")})
        await tracker.start()
        metrics = BotMetrics(tracker, store, watchdog_after=60)
        await tracker.run_cycle("main")
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
        return {family.name + suffix for family in metrics.registry.collect()
                for suffix in suffixes.get(family.type, ("",))}
    finally:
        await store.close()


async def test_alert_rules_and_dashboard_use_only_metrics_the_bot_exposes(tmp_path: Path) -> None:
    exposed = await _exposed_metric_names(tmp_path) | {"up"}
    rules = yaml.safe_load((DEPLOY / "prometheus-alerts.yml").read_text())
    exprs = []
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert {"alert", "expr", "labels", "annotations"} <= rule.keys(), rule
            exprs.append(rule["expr"])
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    exprs += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    for expr in exprs:
        for name in re.findall(r"\b(positionbot_[a-z_]+|up)\b", expr):
            assert name in exposed, f"{name} (in {expr!r}) is not exposed by /metrics"
