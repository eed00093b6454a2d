"""The Spark tests run with `make test-spark` (SUBWH_TEST_SPARK=1), which installs pyspark and dbt-spark
(requirements-spark.lock) first; `make test` leaves them out, so it needs neither Java nor Spark."""

import os
import shutil

import pytest

if os.environ.get("SUBWH_TEST_SPARK") != "1":
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session", autouse=True)
def java_is_installed():
    if shutil.which("java") is None:
        pytest.fail("java not found: Spark needs Java 17 or later (Debian: apt-get install openjdk-17-jre-headless)",
                    pytrace=False)
