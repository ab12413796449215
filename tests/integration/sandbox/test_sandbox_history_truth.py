"""The sandbox's ground truth for property history after deletes (issue 12 §1): a full read
loses the deleted objects' history, an append-only lake keeps it."""
import requests


def test_deleted_deals_leave_the_full_read_but_not_the_appended_history(sandbox):
    hub = requests.get(f"{sandbox.url}/_sandbox/accounts", timeout=10).json()["accounts"][0]["hub_id"]
    url = f"{sandbox.url}/_sandbox/accounts/{hub}/streams"
    before = requests.get(url, timeout=30).json()
    assert before["history_with_deleted"]["deals_property_history"] \
        == before["streams"]["deals_property_history"]           # nothing deleted yet
    requests.post(f"{sandbox.url}/_sandbox/accounts/{hub}/changes",
                  json={"deals": {"deletes": 2}}, timeout=30).raise_for_status()
    after = requests.get(url, timeout=30).json()
    assert after["streams"]["deals_archived"] == before["streams"]["deals_archived"] + 2
    assert after["streams"]["deals_property_history"] < before["streams"]["deals_property_history"]
    assert after["history_with_deleted"]["deals_property_history"] \
        == before["history_with_deleted"]["deals_property_history"]
