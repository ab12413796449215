"""The Lambda package's token encryption needs no cryptography library (KMS on a moto server:
tests/integration/security/test_token_crypto.py)."""
from __future__ import annotations


def test_the_lambda_package_needs_no_cryptography():
    """Nothing the functions import pulls `cryptography` (it is not in requirements.txt; the
    package test refuses it in the zip)."""
    from pathlib import Path
    req = (Path(__file__).resolve().parents[3] / "requirements.txt").read_text().lower()
    assert "cryptography" not in [line.split("=")[0].strip() for line in req.splitlines()]
    src = Path(__file__).resolve().parents[3] / "hubspot_app" / "token_crypto.py"
    top_level = [line for line in src.read_text().splitlines() if line.startswith(("import", "from"))]
    assert not [line for line in top_level if "cryptography" in line]
