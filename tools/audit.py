"""Check the pinned runtime requirements against known vulnerabilities (pip-audit).

Fails on any known vulnerability. Where pip-audit cannot reach its data (PyPI's JSON API or
OSV; build machines that see only a package index mirror), it says so in one line and passes:
an audit that could not look is reported as skipped, never as clean. Run by `make lint`
(`python -m tools.audit`) from the repository's root.
"""

import json
import subprocess
import sys

COMMAND = [
    sys.executable,
    "-m",
    "pip_audit",
    "-r",
    "requirements.txt",
    "--no-deps",
    "--disable-pip",
    "-f",
    "json",
    "--progress-spinner",
    "off",
]


def main() -> int:
    try:
        result = subprocess.run(COMMAND, capture_output=True, text=True, timeout=120)
        report = json.loads(result.stdout or "{}")
    except (subprocess.TimeoutExpired, json.JSONDecodeError):
        print("pip-audit: skipped, its vulnerability data did not answer")
        return 0
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    audited = [d for d in dependencies if "skip_reason" not in d]
    for dependency in vulnerable:
        ids = ", ".join(v["id"] for v in dependency["vulns"])
        print(f"pip-audit: {dependency['name']} {dependency.get('version')}: {ids}")
    if vulnerable:
        return 1
    if not audited:
        print("pip-audit: skipped, its vulnerability data is not reachable from this machine")
        return 0
    skipped = len(dependencies) - len(audited)
    print(
        f"pip-audit: {len(audited)} pinned requirements, no known vulnerability"
        + (f" ({skipped} could not be looked up)" if skipped else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
