"""The Glue job's library on the path, as --extra-py-files gives it on Glue (the Spark
fixtures are in tests/integration/glue/conftest.py)."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "glue"))
