"""The model runner: materialization, catalog descriptions, and warehouses built by an older version."""

from datetime import date
from decimal import Decimal

from tests.support.story import Landing, account, build, starts
from transforms.sql_models import load_model, run_model


def test_staging_events_are_a_described_view_and_replace_an_older_table(tmp_path):
    landing = Landing(tmp_path)
    landing.add(account("A", "2025-01-02"), starts("A", "2025-01-05", seats=2, price="10"))
    con = build(landing)
    model = load_model("staging/subscription_events")
    assert model.materialized == "view"
    kinds = con.sql("select view_name, comment from duckdb_views() where schema_name = 'staging'").fetchall()
    assert kinds == [("subscription_events", model.description)]
    comments = dict(con.sql("select column_name, comment from duckdb_columns() "
                            "where schema_name = 'staging' and table_name = 'subscription_events'").fetchall())
    assert comments["effective_at"] == model.column_descriptions["effective_at"]

    # A warehouse built when the model was a table: the next run replaces the table with the view.
    con.execute("drop view staging.subscription_events")
    con.execute("create table staging.subscription_events as select 1 as stale")
    run_model(con, "staging/subscription_events")
    assert con.sql("select count(*) from duckdb_tables() where schema_name = 'staging' "
                   "and table_name = 'subscription_events'").fetchall() == [(0,)]
    assert con.sql("select count(*), sum(quantity) from staging.subscription_events "
                   "where event_type = 'subscription_started'").fetchall() == [(1, 2)]


def test_other_models_stay_tables(tmp_path):
    assert load_model("intermediate/subscription_periods").materialized == "incremental"
    assert load_model("marts/mrr_waterfall").materialized == "table"


def test_a_model_drops_the_retired_table_it_took_over(tmp_path):
    # intermediate.account_mrr_bridge fed the movements until marts.mrr_movements walked account MRR itself
    assert load_model("marts/mrr_movements").replaces == ("intermediate.account_mrr_bridge",)
    landing = Landing(tmp_path)
    landing.add(account("A", "2025-01-02"), starts("A", "2025-01-05", seats=2, price="10"))
    con = build(landing)
    con.execute("create table intermediate.account_mrr_bridge as select 1 as stale")
    run_model(con, "marts/mrr_movements")
    assert con.sql("select count(*) from duckdb_tables() where table_name = 'account_mrr_bridge'").fetchall() == [(0,)]
    assert con.sql("select account_id, movement, mrr from marts.mrr_movements").fetchall() == [("A", "new", 20)]


def test_every_warehouse_view_reads_from_a_plain_duckdb_connection(tmp_path):
    """Views are stored queries: they must not call the pipeline's session macros (sql/macros.sql), or a
    DuckDB client opening the warehouse without them gets an error."""
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
