"""The deployment files agree with the code: settings that exist, the port served, a non-root image with a check."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_every_variable_the_compose_file_sets_is_a_setting_of_the_bot() -> None:
    environment = _compose()["services"]["bot"]["environment"]
    assert set(environment) <= {name.upper() for name in Settings.model_fields}
    assert environment["DATABASE_URL"].startswith("postgresql+psycopg://")


def test_the_bot_waits_for_a_healthy_database_and_runs_as_two_replicas_behind_the_balancer() -> None:
    services = _compose()["services"]
    assert services["bot"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["bot"]["deploy"]["replicas"] == 2
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    port = services["bot"]["environment"]["PORT"]
    assert re.search(rf"server bot:{port};", nginx) and "proxy_pass http://triage_bot;" in nginx


def test_the_image_is_multi_stage_non_root_and_checks_its_health() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, flags=re.M)) == 2
    assert re.search(r"^USER (?!root)\w+", dockerfile, flags=re.M)
    assert re.search(r"^HEALTHCHECK .*", dockerfile, flags=re.M) and "/healthz" in dockerfile
    assert 'CMD ["triage-bot", "run"]' in dockerfile
