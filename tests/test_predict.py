"""Predict, then measure: the questions, their grading from real verdicts, the class's counts, the CLI, the key.

Real parts: comparisons of sleeping tasks on sync and threads (the waits overlap on threads whatever the machine
is doing, so "threads ×4 finishes first" is physics), verdicts edited in a real result's JSON for the claims no
machine gives on demand (``same``, ``not-faster``), real SQLite files in ``tmp_path`` (a read-only tmpfs, a lock
held by another connection, a file of garbage), and ``python -m core predictions`` as a subprocess.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest

from core.export import to_notebook
from core.kinds.base import RunContext, measure
from core.kinds.compare import KIND, Arm, CompareSpec, ComparisonResult
from core.predict import KEY, SAME, ClassStore, ClassStoreUnavailable, grade, question_for
from core.presets import PRESETS, preset
from core.serve.settings import Settings, instructor_ok, load_settings

SLEEP = dict(workload="sleep", size=0.01, tasks=4)
ARMS3 = (Arm("sync"), Arm("threads", 2), Arm("threads", 4))


@pytest.fixture(scope="module")
def first_result() -> ComparisonResult:
    """sync, threads ×2, threads ×4 with the pair ×4 against ×2: every two arms related, ×4 always first."""
    spec = CompareSpec(**SLEEP, arms=ARMS3, pairs=(("threads ×4", "threads ×2"),), rounds=8)
    return measure(KIND, spec, RunContext())


@pytest.fixture(scope="module")
def few_rounds() -> ComparisonResult:
    """Too few rounds for any claim (a claim needs at least 7): every verdict is undecided."""
    spec = CompareSpec(**SLEEP, arms=ARMS3, pairs=(("threads ×4", "threads ×2"),), rounds=3)
    return measure(KIND, spec, RunContext())


def edited(result: ComparisonResult, arms: dict[str, str], pairs: str | None = None) -> ComparisonResult:
    """``result`` with the verdicts of its JSON set: ``arms`` by label, every pair to ``pairs``."""
    data = json.loads(result.to_json())
    for v in data["verdicts"]:
        v["verdict"] = arms.get(v["label"], v["verdict"])
    for v in data["pairs"]:
        v["verdict"] = pairs or v["verdict"]
    return ComparisonResult.from_dict(data)


# --- the questions --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_asks_one_question_with_safe_keys_from_its_arms(name):
    spec = preset(name)
    q = question_for(name, spec)
    assert q.preset == name and q.page == PRESETS[name].page
    assert len(set(q.keys)) == len(q.keys) >= 3 and all(KEY.match(k) for k in q.keys)
    assert SAME in q.keys and q.text.endswith("?")
    labels = [a.label for a in spec.arms]
    assert set(q.subject) <= set(labels) and all(label in q.text for label in q.subject)
    if q.form == "first":
        assert q.subject == tuple(labels) and [c.arm for c in q.choices[:-1]] == labels
    else:
        assert q.keys == ("faster", SAME, "slower") and len(q.subject) == 2
        assert tuple(q.subject) in spec.pairs or q.subject[1] == labels[0]


def test_each_page_reads_its_own_comparison():
    forms = {name: question_for(name, preset(name)) for name in
             ("start", "cpu-bound", "io-bound", "numpy", "local-cluster", "beyond-dask", "beyond-dask-io")}
    assert forms["start"].text == "Which finishes first: sync, threads ×4 or processes ×4 — or about the same?"
    assert forms["cpu-bound"].keys == ("sync", "threads-2", "processes-2", SAME)
    assert forms["local-cluster"].subject == ("processes=True 2×1", "processes=False 1×2")
    assert forms["io-bound"].form == "pair" and forms["io-bound"].subject == ("threads ×8", "sync")
    assert forms["numpy"].subject == ("threads ×2", "sync")
    assert forms["beyond-dask"].subject == ("futures-processes ×2", "futures-threads ×2")
    assert forms["beyond-dask-io"].subject == ("futures-threads ×8", "Dask threads ×8")


def test_the_choices_follow_the_sliders_not_a_table():
    spec = preset("start")
    moved = spec.replace(arms=(Arm("sync"), Arm("threads", 2), Arm("processes", 2, reuse_pool=True)),
                         pairs=(("processes ×2", "threads ×2"),))
    a, b = question_for("start", spec), question_for("start", moved)
    assert "processes-2" in b.keys and "processes-4" not in b.keys
    assert a.fingerprint != b.fingerprint and a.fingerprint == question_for("start", preset("start")).fingerprint


def test_a_crafted_answer_is_not_a_choice_and_is_named_in_one_line():
    q = question_for("start", preset("start"))
    for crafted in ("../../etc", "threads-4\nDROP TABLE", "", None, 4, "x" * 500):
        assert q.choice(crafted) is None
        line = q.ignored_line(crafted)
        assert "\n" not in line and "ignored" in line and len(line) < 200
    with pytest.raises(ValueError, match="not one of this question's choices"):
        question_for("start", preset("start")).predicted("bogus")


# --- grading, from real verdicts -------------------------------------------------------------------------


def test_the_arm_physics_makes_first_is_graded_right_and_the_others_wrong(first_result):
    q = question_for("comparison", first_result.spec)
    assert q.form == "first" and q.keys == ("sync", "threads-2", "threads-4", SAME)
    right = grade(q, "threads-4", first_result)
    assert right.outcome == "right", (right, [v.claim for v in first_result.verdicts])
    assert right.measured == "threads ×4 finished first" and "it held" in right.sentence
    assert right.reason and right.reason in [s.replace("**", "") for s in first_result.explain()]
    for wrong in ("sync", "threads-2", SAME):
        g = grade(q, wrong, first_result)
        assert g.outcome == "wrong", g
        assert "did not hold" in g.sentence and g.measured == "threads ×4 finished first"
        assert g.reason and "\n" not in g.reason


def test_a_pair_question_is_graded_from_its_verdict(first_result):
    spec = first_result.spec.replace(pairs=())
    result = dataclasses.replace(first_result, spec=spec, pair_verdicts=())
    q = question_for("io-bound", spec)  # no pairs, not every two arms related: the widest threads against sync
    assert q.form == "pair" and q.subject == ("threads ×4", "sync")
    assert grade(q, "faster", result).outcome == "right"
    assert grade(q, SAME, result).outcome == "wrong"
    slower = grade(q, "slower", result)
    assert slower.outcome == "wrong" and slower.measured.startswith("threads ×4 against sync: faster")
    assert "waits overlapped" in slower.reason  # the result's own why


def test_too_few_rounds_grade_nothing_right_or_wrong(few_rounds):
    assert all(v.verdict == "undecided" for v in (*few_rounds.verdicts, *few_rounds.pair_verdicts))
    q = question_for("comparison", few_rounds.spec)
    for key in q.keys:
        g = grade(q, key, few_rounds)
        assert g.outcome == "undecided", g
        assert "the data did not decide" in g.sentence and "undecided" in g.measured
        assert "undecided" in g.reason
    pair = question_for("local-cluster", few_rounds.spec)
    assert {grade(pair, k, few_rounds).outcome for k in pair.keys} == {"undecided"}


def test_about_the_same_needs_every_verdict_same(first_result):
    q = question_for("comparison", first_result.spec)
    same = edited(first_result, {"threads ×2": "same", "threads ×4": "same"}, pairs="same")
    assert grade(q, SAME, same).outcome == "right"
    assert grade(q, "threads-4", same).outcome == "wrong"
    assert grade(q, "sync", same).outcome == "wrong"
    # not-faster leaves "slower" open: about the same is neither confirmed nor refuted, "first" is refuted.
    open_ = edited(first_result, {"threads ×2": "not-faster", "threads ×4": "not-faster"}, pairs="same")
    assert grade(q, SAME, open_).outcome == "undecided"
    assert grade(q, "threads-4", open_).outcome == "wrong"
    assert grade(q, "sync", open_).outcome == "undecided"  # "slower" of both would make sync first: not decided


def test_a_weak_claim_decides_only_what_it_says(first_result):
    spec = first_result.spec
    q = question_for("local-cluster", spec)  # the pair: threads ×4 against threads ×2
    assert q.subject == ("threads ×4", "threads ×2")
    not_slower = edited(first_result, {}, pairs="not-slower")
    assert [grade(q, k, not_slower).outcome for k in q.keys] == ["undecided", "undecided", "wrong"]
    not_faster = edited(first_result, {}, pairs="not-faster")
    assert [grade(q, k, not_faster).outcome for k in q.keys] == ["wrong", "undecided", "undecided"]
    undecided = edited(first_result, {}, pairs="undecided")
    assert [grade(q, k, undecided).outcome for k in q.keys] == ["undecided"] * 3


def test_a_partial_result_or_another_comparison_is_not_graded(first_result):
    q = question_for("comparison", first_result.spec)
    running = dataclasses.replace(first_result, stop="running")
    assert grade(q, "threads-4", running).outcome == "undecided"
    with pytest.raises(ValueError, match="not one of"):
        grade(q, "threads-8", first_result)
    other = question_for("start", preset("start"))
    with pytest.raises(ValueError, match="another comparison"):
        grade(other, "processes-4", first_result)


# --- the class store -------------------------------------------------------------------------------------


@pytest.fixture
def start_q():
    return question_for("start", preset("start"))


def test_counts_are_tidy_once_per_token_and_the_token_is_not_stored(tmp_path, start_q):
    path = tmp_path / "class.sqlite3"
    store = ClassStore(str(path))
    assert store.available and store.counts().empty
    assert store.record(start_q, "processes-4", "right", "session-a:run-1").status == "counted"
    assert store.record(start_q, "processes-4", "right", "session-a:run-1").status == "already"  # a rerun
    assert store.record(start_q, "threads-4", "wrong", "session-b:run-1").status == "counted"
    crafted = store.record(start_q, "'; DROP TABLE counts; --", "right", "session-c:run-1")
    assert crafted.status == "ignored" and "\n" not in crafted.line
    assert store.record(start_q, "sync", "maybe", "session-d:run-1").status == "ignored"
    counts = store.counts()
    assert list(counts.columns) == ["page", "preset", "choice", "label", "outcome", "count"]
    assert counts[["choice", "outcome", "count"]].values.tolist() == [["processes-4", "right", 1],
                                                                       ["threads-4", "wrong", 1]]
    assert set(counts["page"]) == {"start"} and set(counts["label"]) == {"processes ×4", "threads ×4"}
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"session-a" not in raw and b"session-b" not in raw


def test_thirty_concurrent_sessions_are_all_counted_once(tmp_path, start_q):
    path = str(tmp_path / "class.sqlite3")
    shared = ClassStore(path)
    statuses: list[str] = []
    barrier = threading.Barrier(30)

    def visitor(k: int) -> None:
        # Half share the server's one store, half open their own (another process would): one writer either way.
        store = shared if k % 2 else ClassStore(path)
        answer = start_q.keys[k % len(start_q.keys)]
        barrier.wait()
        for _ in range(3):  # every rerun of the page records again: counted once
            statuses.append(store.record(start_q, answer, "right", f"session-{k}:run-7").status)

    threads = [threading.Thread(target=visitor, args=(k,)) for k in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses.count("counted") == 30 and statuses.count("already") == 60, statuses
    counts = shared.counts()
    assert int(counts["count"].sum()) == 30
    assert dict(counts.groupby("choice")["count"].sum()) == {"sync": 8, "threads-4": 8, "processes-4": 7, SAME: 7}


def test_a_restart_keeps_the_counts_and_reset_forgets_them(tmp_path, start_q):
    path = str(tmp_path / "sub" / "class.sqlite3")
    first = ClassStore(path)
    for k in range(5):
        first.record(start_q, "processes-4", "right", f"s{k}")
    again = ClassStore(path)  # a new server process
    assert int(again.counts()["count"].sum()) == 5
    assert again.record(start_q, "processes-4", "right", "s0").status == "already"
    assert again.reset() == 5 and again.counts().empty and first.counts().empty
    assert again.record(start_q, "processes-4", "right", "s0").status == "counted"


def test_memory_counts_live_in_one_store():
    q = question_for("io-bound", preset("io-bound"))
    store = ClassStore(":memory:")
    assert store.record(q, "faster", "right", "t").status == "counted"
    assert int(store.counts()["count"].sum()) == 1


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder on a read-only disk: a read-only tmpfs as root, a folder without write permission otherwise."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs: {mounted.stderr.decode()[:200]}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_a_read_only_disk_turns_the_view_off_or_counts_in_memory(read_only_dir, start_q):
    path = str(read_only_dir / "class.sqlite3")
    off = ClassStore(path)
    assert not off.available and "read-only" in off.reason and "\n" not in off.reason
    assert off.record(start_q, "sync", "wrong", "t").status == "unavailable" and off.counts().empty
    with pytest.raises(ClassStoreUnavailable, match="read-only"):
        off.reset()
    fallback = ClassStore(path, memory_fallback=True)
    assert fallback.available and fallback.path == ":memory:" and "read-only" in fallback.note
    assert fallback.record(start_q, "sync", "wrong", "t").status == "counted"
    assert not (read_only_dir / "class.sqlite3").exists()


def test_a_database_locked_by_another_program_is_one_line_never_an_exception(tmp_path, start_q):
    path = str(tmp_path / "class.sqlite3")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("CREATE TABLE theirs (x)")
    other.execute("BEGIN EXCLUSIVE")  # a rollback-journal file, held: no one else may even read it
    try:
        store = ClassStore(path, timeout=0.2)
        assert not store.available and "locked" in store.reason and "\n" not in store.reason
        assert store.record(start_q, "sync", "wrong", "t").status == "unavailable"
    finally:
        other.execute("ROLLBACK")
        other.close()
    # A lab file another program locks for a while: the record fails with one line, the next one succeeds.
    path2 = str(tmp_path / "lab.sqlite3")
    store = ClassStore(path2, timeout=0.2)
    assert store.available
    holder = sqlite3.connect(path2, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        failed = store.record(start_q, "sync", "wrong", "t1")
        assert failed.status == "unavailable" and "locked" in failed.line and not store.available
        assert store.counts().empty and store.available  # WAL: a reader does not wait for the writer
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.record(start_q, "sync", "wrong", "t1").status == "counted" and store.available


def test_a_corrupt_file_turns_the_view_off_with_one_line(tmp_path, start_q):
    path = tmp_path / "class.sqlite3"
    path.write_bytes(os.urandom(4096))
    store = ClassStore(str(path))
    assert not store.available and "not a usable SQLite file" in store.reason and "\n" not in store.reason
    assert store.record(start_q, "sync", "wrong", "t").status == "unavailable"
    assert store.counts().empty
    with pytest.raises(ClassStoreUnavailable):
        store.reset()


# --- the CLI ---------------------------------------------------------------------------------------------


def test_cli_prints_the_class_counts_as_json_and_resets_them(cli, parse_json, tmp_path, start_q):
    path = str(tmp_path / "class.sqlite3")
    store = ClassStore(path)
    for k, (answer, outcome) in enumerate([("processes-4", "right")] * 3 + [("threads-4", "wrong")]):
        store.record(start_q, answer, outcome, f"s{k}")
    run = cli("predictions", "--json", "--db", path)
    assert run.returncode == 0, run.stderr
    out = parse_json(run.stdout)
    assert out["kind"] == "predictions" and out["schema"] == 1 and out["total"] == 4
    assert {(c["choice"], c["outcome"], c["count"]) for c in out["counts"]} == {("processes-4", "right", 3),
                                                                                ("threads-4", "wrong", 1)}
    assert set(out["counts"][0]) == {"page", "preset", "choice", "label", "outcome", "count"}
    table = cli("predictions", "--db", path)
    assert table.returncode == 0 and "processes-4" in table.stdout and "4 in all" in table.stdout
    reset = cli("predictions", "--json", "--reset", "--db", path)
    assert parse_json(reset.stdout)["reset"] == 4 and parse_json(reset.stdout)["total"] == 0
    # A database the caller names must exist (a typo must not read as "nobody predicted anything").
    missing = cli("predictions", "--json", "--db", str(tmp_path / "none.sqlite3"))
    assert missing.returncode == 2 and missing.stdout == "" and missing.stderr.count("\n") == 1
    assert "--db: no class database at" in missing.stderr
    assert not (tmp_path / "none.sqlite3").exists(), "a look must not create the database"


def test_cli_exits_2_with_one_line_when_the_database_is_unusable(cli, tmp_path):
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"not a database, just bytes" * 100)
    for args in (["predictions", "--db", str(bad)], ["predictions", "--json", "--reset", "--db", str(bad)]):
        run = cli(*args)
        assert run.returncode == 2 and run.stdout == ""
        assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr and "not a usable" in run.stderr


# --- the settings and the instructor key -------------------------------------------------------------------


def test_the_instructor_key_is_compared_in_constant_time_and_never_shown():
    key = "s3cret-Key-42"
    s = load_settings(environ={"GIL_LAB_INSTRUCTOR_KEY": key, "GIL_LAB_CLASS_DB": ":memory:"})
    assert s.instructor_key == key and s.class_db == ":memory:"
    assert instructor_ok(s, key) and not instructor_ok(s, key + " ") and not instructor_ok(s, "")
    assert not instructor_ok(s, None) and not instructor_ok(s, key.encode())
    assert key not in repr(s) and key not in s.describe() and key not in " ".join(s.warnings)
    assert not instructor_ok(Settings(), "") and not instructor_ok(Settings(), "anything")  # no key: no page
    from_secrets = load_settings(secrets={"gil_lab": {"instructor_key": key}}, environ={})
    assert instructor_ok(from_secrets, key)
    bad = load_settings(environ={"GIL_LAB_INSTRUCTOR_KEY": "line\nbreak-secret"})
    assert bad.instructor_key == "" and bad.warnings and "break-secret" not in " ".join(bad.warnings)


def test_the_class_database_defaults_beside_the_app():
    s = load_settings(environ={})
    assert Path(s.class_db).parent.name == ".gil_lab" and Path(s.class_db).parent.parent == Path(__file__).parents[1]


# --- the take-home notebook --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["start", "io-bound", "local-cluster"])
def test_the_take_home_notebook_starts_with_the_pages_question(name):
    spec = preset(name)
    first = to_notebook(spec).cells[0]
    q = question_for(name, spec)
    assert first.cell_type == "markdown" and q.text in first.source
    assert all(c.label in first.source for c in q.choices)
