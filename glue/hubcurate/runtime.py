"""The Glue runtimes this job can run on, and the local PySpark/Python that stands in for one.

From AWS's Glue release notes (https://docs.aws.amazon.com/glue/latest/dg/release-notes.html and
"AWS Glue versions", https://docs.aws.amazon.com/glue/latest/dg/glue-version-support-policy.html):
Glue 4.0 = Spark 3.3.0 / Python 3.10; 5.0 = Spark 3.5.4 / Python 3.11 / Java 17 / Iceberg 1.7.1;
5.1 = Spark 3.5.6 / Python 3.11 / Java 17 / Iceberg 1.10.0. The job is written for the Spark
3.5 line (its projections are Spark SQL text, hubcurate/sqltext.py) and Glue's native Iceberg
1.10, so it declares 5.1 (glue/job.json). Locally pyspark 3.5.9 (PyPI) is the
same 3.5 minor line: patch releases of one Spark minor keep the API, so tests on 3.5.9 hold
for 3.5.6; tests/unit/glue/test_runtime.py fails when the declared version and the local minor lines
disagree."""
GLUE_VERSIONS = {
    "4.0": {"spark": "3.3.0", "python": "3.10", "java": "8", "iceberg": "1.0.0"},
    "5.0": {"spark": "3.5.4", "python": "3.11", "java": "17", "iceberg": "1.7.1"},
    "5.1": {"spark": "3.5.6", "python": "3.11", "java": "17", "iceberg": "1.10.0"},
}


def minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def mismatches(glue_version: str, spark: str, python: str) -> list[str]:
    """What differs between a Glue version and a local Spark/Python (minor lines)."""
    want = GLUE_VERSIONS.get(glue_version)
    if want is None:
        return [f"GlueVersion {glue_version!r} is not in GLUE_VERSIONS"]
    out = []
    if minor(spark) != minor(want["spark"]):
        out.append(f"local Spark {spark} is not Glue {glue_version}'s {want['spark']} line")
    if minor(python) != want["python"]:
        out.append(f"local Python {python} is not Glue {glue_version}'s {want['python']}")
    return out
