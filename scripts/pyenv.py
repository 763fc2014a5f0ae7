#!/usr/bin/env python3
"""The Python environments the tests and scripts run tools from, each held to a lock file.

`scripts/python/<name>.lock` pins every package of environment <name>, dependencies
included. An environment is used only while what is installed in it is exactly its lock
(same packages, same versions, nothing more); otherwise it is built again in a new
directory (named by the lock's digest) and checked, so a half-built or drifted environment is
never reused.

Usage:
  scripts/pyenv.py NAME           make sure the environment matches its lock; print its path
  scripts/pyenv.py --check NAME   exit 1, listing the differences, unless it matches already
  scripts/pyenv.py --self-test    check the comparison that decides a rebuild

Where: $DAPGOV_<NAME>_VENV when set (the test environment also answers to
$DAPGOV_MOTO_VENV), else ~/.cache/dapgov/python-<name>-<digest of the lock>.
Needs python3 with the venv module and pip (Debian: python3-venv).
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

LOCKS = Path(__file__).resolve().parent / "python"
CACHE = Path(os.environ.get("HOME", "/root")) / ".cache" / "dapgov"
# Names the environments had before they were locked, still honoured.
LEGACY_VARIABLES = {"test": "DAPGOV_MOTO_VENV"}


def say(*parts):
    print(*parts, file=sys.stderr, flush=True)


def lock_path(name):
    path = LOCKS / f"{name}.lock"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in LOCKS.glob("*.lock")))
        raise SystemExit(f"error: no lock file {path} (environments: {known})")
    return path


def canonical(package):
    """PEP 503 name without extras: `moto[server]` and `Moto` are the same package."""
    return re.sub(r"[-_.]+", "-", package.split("[", 1)[0]).lower()


def pins(text):
    """{package: version} of requirement lines `name==version` (comments and blanks skipped)."""
    found = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep or not version.strip():
            raise SystemExit(f"error: line {number} of a lock file is not `name==version`: {line!r}")
        found[canonical(name.strip())] = version.strip()
    return found


def locked(name):
    """{package: version} the lock of environment `name` pins."""
    return pins(lock_path(name).read_text())


def location(name):
    """Where the environment lives: named by its lock's digest, so a changed lock gets a new
    directory rather than an upgrade of the old one."""
    for variable in (f"DAPGOV_{name.upper()}_VENV", LEGACY_VARIABLES.get(name)):
        if variable and os.environ.get(variable):
            return Path(os.environ[variable])
    digest = hashlib.sha256(lock_path(name).read_bytes()).hexdigest()[:12]
    return CACHE / f"python-{name}-{digest}"


def installed(path):
    """{package: version} installed in the environment, or None when it has no working pip."""
    pip = path / "bin" / "pip"
    if not pip.exists():
        return None
    out = subprocess.run([str(pip), "freeze", "--all", "--disable-pip-version-check"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return None
    # The installers the venv module puts in are not the environment's packages.
    return {k: v for k, v in pins(out.stdout).items() if k not in {"pip", "setuptools", "wheel"}}


def differences(want, have):
    if have is None:
        return ["no environment (or no working pip in it)"]
    lines = []
    for package in sorted(want.keys() | have.keys()):
        w, h = want.get(package), have.get(package)
        if w != h:
            lines.append(f"{package}: locked {w or '(not locked)'}, installed {h or '(missing)'}")
    return lines


def build(name, path, lock):
    """Build the environment in `path` from nothing, and check it matches the lock."""
    shutil.rmtree(path, ignore_errors=True)
    say(f"building the {name} Python environment from scripts/python/{lock.name} in {path}")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        pip = [str(path / "bin" / "pip"), "--disable-pip-version-check"]
        subprocess.run([*pip, "install", "--quiet", "--no-deps", "-r", str(lock)], check=True)
        subprocess.run([*pip, "check"], check=True, stdout=subprocess.DEVNULL)
    except (subprocess.CalledProcessError, OSError) as e:
        raise SystemExit(f"error: could not build the {name} environment ({e}); it needs python3 with "
                         "the venv module and pip (Debian: apt-get install python3-venv) and the "
                         "Python package index")
    left = differences(locked(name), installed(path))
    if left:
        raise SystemExit("error: the new environment does not match its lock:\n  " + "\n  ".join(left))
    # Environments built from earlier versions of the lock are not used again.
    for stale in path.parent.glob(f"python-{name}-*"):
        if stale != path:
            shutil.rmtree(stale, ignore_errors=True)


def ensure(name):
    """The environment's path, built (again) first unless it matches its lock exactly."""
    lock = lock_path(name)
    path = location(name)
    left = differences(locked(name), installed(path))
    if left:
        if installed(path) is not None:
            say(f"the {name} environment at {path} differs from its lock:\n  " + "\n  ".join(left))
        build(name, path, lock)
    return path


def self_test():
    """The comparison that decides a rebuild, on the case it exists for."""
    lock = pins("moto[server]==5.1.22\nboto3==1.40.61\nbotocore==1.40.61  # pinned\n")
    assert lock == {"moto": "5.1.22", "boto3": "1.40.61", "botocore": "1.40.61"}, lock
    assert differences(lock, dict(lock)) == []
    drifted = {**lock, "botocore": "1.44.18"}
    assert differences(lock, drifted) == ["botocore: locked 1.40.61, installed 1.44.18"]
    extra = {**lock, **pins("Flask_Cors==6.0.5")}
    assert differences(lock, extra) == ["flask-cors: locked (not locked), installed 6.0.5"]
    assert differences(lock, None) == ["no environment (or no working pip in it)"]
    return 0


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    check = "--check" in argv
    names = [a for a in argv if a != "--check"]
    if len(names) != 1:
        raise SystemExit(__doc__)
    name = names[0]
    if check:
        left = differences(locked(name), installed(location(name)))
        if left:
            say(f"the {name} environment at {location(name)} differs from its lock:\n  " + "\n  ".join(left))
            return 1
        print(location(name))
        return 0
    print(ensure(name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
