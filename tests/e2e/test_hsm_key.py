"""The key-encryption key in a hardware security module: SoftHSM2 over PKCS#11, real processes.

An installation configured with CUSTODY_PKCS11_* seals its objects with data keys the HSM
wraps (no key file is made); a wrong PIN or another key on the token is refused at start
with a clear error. Each step runs `custody` in a process of its own, as a PKCS#11 module
is loaded once per process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import custody_process, services_required

MODULE = "/usr/lib/softhsm/libsofthsm2.so"

STORE_AND_READ = """
import hashlib, sys
from sqlalchemy import select
from custody.bootstrap import build_system
from custody.config import Settings
from custody.db.models.storage import ObjectKey
from custody.services.system import NoJobs
system = build_system(Settings(), jobs=NoJobs())
data = b"footage " * 100_000
sha = system.store.put_stream([data]).sha256
assert b"".join(system.store.read(sha, 5, 800_005)) == data[5:800_005]
with system.unit_of_work() as uow:
    print(uow.session.get(ObjectKey, sha).kek_id)
"""

MAKE_KEY = """
import sys
from custody.storage.kek import Pkcs11Config, Pkcs11Kek
Pkcs11Kek.generate(Pkcs11Config(sys.argv[1], "custody", "1234", sys.argv[2]))
"""


@pytest.fixture
def token(tmp_path: Path) -> dict[str, str]:
    if not (os.path.exists(MODULE) and shutil.which("softhsm2-util")):
        if services_required():
            pytest.fail("SoftHSM2 is required (CUSTODY_REQUIRE_SERVICES=1): run `make softhsm`")
        pytest.skip("SoftHSM2 is not installed (`make softhsm`)")
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    made = subprocess.run(
        [
            *("softhsm2-util", "--init-token", "--free", "--label", "custody"),
            *("--pin", "1234", "--so-pin", "5678"),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    for label in ("custody-kek", "another-key"):
        key = subprocess.run(
            [sys.executable, "-c", MAKE_KEY, MODULE, label], env=env, capture_output=True
        )
        assert key.returncode == 0, key.stderr
    return {
        "SOFTHSM2_CONF": str(conf),
        "CUSTODY_PKCS11_MODULE": MODULE,
        "CUSTODY_PKCS11_TOKEN": "custody",
        "CUSTODY_PKCS11_PIN": "1234",
    }


def test_an_installation_seals_with_keys_its_hsm_wraps(
    token: dict[str, str], tmp_path: Path
) -> None:
    data_dir = tmp_path / "server"
    init = custody_process(data_dir, "init", env=token)
    assert init.returncode == 0, init.stderr
    stored = subprocess.run(
        [sys.executable, "-c", STORE_AND_READ],
        env={**os.environ, **token, "CUSTODY_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert stored.returncode == 0, stored.stderr
    assert stored.stdout.strip() == "pkcs11:custody/custody-kek"
    assert not (data_dir / "keys" / "storage-kek.bin").exists()  # no key on disk
    fine = custody_process(data_dir, "store", "verify", env=token)
    assert fine.returncode == 0, fine.stderr

    wrong_pin = custody_process(
        data_dir, "store", "verify", env={**token, "CUSTODY_PKCS11_PIN": "9"}
    )
    assert wrong_pin.returncode != 0
    assert "refused the PIN" in wrong_pin.stderr + wrong_pin.stdout

    other_key = {**token, "CUSTODY_PKCS11_KEY_LABEL": "another-key"}
    refused = custody_process(data_dir, "store", "verify", env=other_key)
    assert refused.returncode != 0
    said = " ".join((refused.stderr + refused.stdout).split())
    assert "wrapped by key-encryption key pkcs11:custody/custody-kek" in said


def test_rotating_to_another_hsm_key_rewraps_every_data_key(
    token: dict[str, str], tmp_path: Path
) -> None:
    data_dir = tmp_path / "server"
    assert custody_process(data_dir, "init", env=token).returncode == 0
    env = {**os.environ, **token, "CUSTODY_DATA_DIR": str(data_dir)}
    stored = subprocess.run(
        [sys.executable, "-c", STORE_AND_READ], env=env, capture_output=True, text=True
    )
    assert stored.stdout.strip() == "pkcs11:custody/custody-kek", stored.stderr

    rotated = custody_process(
        data_dir, "store", "rotate-kek", "--to-label", "another-key", "--json", env=token
    )
    assert rotated.returncode == 0, rotated.stderr
    assert '"to_kek": "pkcs11:custody/another-key"' in rotated.stdout
    assert '"rewrapped": 1' in rotated.stdout
    said = " ".join(rotated.stderr.split())
    assert "set CUSTODY_PKCS11_KEY_LABEL to the new key's label" in said

    # Still configured with the old label: everything reads, new keys go to the new key.
    again = subprocess.run(
        [sys.executable, "-c", STORE_AND_READ], env=env, capture_output=True, text=True
    )
    assert again.stdout.strip() == "pkcs11:custody/another-key", again.stderr
    for label in ("custody-kek", "another-key"):
        checked = custody_process(
            data_dir, "store", "verify", env={**token, "CUSTODY_PKCS11_KEY_LABEL": label}
        )
        assert checked.returncode == 0, checked.stderr
