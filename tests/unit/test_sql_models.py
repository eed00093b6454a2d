"""The dbt project (sql/): materializations, descriptions in the catalog, schemas as named, and warehouses
built by an older version."""

from datetime import date
from decimal import Decimal

from tests.support.dbt import ALL, CHURN, qualified, run_models
from tests.support.story import Landing, account, build, starts
from transforms.dbt_project import model_doc, model_docs

EVERY_MODEL = ALL + CHURN


def test_staging_events_are_a_described_view_and_replace_an_older_table(tmp_path):
    landing = Landing(tmp_path)
    landing.add(account("A", "2025-01-02"), starts("A", "2025-01-05", seats=2, price="10"))
    con = build(landing)
    model = model_doc("staging.subscription_events")
    assert model.materialized == "view"
    kinds = con.sql("select view_name, comment from duckdb_views() where schema_name = 'staging'").fetchall()
    assert kinds == [("subscription_events", model.description)]
    comments = dict(con.sql("select column_name, comment from duckdb_columns() "
                            "where schema_name = 'staging' and table_name = 'subscription_events'").fetchall())
    assert comments["effective_at"] == model.columns["effective_at"]

    # A warehouse built when the model was a table: the next run replaces the table with the view.
    con.execute("drop view staging.subscription_events")
    con.execute("create table staging.subscription_events as select 1 as stale")
    run_models(con, "subscription_events")
    assert con.sql("select count(*) from duckdb_tables() where schema_name = 'staging' "
                   "and table_name = 'subscription_events'").fetchall() == [(0,)]
    assert con.sql("select count(*), sum(quantity) from staging.subscription_events "
                   "where event_type = 'subscription_started'").fetchall() == [(1, 2)]


def test_other_models_stay_tables_in_the_schemas_their_folders_name(tmp_path):
    landing = Landing(tmp_path)
    landing.add(account("A", "2025-01-02"), starts("A", "2025-01-05", seats=2, price="10"))
    con = build(landing)
    run_models(con, EVERY_MODEL)
    tables = set(con.sql("select schema_name || '.' || table_name from duckdb_tables() "
                         "where schema_name in ('staging', 'intermediate', 'marts')").fetchall())
    views = set(con.sql("select schema_name || '.' || view_name from duckdb_views() where not internal").fetchall())
    assert {name for (name,) in views} == {"staging.subscription_events"}
    assert {name for (name,) in tables} == set(qualified(EVERY_MODEL)) - {"staging.subscription_events"}
    assert set(qualified(EVERY_MODEL)) == set(model_docs())  # every model is built by some stage of the tests


def test_every_model_and_column_is_described_in_the_catalog(tmp_path):
    """persist_docs: the descriptions of each model's .yml are the catalog's comments (what BI tools show),
    and every column of a mart (what BI tools query) is described."""
    landing = Landing(tmp_path)
    landing.add(account("A", "2025-01-02"), starts("A", "2025-01-05", seats=2, price="10"))
    con = build(landing)
    run_models(con, EVERY_MODEL)
    for name, model in model_docs().items():
        comment = con.sql(f"select comment from duckdb_tables() where schema_name = '{model.schema}' and table_name = "
                          f"'{model.table}' union all select comment from duckdb_views() where schema_name = "
                          f"'{model.schema}' and view_name = '{model.table}'").fetchall()
        assert comment == [(model.description,)], name
        columns = dict(con.sql(f"select column_name, comment from duckdb_columns() where schema_name = "
                               f"'{model.schema}' and table_name = '{model.table}'").fetchall())
        assert {c: columns[c] for c in model.columns} == model.columns, name
        if model.schema == "marts":
            assert columns == model.columns, name


def test_a_model_drops_the_retired_table_it_took_over(tmp_path):
    # intermediate.account_mrr_bridge fed the movements until marts.mrr_movements walked account MRR itself
    assert model_doc("marts.mrr_movements").config["pre_hook"] == ["drop table if exists intermediate.account_mrr_bridge"]
    landing = Landing(tmp_path)
    landing.add(account("A", "2025-01-02"), starts("A", "2025-01-05", seats=2, price="10"))
    con = build(landing)
    con.execute("create table intermediate.account_mrr_bridge as select 1 as stale")
    run_models(con, "mrr_movements")
    assert con.sql("select count(*) from duckdb_tables() where table_name = 'account_mrr_bridge'").fetchall() == [(0,)]
    assert con.sql("select account_id, movement, mrr from marts.mrr_movements").fetchall() == [("A", "new", 20)]


def test_every_warehouse_view_reads_from_a_plain_duckdb_connection(tmp_path):
    """Views are stored queries: the project's macros (sql/macros/) expand into their SQL, so a DuckDB client
    opening the warehouse without the pipeline reads them."""
    import duckdb

    from tests.support.story import build_metrics

    landing = Landing(tmp_path / "landing")
    landing.add(account("A", "2025-01-02"), starts("A", "2025-01-05", seats=2, price="10"))
    build_metrics(build(landing, tmp_path / "warehouse.duckdb")).close()
    plain = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    views = plain.sql("select schema_name, view_name from duckdb_views() where not internal").fetchall()
    assert ("staging", "subscription_events") in views
    for schema, view in views:
        plain.sql(f"select count(*) from {schema}.{view}").fetchall()
    assert plain.sql("select month, mrr from intermediate.subscription_mrr_monthly").fetchall() == [
        (date(2025, 1, 1), Decimal("20.00"))
    ]
