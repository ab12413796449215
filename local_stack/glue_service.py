"""AWS Glue's API for the local stack, over HTTP: what the Glue trigger calls, nothing more.

boto3's Glue client reaches it through `AWS_ENDPOINT_URL_GLUE`, so the trigger runs unchanged
code (moto's Glue records runs but never runs a script). It speaks Glue's JSON 1.1 protocol
(`X-Amz-Target: AWSGlue.<Operation>`) for StartJobRun, GetJobRun and GetJobRuns, and hands the
runs to `LocalGlue`, which runs glue/curate_job.py on local PySpark.
"""
from __future__ import annotations

import json

from botocore.exceptions import ClientError
from werkzeug.wrappers import Request, Response

from .glue_runner import LocalGlue
from .http import BackgroundServer


class GlueService:
    def __init__(self, runner: LocalGlue, host: str = "127.0.0.1", port: int = 0):
        self.runner, self._host, self._port = runner, host, port
        self._server = None

    @property
    def url(self) -> str:
        return self._server.url

    def _answer(self, request: Request) -> Response:
        operation = request.headers.get("X-Amz-Target", "").removeprefix("AWSGlue.")
        body = json.loads(request.get_data() or b"{}")
        try:
            if operation == "StartJobRun":
                result = self.runner.start_job_run(JobName=body["JobName"],
                                                   Arguments=body.get("Arguments") or {})
            elif operation == "GetJobRun":
                result = self.runner.get_job_run(JobName=body["JobName"], RunId=body["RunId"])
            elif operation == "GetJobRuns":
                result = {"JobRuns": [self.runner.get_job_run(JobName=body["JobName"], RunId=r)["JobRun"]
                                      for r in list(self.runner.runs)]}
            else:
                return self._error(400, "InvalidInputException",
                                   f"{operation or 'no operation'} is not served by the local Glue")
        except ClientError as exc:
            error = exc.response["Error"]
            return self._error(400, error["Code"], error.get("Message", ""))
        except KeyError as exc:
            return self._error(400, "EntityNotFoundException", f"not found: {exc}")
        return Response(json.dumps(result, default=str), 200,
                        content_type="application/x-amz-json-1.1")

    @staticmethod
    def _error(status: int, code: str, message: str) -> Response:
        return Response(json.dumps({"__type": code, "Message": message}), status,
                        content_type="application/x-amz-json-1.1")

    def start(self) -> GlueService:
        self._server = BackgroundServer(Request.application(self._answer), self._host,
                                        self._port, "local-glue")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
