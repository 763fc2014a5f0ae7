"""Shared by the benchmark and comparison scripts: where things are, pinned tools in their
own virtualenvs, the dapgov release binary, and a command runner that measures wall time and
the command's own peak memory."""

import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pyenv import ensure

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("HOME", "/root")) / ".cache" / "dapgov"
CARGO_TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
METRICS = ROOT / "data" / "3-1-1-contact-centre-metrics.csv"


def say(*parts):
    print(*parts, file=sys.stderr, flush=True)


def venv(name):
    """The Python environment `name`, installed exactly as scripts/python/<name>.lock pins it."""
    return ensure(name)


def dapgov_binary():
    """DAPGOV_BIN, or a release build of the CLI (built here if needed)."""
    if os.environ.get("DAPGOV_BIN"):
        return os.environ["DAPGOV_BIN"]
    target = CARGO_TARGET
    say("building dapgov (release)")
    subprocess.run(["cargo", "build", "--quiet", "--release", "--locked", "-p", "dapgov-cli"], cwd=ROOT, check=True,
                   env={**os.environ, "CARGO_TARGET_DIR": str(target)})
    return str(target / "release" / "dapgov")


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float
    peak_mib: float  # the process's own peak resident set (wait4), not its parent's
    requests: int = 0  # API requests the emulator served meanwhile
    cpu_seconds: float = 0.0  # user + system time of the process and its threads


def timed(cmd, cwd=None, env=None):
    """Run a command to completion, measuring wall time and its own peak memory."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        seconds = time.perf_counter() - start
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(p.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                   seconds, usage.ru_maxrss / 1024, cpu_seconds=usage.ru_utime + usage.ru_stime)


def call_records(work, sizes, metrics=METRICS, name="calls"):
    """Call records `dapgov sample calls` generates from a metrics file, whole and cut to each
    size (rows): {rows: path}. Made once and kept in `work`."""
    work.mkdir(parents=True, exist_ok=True)
    full = work / f"{name}-all.csv"
    if not full.exists():
        say(f"generating call records from {metrics.name}")
        subprocess.run([dapgov_binary(), "sample", "calls", "--from", str(metrics), "--out", str(full)], check=True, stdout=subprocess.DEVNULL)
    with full.open() as f:
        total = sum(1 for _ in f) - 1
    files = {}
    for n in sizes:
        if n >= total:
            files[total] = full
            continue
        part = work / f"{name}-{n}.csv"
        if not part.exists():
            with full.open() as src, part.open("w") as dst:
                for i, line in enumerate(src):
                    if i > n:
                        break
                    dst.write(line)
        files[n] = part
    return files


def etl_run_on_fresh_platform(dapgov, metrics, calls, keep=None):
    """`etl run` of `calls` on a fresh local platform (init, apply and the `metrics` load
    first, untimed): the timed Run and the platform's directory, removed unless `keep` names
    it. Exits with the run's output if it fails."""
    d = keep or tempfile.mkdtemp(prefix="dapgov-run-")
    for args in (["init"], ["apply", "--auto-approve"], ["etl", "run", "--input", str(metrics), "--dataset", "metrics"]):
        subprocess.run([dapgov, *args], cwd=d, check=True, stdout=subprocess.DEVNULL)
    r = timed([dapgov, "etl", "run", "--input", str(calls), "--dataset", "calls"], cwd=d)
    if not keep:
        subprocess.run(["rm", "-rf", d], check=True)
    if r.code != 0:
        raise SystemExit(f"etl run of {calls} failed:\n{r.stdout}\n{r.stderr}")
    return r, d


def stage_cpu(stdout):
    """{stage: CPU seconds} from a run's `time` lines."""
    return {m.group(1).strip(): float(m.group(3) or 0)
            for m in re.finditer(r"^  time     (.+?)\s+([\d.]+) s(?:  CPU\s+([\d.]+) s)?$", stdout, re.M)}
