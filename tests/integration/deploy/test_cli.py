"""The deploy CLI's steps that touch AWS, against stubs (`upload-glue` runs on moto in
test_rehearsal.py)."""
from __future__ import annotations

from deploy import infra
from deploy.__main__ import fix_event_sources, main


class StubLambda:
    def __init__(self, mappings):
        self.mappings, self.updates = mappings, []

    def list_event_source_mappings(self, FunctionName):
        return {"EventSourceMappings": self.mappings.get(FunctionName, [])}

    def update_event_source_mapping(self, UUID, FunctionResponseTypes):
        self.updates.append((UUID, FunctionResponseTypes))


def test_fix_event_sources_turns_on_partial_batch_responses_once(app_model):
    app = app_model("dev")
    sqs_fns = [f for f in app["functions"] if f["kind"] == "sqs"]
    mappings = {infra.deployed_function_name("hubspot-pipeline", "dev", f["name"]): [
        {"UUID": f"uuid-{f['name']}", "EventSourceArn": f"arn:aws:sqs:::{f['queue']}"}]
        for f in sqs_fns}
    done = next(iter(mappings))
    mappings[done][0]["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
    stub = StubLambda(mappings)
    changed = fix_event_sources("dev", stub)
    assert len(changed) == len(sqs_fns) - 1
    assert all(types == ["ReportBatchItemFailures"] for _, types in stub.updates)
    assert mappings[done][0]["UUID"] not in [u for u, _ in stub.updates]
    assert len(stub.updates) == len(sqs_fns) - 1


def test_templates_check_passes_on_the_committed_templates():
    assert main(["templates", "--check"]) == 0
