"""The pages' GIL-off banner: shown exactly when the interpreter runs without the GIL."""

from dataclasses import replace

from core.measure.machine import machine_info
from core.report.explain import interpreter_note


def test_no_note_on_a_standard_interpreter():
    assert interpreter_note(replace(machine_info(), gil_enabled=True)) is None


def test_free_threaded_interpreter_is_named_and_threads_are_not_said_to_be_serial():
    note = interpreter_note(replace(machine_info(), free_threaded_build=True, gil_enabled=False))
    assert note is not None
    assert "disabled" in note and "cannot" not in note
    assert "several cores at once" in note
