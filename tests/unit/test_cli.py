"""`subwh` answers bad input with a one-line error and a non-zero exit, not a traceback."""

from orchestration.cli import main


def test_run_refuses_a_missing_landing_folder(tmp_path, capsys):
    assert main(["run", "--landing", str(tmp_path / "nowhere"), "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "w.duckdb").exists()


def test_generate_refuses_bad_arguments(tmp_path, capsys):
    assert main(["generate", "--accounts", "0", "--months", "3", "--out", str(tmp_path / "out")]) == 2
    assert "accounts" in capsys.readouterr().err


def test_generate_writes_a_landing_folder(tmp_path, capsys):
    out = tmp_path / "landing"
    assert main(["generate", "--accounts", "5", "--months", "2", "--seed", "3", "--out", str(out), "--no-progress"]) == 0
    assert (out / "reference" / "plans.csv").exists()
    assert any((out / "subscription_events").iterdir())


def test_run_refuses_a_warehouse_it_cannot_write_beside(tmp_path, capsys):
    (tmp_path / "a-file").write_text("")
    landing = tmp_path / "landing"
    landing.mkdir()
    assert main(["run", "--landing", str(landing), "--warehouse", str(tmp_path / "a-file" / "w.duckdb")]) == 2
    assert "cannot write beside the warehouse" in capsys.readouterr().err


def test_run_refuses_bad_settings_at_start_up(tmp_path, capsys, monkeypatch):
    landing = tmp_path / "landing"
    landing.mkdir()
    (tmp_path / "a-file").write_text("")
    for name, value, says in (("SUBWH_GROSS_MARGIN", "abc", "is not a number"),
                              ("SUBWH_GROSS_MARGIN", "1.5", "at most 1"),
                              ("SUBWH_DUCKDB_TEMP_DIR", str(tmp_path / "a-file" / "spill"), "is not a folder")):
        monkeypatch.setenv(name, value)
        assert main(["run", "--landing", str(landing), "--warehouse", str(tmp_path / "w.duckdb")]) == 2
        assert says in capsys.readouterr().err
        monkeypatch.delenv(name)
    assert not (tmp_path / "w.duckdb").exists()


def test_a_failed_step_is_one_line_on_the_console():
    from orchestration.console import one_line

    failure = ('__ASSET_JOB - 1 - sales - STEP_FAILURE - Execution of step "sales" failed.\n\n'
               'dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred while executing op "sales"::\n\n'
               'ValueError: staging.calendar is empty\n\nStack Trace:\n  File "x.py", line 1, in f\n    raise\n')
    assert one_line(failure) == ('__ASSET_JOB - 1 - sales - STEP_FAILURE - Execution of step "sales" failed: '
                                 'ValueError: staging.calendar is empty')
    assert one_line('__ASSET_JOB - 1 - x - Dependencies for step x failed: [\'y\']. Not executing.') is None
    assert one_line("a plain message") == "a plain message"


def test_dev_help_says_how_to_choose_the_port(capsys):
    # A user who reads `subwh dev --help` (not `subwh --help`) learns the default port and how to change it.
    import pytest

    with pytest.raises(SystemExit) as exit_:
        main(["dev", "--help"])
    assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "http://127.0.0.1:3000" in out and "-p PORT" in out


def test_a_failure_names_the_error_without_its_module_path():
    # Dagster 1.13 writes the error class with its module ("transforms.ingestion.LandingError: ..."); the
    # console line names it as the docstring of failure_cause says: "LandingError: ...".
    from types import SimpleNamespace

    from orchestration.cli import failure_cause

    def event(message):
        error = SimpleNamespace(message=message + "\n", cause=None)
        return SimpleNamespace(event_specific_data=SimpleNamespace(error=error), message="step failed")

    assert failure_cause(event("transforms.ingestion.LandingError: missing reference file /l/reference/plans.csv "
                               "(expected columns: plan_id)")) == (
        "LandingError: missing reference file /l/reference/plans.csv (expected columns: plan_id)")
    assert failure_cause(event("ValueError: x.y: z")) == "ValueError: x.y: z"
    assert failure_cause(event("dagster._core.definitions.events.Failure: no valid subscription events: read 5")) == (
        "no valid subscription events: read 5")
