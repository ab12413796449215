"""The analysts' SQL (glue/sql, deploy/analyst_sql.py): every model and example is Trino SQL as
Athena engine v3 reads it (sqlglot's Trino parser, no function it does not know), each model's
rows match known input on DuckDB (the curated tables' Arrow types, as pyiceberg reads them), no
join crosses accounts (the sandbox gives every account the same record ids), and the README
and the template carry the same example questions."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from deploy import analyst_sql, infra
from local_stack import lake_query

ROOT = Path(__file__).resolve().parents[3]
UTC = dt.UTC
T0 = dt.datetime(2024, 1, 1, tzinfo=UTC)
DAY = dt.timedelta(days=1)
TS = pa.timestamp("us", tz="UTC")
ASSOC = pa.map_(pa.string(), pa.list_(pa.string()))
PROPS = pa.map_(pa.string(), pa.string())
STAGE = pa.struct([("stage_id", pa.string()), ("label", pa.string()),
                   ("display_order", pa.int64()), ("probability", pa.float64()),
                   ("is_closed", pa.bool_())])
COMMON = [("hub_id", pa.string()), ("id", pa.string()), ("created_at", TS),
          ("updated_at", TS), ("is_deleted", pa.bool_())]
SCHEMAS = {
    "deals": COMMON + [("dealname", pa.string()), ("amount", pa.float64()), ("closedate", TS),
                       ("createdate", TS), ("dealstage", pa.string()), ("pipeline", pa.string()),
                       ("dealtype", pa.string()), ("hubspot_owner_id", pa.string()),
                       ("hs_is_closed_won", pa.bool_()),
                       ("hs_deal_stage_probability", pa.float64()), ("associations", ASSOC),
                       ("pipeline_label", pa.string()), ("dealstage_label", pa.string()),
                       ("dealstage_probability", pa.float64()),
                       ("dealstage_is_closed", pa.bool_()), ("owner_name", pa.string()),
                       ("owner_email", pa.string())],
    "contacts": COMMON + [("email", pa.string()), ("firstname", pa.string()),
                          ("lastname", pa.string()), ("associations", ASSOC)],
    "companies": COMMON + [("name", pa.string()), ("associations", ASSOC)],
    "deal_pipelines": COMMON + [("label", pa.string()), ("stages", pa.list_(STAGE))],
    **{t: COMMON + [("record_json", pa.string())]
       for t in ("deals_property_history", "email_events", "campaigns")},
    **{f"engagements_{k}": COMMON + [("custom_properties", PROPS), ("associations", ASSOC)]
       for k in ("calls", "emails", "meetings", "notes", "tasks")},
    # the job's own table from our reader's snapshots (glue/hubcurate/association_labels.py)
    "association_labels": [(n, pa.string()) for n in (
        "hub_id", "from_object_type", "from_id", "to_object_type", "to_id", "category")]
    + [("type_id", pa.int32()), ("label", pa.string()), ("snapshot_id", pa.string()),
       ("curated_at", pa.timestamp("us"))],
}


def _table(name: str, rows: list[dict]) -> pa.Table:
    schema = pa.schema(SCHEMAS[name])
    if name == "association_labels":
        return pa.Table.from_pylist(rows, schema=schema)
    full = [{"created_at": T0, "updated_at": T0, "is_deleted": False,
             **({"associations": []} if "associations" in schema.names else {}), **r}
            for r in rows]
    return pa.Table.from_pylist(full, schema=schema)


def _lake(**tables: list[dict]) -> dict[str, pa.Table]:
    """Every table a model reads, empty unless given."""
    return {name: _table(name, tables.get(name, [])) for name in SCHEMAS}


def _rows(tables: dict, sql: str) -> list[dict]:
    # through Arrow, as ./dev query reads results (DuckDB's own timestamptz conversion needs pytz)
    return lake_query.connect(tables).sql(sql).to_arrow_table().to_pylist()


# -- the SQL as Athena (Trino) reads it -------------------------------------------------------
def _parsed(sql: str) -> exp.Expression:
    tree = sqlglot.parse_one(sql, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
    unknown = sorted({f.name for f in tree.find_all(exp.Anonymous)})
    assert not unknown, f"functions Trino's dialect does not know: {unknown}"
    return tree


def _tables_read(tree: exp.Expression) -> set[str]:
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    return {t.name for t in tree.find_all(exp.Table) if t.name and t.name not in ctes}


def test_every_model_and_example_is_trino_sql_reading_what_it_declares():
    models = analyst_sql.models()
    examples = analyst_sql.examples()
    assert len(examples) == 5 and len(models) >= 9
    from hubcurate import association_labels, catalog  # the connector's streams, and ours
    known = {catalog.table_of(s) for s in catalog.KNOWN_STREAMS} | {association_labels.TABLE}
    made = set()
    for m in models:
        assert m.grain.startswith("one row per"), m.name
        assert _tables_read(_parsed(m.sql)) == set(m.reads), m.name
        assert set(m.reads) <= known | made, f"{m.name} reads a model made after it"
        view = _parsed(m.create_view())
        assert isinstance(view, exp.Create) and view.args.get("replace"), m.name
        made.add(m.name)
    for e in examples:
        assert _tables_read(_parsed(e.sql)) == set(e.reads) <= made, e.name


def test_a_model_file_without_its_grain_is_refused(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "x.sql").write_text("-- about x\n-- reads: deals\nSELECT 1\n")
    monkeypatch.setattr(analyst_sql, "SQL_ROOT", tmp_path)
    with pytest.raises(ValueError, match="grain"):
        analyst_sql.models()


# -- each model against known input -----------------------------------------------------------
def _deal(hub, id_, **kw):
    return {"hub_id": hub, "id": id_, "dealname": f"deal {hub}/{id_}", "amount": 100.0,
            "pipeline": "default", "dealstage": "open", "createdate": T0, **kw}


def test_deals_enriched_labels_closed_and_won_per_account():
    rows = _rows(_lake(deals=[
        _deal("1", "7", pipeline_label="Sales", dealstage="won", dealstage_label="Won",
              dealstage_probability=1.0, dealstage_is_closed=True, owner_name="Ada"),
        _deal("2", "7", pipeline_label="Renewals", dealstage_label="Open",
              dealstage_probability=0.4, dealstage_is_closed=False),
        _deal("2", "8", dealstage="lost", dealstage_probability=0.0, dealstage_is_closed=True),
        _deal("2", "9", hs_is_closed_won=True),               # HubSpot's own flag wins
        _deal("2", "10", is_deleted=True)]),
        "SELECT hub_id, deal_id, pipeline_label, stage_label, owner_name, is_closed, is_won, "
        "weighted_amount FROM deals_enriched ORDER BY hub_id, deal_id")
    assert [(r["hub_id"], r["deal_id"], r["pipeline_label"], r["is_closed"], r["is_won"],
             r["weighted_amount"]) for r in rows] == [
        ("1", "7", "Sales", True, True, 100.0), ("2", "7", "Renewals", False, False, 40.0),
        ("2", "8", None, True, False, 0.0), ("2", "9", None, False, True, None)]
    assert rows[0]["owner_name"] == "Ada" and rows[0]["stage_label"] == "Won"


def _history(hub, deal, prop, value, at):
    at = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")  # as the job's to_json writes a timestamp
    return {"hub_id": hub, "id": f"{hub}-{deal}-{prop}-{at}", "record_json":
            f'{{"timestamp":"{at}","property":"{prop}","dealId":"{deal}","value":"{value}"}}'}


def _pipeline(hub, label, stages):
    return {"hub_id": hub, "id": "default", "label": label,
            "stages": [{"stage_id": s, "label": s.title(), "display_order": k,
                        "probability": None, "is_closed": None} for k, s in enumerate(stages)]}


def test_deal_stage_history_enters_exits_and_durations_per_account():
    tables = _lake(
        deals=[_deal("1", "7"), _deal("2", "7"), _deal("1", "8", is_deleted=True)],
        deal_pipelines=[_pipeline("1", "Sales", ["appointment", "qualified", "closedwon"]),
                        _pipeline("2", "Other", ["appointment", "closedwon"])],
        deals_property_history=[
            _history("1", "7", "dealstage", "appointment", T0),
            _history("1", "7", "amount", "500", T0 + DAY),           # not a stage change
            _history("1", "7", "dealstage", "qualified", T0 + 2 * DAY),
            _history("1", "7", "dealstage", "qualified", T0 + 3 * DAY),  # set again: same visit
            _history("1", "7", "dealstage", "closedwon", T0 + 5 * DAY + dt.timedelta(hours=12)),
            _history("2", "7", "dealstage", "closedwon", T0 + DAY),  # same deal id, account 2
            _history("1", "8", "dealstage", "closedwon", T0)])       # a deleted deal
    rows = _rows(tables, "SELECT * FROM deal_stage_history ORDER BY hub_id, entered_at")
    got = [(r["hub_id"], r["deal_id"], r["stage_id"], r["stage_label"], r["pipeline_label"],
            r["previous_stage_id"], r["entered_at"], r["exited_at"], r["days_in_stage"],
            r["is_current_stage"]) for r in rows]
    naive = T0.replace(tzinfo=None)
    assert got == [
        ("1", "7", "appointment", "Appointment", "Sales", None, naive, naive + 2 * DAY, 2.0, False),
        ("1", "7", "qualified", "Qualified", "Sales", "appointment", naive + 2 * DAY,
         naive + 5.5 * DAY, 3.5, False),
        ("1", "7", "closedwon", "Closedwon", "Sales", "qualified", naive + 5.5 * DAY, None, None,
         True),
        ("2", "7", "closedwon", "Closedwon", "Other", None, naive + DAY, None, None, True)]


def test_association_bridges_never_cross_accounts():
    tables = _lake(
        contacts=[{"hub_id": "1", "id": "101", "email": "a@one", "firstname": "A",
                   "associations": [("companies", ["900"])]},
                  {"hub_id": "2", "id": "101", "email": "a@two", "firstname": "B",
                   "associations": [("companies", ["901", "900"])]},
                  {"hub_id": "1", "id": "102", "email": "gone@one", "is_deleted": True,
                   "associations": [("companies", ["900"])]},
                  {"hub_id": "1", "id": "103", "email": "c@one"}],
        companies=[{"hub_id": "1", "id": "900", "name": "One Inc",
                    "associations": [("contacts", ["101", "103"])]},
                   {"hub_id": "1", "id": "903", "name": "Listed by a contact only"},
                   {"hub_id": "2", "id": "901", "name": "Two Ltd"}],
        deals=[_deal("1", "7", associations=[("contacts", ["101"]), ("companies", ["900"])]),
               _deal("2", "7", associations=[("contacts", ["101"]), ("companies", ["900"])])])
    pairs = _rows(tables, "SELECT hub_id, contact_id, company_id, association_type, "
                          "company_name FROM contact_company_associations ORDER BY 1, 2, 3")
    # account 2's contact 101 lists company 900, which only account 1 has: no row; pairs
    # listed from both sides once; the deleted contact's pair is gone
    assert [tuple(p.values()) for p in pairs] == [
        ("1", "101", "900", "contact_to_company", "One Inc"),
        ("1", "103", "900", "contact_to_company", "One Inc"),
        ("2", "101", "901", "contact_to_company", "Two Ltd")]
    deal_contacts = _rows(tables, "SELECT hub_id, deal_id, contact_id, contact_email "
                                  "FROM deal_contact_associations ORDER BY 1")
    assert [tuple(r.values()) for r in deal_contacts] == [("1", "7", "101", "a@one"),
                                                          ("2", "7", "101", "a@two")]
    deal_companies = _rows(tables, "SELECT hub_id, deal_id, company_id FROM "
                                   "deal_company_associations")
    assert [tuple(r.values()) for r in deal_companies] == [("1", "7", "900")]


def _label(hub, f, fid, t, tid, type_id, label=None):
    return {"hub_id": hub, "from_object_type": f, "from_id": fid, "to_object_type": t,
            "to_id": tid, "category": "USER_DEFINED" if label else "HUBSPOT_DEFINED",
            "type_id": type_id, "label": label, "snapshot_id": "s", "curated_at": None}


def test_bridges_carry_labels_type_ids_and_primary_per_pair_of_their_account():
    tables = _lake(
        contacts=[{"hub_id": h, "id": "101", "email": f"a@{h}",
                   "associations": [("companies", ["900", "901"])]} for h in ("1", "2")],
        companies=[{"hub_id": h, "id": c, "name": f"Co {c}"} for h in ("1", "2")
                   for c in ("900", "901")],
        deals=[_deal("1", "7", associations=[("contacts", ["101"]), ("companies", ["900"])])],
        engagements_calls=[_activity("1", "11", None, contacts=["101"], companies=["900"])],
        association_labels=[
            _label("1", "contacts", "101", "companies", "900", 279),
            _label("1", "contacts", "101", "companies", "900", 1),      # HubSpot's primary
            _label("1", "contacts", "101", "companies", "900", 9, "Decision maker"),
            _label("1", "contacts", "101", "companies", "900", 8, "Billing"),
            _label("2", "contacts", "101", "companies", "901", 8, "Billing"),  # account 2's
            _label("1", "deals", "7", "contacts", "101", 3),
            _label("1", "deals", "7", "contacts", "101", 4, "Champion"),
            _label("1", "deals", "7", "companies", "900", 5),
            _label("1", "calls", "11", "contacts", "101", 194, "Attendee"),
            _label("1", "notes", "11", "contacts", "101", 202, "Not the call")])
    got = _rows(tables, "SELECT hub_id, contact_id, company_id, labels, association_type_ids, "
                        "is_primary FROM contact_company_associations ORDER BY 1, 2, 3")
    # one row per pair, as before; a pair no snapshot has: empty arrays, is_primary unknown
    assert [tuple(r.values()) for r in got] == [
        ("1", "101", "900", ["Billing", "Decision maker"], [1, 8, 9, 279], True),
        ("1", "101", "901", [], [], None),
        ("2", "101", "900", [], [], None),
        ("2", "101", "901", ["Billing"], [8], False)]
    [dc] = _rows(tables, "SELECT labels, association_type_ids FROM deal_contact_associations")
    assert dc == {"labels": ["Champion"], "association_type_ids": [3, 4]}
    [dco] = _rows(tables, "SELECT labels, is_primary FROM deal_company_associations")
    assert dco == {"labels": [], "is_primary": True}
    links = _rows(tables, "SELECT object_type, labels, association_type_ids "
                          "FROM engagement_associations ORDER BY 1")
    assert [tuple(r.values()) for r in links] == [("company", [], []),
                                                 ("contact", ["Attendee"], [194])]


def _activity(hub, id_, when=None, deleted=False, **assoc):
    props = [("hs_timestamp", when)] if when else []
    return {"hub_id": hub, "id": id_, "custom_properties": props, "is_deleted": deleted,
            "associations": list(assoc.items())}


def test_engagement_links_and_rollups_per_contact_and_company():
    tables = _lake(
        contacts=[{"hub_id": "1", "id": "101", "email": "a@one"},
                  {"hub_id": "1", "id": "102", "email": "quiet@one"},
                  {"hub_id": "2", "id": "101", "email": "a@two"}],
        companies=[{"hub_id": "1", "id": "900", "name": "One Inc"}],
        engagements_calls=[_activity("1", "11", "2024-02-01 10:00:00.000", contacts=["101"],
                                     companies=["900"], deals=["7"]),
                           _activity("2", "11", "2024-03-01 10:00:00.000", contacts=["101"])],
        engagements_meetings=[_activity("1", "12", "2024-02-05 09:30:00.000", contacts=["101"])],
        engagements_notes=[_activity("1", "13", None, contacts=["101"]),       # created_at
                           _activity("1", "14", "2024-02-09 00:00:00.000", deleted=True,
                                     contacts=["101"])])
    links = _rows(tables, "SELECT hub_id, engagement_id, engagement_type, object_type, "
                          "object_id FROM engagement_associations ORDER BY 1, 2, 4")
    assert [tuple(r.values()) for r in links] == [
        ("1", "11", "CALL", "company", "900"), ("1", "11", "CALL", "contact", "101"),
        ("1", "11", "CALL", "deal", "7"), ("1", "12", "MEETING", "contact", "101"),
        ("1", "13", "NOTE", "contact", "101"), ("2", "11", "CALL", "contact", "101")]
    per_contact = _rows(tables, "SELECT * FROM contact_engagement_summary ORDER BY 1, 2")
    got = [(r["hub_id"], r["contact_id"], r["engagements"], r["calls"], r["meetings"],
            r["notes"], r["first_engaged_at"], r["last_engaged_at"]) for r in per_contact]
    naive = T0.replace(tzinfo=None)
    assert got == [
        ("1", "101", 3, 1, 1, 1, naive, dt.datetime(2024, 2, 5, 9, 30)),
        ("1", "102", 0, 0, 0, 0, None, None),
        ("2", "101", 1, 1, 0, 0, dt.datetime(2024, 3, 1, 10), dt.datetime(2024, 3, 1, 10))]
    [company] = _rows(tables, "SELECT * FROM company_engagement_summary")
    assert (company["company_name"], company["engagements"], company["calls"]) == \
        ("One Inc", 1, 1)


def _event(hub, campaign, type_, recipient, k):
    return {"hub_id": hub, "id": f"{hub}-{k}", "created_at": T0 + k * DAY, "record_json":
            f'{{"emailCampaignId":{campaign},"type":"{type_}","recipient":"{recipient}"}}'}


def test_email_campaign_performance_counts_events_per_campaign_and_account():
    events = [("SENT", "r1"), ("DELIVERED", "r1"), ("OPEN", "r1"), ("OPEN", "r1"),
              ("SENT", "r2"), ("DELIVERED", "r2"), ("CLICK", "r2"), ("BOUNCE", "r3")]
    tables = _lake(
        email_events=[_event("1", 5, t, r, k) for k, (t, r) in enumerate(events)]
        + [_event("2", 5, "OPEN", "r9", 0)],
        campaigns=[{"hub_id": "1", "id": "5",
                    "record_json": '{"id":5,"name":"Spring","subject":"Hello"}'},
                   {"hub_id": "2", "id": "5", "record_json": '{"id":5,"name":"Other"}'}])
    rows = _rows(tables, "SELECT * FROM email_campaign_performance ORDER BY hub_id")
    got = [(r["hub_id"], r["campaign_id"], r["campaign_name"], r["events"], r["sent"],
            r["delivered"], r["opens"], r["clicks"], r["bounces"], r["recipients"],
            r["unique_opens"], r["unique_clicks"]) for r in rows]
    assert got == [("1", "5", "Spring", 8, 2, 2, 2, 1, 1, 3, 1, 1),
                   ("2", "5", "Other", 1, 0, 0, 1, 0, 0, 1, 1, 0)]
    assert rows[0]["first_event_at"] == T0 and rows[0]["last_event_at"] == T0 + 7 * DAY


def test_every_example_runs_on_the_models():
    tables = _lake(deals=[_deal("1", "7", pipeline_label="Sales", dealstage_label="Won",
                                dealstage_probability=1.0, dealstage_is_closed=True,
                                closedate=T0, owner_name="Ada")])
    for e in analyst_sql.examples():
        con = lake_query.connect(tables)
        assert con.sql(analyst_sql.to_duckdb(e.sql)).columns, e.name
    [won] = _rows(tables, analyst_sql.to_duckdb(
        next(e for e in analyst_sql.examples() if "won" in e.name).sql))
    assert tuple(won.values()) == ("1", dt.date(2024, 1, 1), "Ada", 1, 100.0)


# -- one place: the README and the template carry the same questions --------------------------
def test_the_readme_lists_the_five_questions_with_their_sql():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## For analysts"):]
    section = section[:section.index("\n## ", 3)]
    for e in analyst_sql.examples():
        assert e.question in " ".join(section.split()), e.name
        assert f"```sql\n{e.sql}\n```" in section, f"{e.name}: README's SQL differs"
    assert len(re.findall(r"```sql\n", section)) == len(analyst_sql.examples())
    for m in analyst_sql.models():
        assert f"`{m.name}`" in section, m.name


@pytest.mark.parametrize("stage", infra.STAGES)
def test_the_template_holds_every_model_and_example_as_a_named_query(stage):
    import json
    template = json.loads(infra.merge_template_path(stage).read_text())
    named = {r["Properties"]["Name"]: r["Properties"] for r in template["Resources"].values()
             if r.get("Type") == "AWS::Athena::NamedQuery"}
    env = infra.stage_env(stage)
    want = {f"model {m.name}": m.create_view() for m in analyst_sql.models()}
    want.update({f"example {e.name}": e.sql for e in analyst_sql.examples()})
    assert {k: v["QueryString"] for k, v in named.items()} == want
    assert {v["Database"] for v in named.values()} == {env["GLUE_DATABASE"]}
    assert all(v["WorkGroup"] == {"Ref": "AthenaWorkGroup"} for v in named.values())
    assert all(len(v["Description"]) <= 1024 and len(v["Name"]) <= 128 for v in named.values())


class _Athena:
    """Athena's StartQueryExecution/GetQueryExecution as the views need them (moto 5.2.5 answers
    this botocore's Athena calls with "Not yet implemented"): each query runs once, then ends
    SUCCEEDED, or FAILED when it names ``fail``."""

    def __init__(self, fail: str):
        self.fail, self.runs, self.polls = fail, [], 0

    def start_query_execution(self, QueryString, WorkGroup, QueryExecutionContext):
        self.runs.append((QueryString, WorkGroup, QueryExecutionContext["Database"]))
        return {"QueryExecutionId": str(len(self.runs) - 1)}

    def get_query_execution(self, QueryExecutionId):
        self.polls += 1
        sql = self.runs[int(QueryExecutionId)][0]
        state = "RUNNING" if self.polls % 2 else \
            "FAILED" if self.fail in sql else "SUCCEEDED"
        return {"QueryExecution": {"Status": {"State": state, **(
            {"StateChangeReason": "COLUMN_NOT_FOUND"} if state == "FAILED" else {})}}}


def test_athena_views_are_created_in_model_order_once_their_tables_exist(monkeypatch):
    """`python -m deploy athena-views`: each model's CREATE OR REPLACE VIEW in the stage's
    workgroup and database, in model order; a model over a table the Glue database (moto) does
    not hold yet is skipped and named, as is a model over one whose view failed."""
    import boto3
    from moto import mock_aws
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    models = analyst_sql.models()
    with mock_aws():
        glue = boto3.client("glue")
        glue.create_database(DatabaseInput={"Name": "db"})
        tables = {t for m in models for t in m.reads} - {m.name for m in models}
        for t in tables - {"email_events"}:
            glue.create_table(DatabaseName="db", TableInput={"Name": t})
        athena = _Athena(fail="VIEW engagement_associations")
        done = dict(analyst_sql.create_views("db", "wg", athena, glue, poll_seconds=0))
    assert done.pop("email_campaign_performance") == "skipped: no email_events yet"
    assert done.pop("engagement_associations") == "FAILED: COLUMN_NOT_FOUND"
    for rollup in ("contact_engagement_summary", "company_engagement_summary"):
        assert done.pop(rollup) == "skipped: no engagement_associations yet"
    assert set(done.values()) == {"created"}
    assert [r[0] for r in athena.runs] == [m.create_view() for m in models
                                           if m.name in done or m.name == "engagement_associations"]
    assert {(r[1], r[2]) for r in athena.runs} == {("wg", "db")}


def test_the_main_job_step_skips_questions_over_tables_no_account_synced(monkeypatch, capsys):
    """`./dev main --streams ...` curates some streams only: a question over a table no account
    synced is skipped, not failed; one that fails fails the step (the job exits 1)."""
    from local_stack import analyst_step
    monkeypatch.setattr(lake_query, "table_names",
                        lambda root: ["deals", "deals_property_history", "deal_pipelines"])
    asked = []
    monkeypatch.setattr(lake_query, "query", lambda sql, root, dialect: (
        asked.append((sql, dialect)) or (["n"], [(k,) for k in range(12)])))
    assert analyst_step.answer_examples("file:///lake/") is True
    out = capsys.readouterr().out
    assert out.count("skipped: no ") == 2
    assert "skipped: no campaigns, email_events table" in out
    assert [a[0] for a in asked] == [e.sql for e in analyst_sql.examples()[:3]]
    assert {a[1] for a in asked} == {"trino"}
    assert "(the first 8 of 12 rows)" in out

    def fails(sql, root, dialect):
        raise lake_query.LakeError("Binder Error: no such column")
    monkeypatch.setattr(lake_query, "query", fails)
    assert analyst_step.answer_examples("file:///lake/") is False
    assert "FAILED: Binder Error: no such column" in capsys.readouterr().out
