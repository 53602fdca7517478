"""The container files, checked without a Docker engine: docker-compose.yml against the Compose
Specification's schema (vendored in schemas/), the Dockerfile's user and healthcheck, and
.env.example against every setting the service reads."""

import json
import re
from pathlib import Path

import yaml
from jsonschema import Draft201909Validator

from tools.live import ROOT


def test_compose_file_follows_the_compose_specification():
    schema = json.loads((Path(__file__).parent / "schemas" / "compose_spec.json").read_text())
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    errors = sorted(Draft201909Validator(schema).iter_errors(compose), key=str)
    assert errors == []
    assert {"db", "redis", "migrate", "app"} <= set(compose["services"])
    app_service = compose["services"]["app"]
    assert app_service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "RATE_LIMIT_STORAGE_URI" in app_service["environment"]
    assert all("healthcheck" in compose["services"][s] for s in ("db", "redis"))


def test_container_runs_as_non_root_with_a_healthcheck():
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert "HEALTHCHECK" in dockerfile


def test_env_example_documents_every_setting():
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", example, re.MULTILINE))
    reads = r'(?:env, |env\.get\(|environ\.get\(|env\[)"([A-Z][A-Z_]+)"'
    read = set(re.findall(reads, (ROOT / "config.py").read_text()))
    read |= set(re.findall(reads, (ROOT / "gunicorn.conf.py").read_text()))
    assert len(read) > 15
    assert read - documented == set()
