"""The `late_create` fault (issue 15): the create happens, its answer is lost (dropped
connection, an answer after the client's timeout, or a gateway 5xx), and lists show the new
resource only later (or once revealed)."""
import pytest
import requests

from .conftest import HUBSPOT_CONFIG, raw


def _fault(emu, **spec):
    res = requests.post(f"{emu.url}/_emulator/faults", json=spec, timeout=10)
    assert res.status_code == 200, res.text
    return res.json()


def _create(emu, name, timeout=10):
    return requests.post(f"{emu.api_url}/sources", timeout=timeout,
                         headers={"Authorization": f"Bearer {emu.api_token}"},
                         json={"name": name, "workspaceId": emu.default_workspace_id,
                               "configuration": HUBSPOT_CONFIG})


def _listed(emu):
    return [s["name"] for s in raw(emu, "GET", "/sources").json()["data"]]


def _stored(emu, name):
    with emu.store.lock:
        return [r for r in emu.store.sources.values() if r["name"] == name and not r["deleted"]]


@pytest.mark.parametrize("answer", ["drop", "timeout", "5xx"])
def test_create_happens_answer_is_lost_and_list_lags_until_revealed(emu, answer):
    name = f"late-{answer}"
    _fault(emu, mode="late_create", path_prefix="/v1/sources", answer=answer,
           visible_after_s=3600, delay_s=1.5)
    if answer == "drop":
        with pytest.raises(requests.ConnectionError):
            _create(emu, name)
    elif answer == "timeout":
        with pytest.raises(requests.ReadTimeout):
            _create(emu, name, timeout=0.5)
    else:
        res = _create(emu, name)
        assert res.status_code == 502 and res.json()["title"] == "bad-gateway"
    [rec] = _stored(emu, name)              # it was created ...
    assert name not in _listed(emu)          # ... but lists do not show it yet
    assert raw(emu, "GET", f"/sources/{rec['sourceId']}").status_code == 200  # GET by id does
    assert emu.state()["totals"]["sources"] == 1   # admin counts see it
    res = requests.post(f"{emu.url}/_emulator/late_creates/reveal", timeout=10)
    assert res.json() == {"revealed": 1}
    assert _listed(emu) == [name]
    # One-shot: the next create answers normally and is listed at once.
    assert _create(emu, name + "-next").status_code == 200
    assert _listed(emu) == [name, name + "-next"]


def test_late_create_rejects_unknown_answer(emu):
    res = requests.post(f"{emu.url}/_emulator/faults", timeout=10,
                        json={"mode": "late_create", "answer": "shrug"})
    assert res.status_code == 400
