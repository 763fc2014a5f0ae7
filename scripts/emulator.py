"""Shared by scripts/prowler-check and scripts/bench-aws: a private moto server that counts
the API requests it serves, a dapgov project on it, and Prowler runs against it.

Nothing here talks to real AWS: every client gets the emulator's endpoint and the
emulator's fixed test credentials.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from harness import CACHE, ROOT, Run, dapgov_binary, say, timed, venv  # noqa: F401 (re-exported)
from pyenv import locked

# What bench-aws prints it ran against, as the environments' locks pin them.
MOTO_PIN = f"moto=={locked('test')['moto']}"
PROWLER_PIN = f"prowler=={locked('prowler')['prowler']}"
REGION = "ca-central-1"
ACCOUNT = "123456789012"  # moto's account
# The services of the comparison: Prowler's s3, kms, iam, cloudtrail and cloudwatch checks.
PROWLER_SERVICES = ["s3", "kms", "iam", "cloudtrail", "cloudwatch"]


class Moto:
    """moto in server mode on a free loopback port. Its request log is how API calls are
    counted, for dapgov and Prowler alike."""

    def __init__(self):
        env = venv("test")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="moto-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([str(env / "bin/moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"})
        for _ in range(300):
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1)
                self.boto3_python = str(env / "bin/python")
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"moto did not answer on {self.endpoint}; its log: {self.log.name}")

    def env(self):
        """The environment every client of the emulator runs with."""
        e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        e.update(AWS_ENDPOINT_URL=self.endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                 AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION)
        return e

    def requests_served(self):
        """API requests answered so far (one werkzeug access-log line each; moto's own
        management endpoints excluded)."""
        text = Path(self.log.name).read_text(errors="replace")
        return sum(1 for line in text.splitlines()
                   if re.search(r'"[A-Z]+ \S+ HTTP/1\.[01]" \d{3}', line) and "/moto-api/" not in line)

    def reset(self):
        urllib.request.urlopen(urllib.request.Request(self.endpoint + "/moto-api/reset", method="POST"), timeout=30)

    def boto3(self, script, project):
        """Change the platform behind dapgov's back, as another client would."""
        program = (
            "import boto3\n"
            f"c = lambda s: boto3.client(s, endpoint_url={self.endpoint!r}, region_name={REGION!r}, "
            "aws_access_key_id='testing', aws_secret_access_key='testing')\n"
            f"p = {project!r}\nacct = {ACCOUNT!r}\n" + script)
        subprocess.run([self.boto3_python, "-c", program], check=True)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Project:
    """A dapgov project directory using the aws target on the emulator."""

    def __init__(self, moto, name, binary):
        self.moto, self.name, self.bin = moto, name, binary
        self.dir = Path(tempfile.mkdtemp(prefix=f"dapgov-{name}-"))
        self.run("init", "--target", "aws", "--name", name)

    def run(self, *args, ok_codes=(0,)):
        """Run dapgov on the emulator, counting the API requests it made."""
        before = self.moto.requests_served()
        r = timed([self.bin, *args], cwd=self.dir, env=self.moto.env())
        if r.code not in ok_codes:
            raise SystemExit(f"dapgov {' '.join(args)} exited {r.code}:\n{r.stdout}\n{r.stderr}")
        time.sleep(0.05)  # let the last access-log line reach the file
        r.requests = self.moto.requests_served() - before
        return r

    def audit(self, *extra):
        """dapgov's five-pillar audit (or what `extra` flags select) as its JSON report."""
        out = self.dir / "reports"
        self.run("audit", "--format", "json", "--out", str(out), *extra, ok_codes=(0, 3))
        return json.loads((out / "audit.json").read_text())

    def inventory(self):
        self.run("inventory", "--out", str(self.dir / "inventory.json"))
        return json.loads((self.dir / "inventory.json").read_text())

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def prowler(moto):
    """Run Prowler's s3, kms, iam, cloudtrail and cloudwatch checks against the emulator.
    Returns (findings as OCSF dicts, Run)."""
    env_dir = venv("prowler")
    out = Path(tempfile.mkdtemp(prefix="prowler-"))
    before = moto.requests_served()
    r = timed([str(env_dir / "bin/prowler"), "aws", "--services", *PROWLER_SERVICES, "--region", REGION,
               "--output-formats", "json-ocsf", "--output-directory", str(out), "--no-banner",
               "--ignore-exit-code-3"], env=moto.env())
    files = list(out.glob("*.ocsf.json"))
    if r.code != 0 or not files:
        raise SystemExit(f"prowler exited {r.code}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    findings = json.loads(files[0].read_text())
    shutil.rmtree(out, ignore_errors=True)
    time.sleep(0.05)
    r.requests = moto.requests_served() - before
    return findings, r


def markdown_table(path, heading):
    """Rows of the first table under `heading` in a markdown file, as lists of cells with
    backticks stripped. The docs are the single source of the lists the scripts enforce."""
    lines = Path(path).read_text().splitlines()
    try:
        i = next(n for n, l in enumerate(lines) if l.strip().lstrip("#").strip() == heading)
    except StopIteration:
        raise SystemExit(f"{path}: no section headed {heading!r}")
    rows, seen_table = [], False
    for line in lines[i + 1:]:
        if line.startswith("|"):
            seen_table = True
            cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
            if set("".join(cells)) <= set("-: "):
                continue
            rows.append(cells)
        elif seen_table or line.startswith("#"):
            break
    return rows[1:]  # without the header row
