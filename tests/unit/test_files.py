"""Files other programs read are replaced whole, and a killed writer's leftovers go with the next write."""

from transforms.core.files import replace_atomically


def test_replace_atomically_writes_a_shared_file_and_clears_a_killed_writers_temporaries(tmp_path):
    orphan = tmp_path / ".follow_up_latest.csv.k3j2x9.tmp"  # what a SIGKILL between write and rename leaves
    orphan.write_text("half a fi")
    other = tmp_path / ".revenue_report_latest.html.a1b2c3.tmp"  # another target's: not ours to remove
    other.write_text("x")
    target = replace_atomically(tmp_path / "follow_up_latest.csv", lambda out: out.write(b"a,b\n1,2\n"), binary=True)
    assert target.read_text() == "a,b\n1,2\n"
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".revenue_report_latest.html.a1b2c3.tmp", "follow_up_latest.csv"]
    replace_atomically(target, lambda out: out.write("c\n"))
    assert target.read_text() == "c\n"
