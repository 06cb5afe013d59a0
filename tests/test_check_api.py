"""check(), hint(), ready() and the guard around learner code."""
from __future__ import annotations

import json
import threading

import pytest
import torch

import course_utils
from course_utils.workbook import CheckFailed
from course_utils.grading.guard import call_guarded, trimmed_traceback
from course_utils.progress_store import progress_path


def categorical_log_prob(logits, actions):
    return torch.log_softmax(logits, -1).gather(-1, actions[:, None]).squeeze(-1)


def test_check_prints_feedback_and_records_progress(capsys):
    assert course_utils.check(categorical_log_prob) is None
    out = capsys.readouterr().out
    assert out.startswith("PASSED categorical_log_prob")
    data = json.loads(progress_path().read_text())
    assert data["exercises"]["categorical_log_prob"]["status"] == "passed"
    assert data["exercises"]["categorical_log_prob"]["attempts"] == 1


def test_check_with_explicit_id_and_renamed_function(capsys):
    def my_version(logits, actions):
        return categorical_log_prob(logits, actions)

    course_utils.check(my_version, exercise_id="categorical_log_prob")
    assert "PASSED" in capsys.readouterr().out
    course_utils.check(my_version)
    assert "no exercise called 'my_version'" in capsys.readouterr().out


def test_check_never_raises_outside_strict_mode(capsys):
    course_utils.check(lambda logits, actions: 1 / 0, exercise_id="categorical_log_prob")
    out = capsys.readouterr().out
    assert "FAILED" in out and "ZeroDivisionError" in out
    assert "hint(\"categorical_log_prob\")" not in out  # the text form stays short; HTML offers hints
    course_utils.check(None)  # not even a function
    course_utils.check(lambda: 0)  # anonymous


def test_strict_mode_raises_on_failure(monkeypatch):
    monkeypatch.setenv("COURSE_STRICT", "1")
    with pytest.raises(CheckFailed):
        course_utils.check(lambda logits, actions: logits[:, 0], exercise_id="categorical_log_prob")
    course_utils.check(categorical_log_prob)  # passing is fine in strict mode


def test_hints_escalate_and_stop_at_the_last(capsys):
    texts = []
    for _ in range(4):
        course_utils.hint("categorical_log_prob")
        texts.append(capsys.readouterr().out)
    assert texts[0].startswith("Hint 1 of 3") and texts[1].startswith("Hint 2 of 3")
    assert texts[2].startswith("Hint 3 of 3") and "last hint" in texts[3]
    course_utils.hint("categorical_log_prob", level=1)
    assert capsys.readouterr().out.startswith("Hint 1 of 3")
    course_utils.hint("nope")
    assert "no exercise" in capsys.readouterr().out


def test_hints_never_contain_the_answer_code():
    import inspect

    from course_utils.catalogue import registry

    for ex in registry().values():
        body = [ln.strip() for ln in inspect.getsource(ex.answer).splitlines()[1:]
                if ln.strip() and not ln.strip().startswith(('"""', "#"))]
        body = [ln.removeprefix("return ").strip() for ln in body if not ln.endswith('"""')]
        all_hints = " ".join(ex.hints)
        given_away = [ln for ln in body if len(ln) > 15 and ln in all_hints]
        assert len(given_away) <= len(body) // 2, (ex.id, given_away)


def test_ready_guards_cells(capsys):
    assert course_utils.ready(categorical_log_prob)

    def categorical_log_prob_stub(logits, actions):
        raise NotImplementedError

    categorical_log_prob_stub.__name__ = "categorical_log_prob"
    assert not course_utils.ready(categorical_log_prob_stub)
    assert "does not pass its check yet" in capsys.readouterr().out


def test_results_render_as_escaped_html():
    """What the learner controls (an exception's message, an id) reaches the feedback, escaped."""
    def raises_markup(logits, actions):
        raise ValueError("<script>alert(1)</script>")

    res = course_utils.grade("categorical_log_prob", raises_markup)
    assert "<script>alert(1)</script>" in res.message  # the learner's text is echoed...
    html = res._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # ...escaped
    unknown = course_utils.grade("<img src=x onerror=alert(1)>", categorical_log_prob)._repr_html_()
    assert "<img" not in unknown and "&lt;img src=x onerror=alert(1)&gt;" in unknown
    ok = course_utils.grade("categorical_log_prob", categorical_log_prob)._repr_html_()
    assert "Passed" in ok


def test_every_result_field_is_escaped_in_html():
    from dataclasses import fields

    from course_utils.grading.result import Result, compose, hint_html, result_html

    markup = "<b>x</b>"
    text_fields = {f.name: markup for f in fields(Result) if f.type in ("str", str) and f.name not in ("status",)}
    for status in ("passed", "failed", "not_implemented", "unknown_exercise"):
        r = compose(Result(passed=status == "passed", status=status, notes=[markup, markup + "\nline"],
                           **{k: v for k, v in text_fields.items() if k != "passed"}))
        html = result_html(r)
        assert markup not in html and "&lt;b&gt;x&lt;/b&gt;" in html, status
    assert markup not in hint_html(markup, 1, 2, markup)


def test_feedback_is_deterministic():
    wrong = lambda logits, actions: logits.gather(-1, actions[:, None]).squeeze(-1)  # noqa: E731
    a = course_utils.grade("categorical_log_prob", wrong)
    b = course_utils.grade("categorical_log_prob", wrong)
    assert a.message == b.message and a._repr_html_() == b._repr_html_()
    assert "Expected" in a.message and "Got" in a.message and "Inputs" in a.message


def test_in_place_mutation_through_data_is_caught():
    def sneaky(logits, actions):
        logits.data.mul_(0)
        return categorical_log_prob(logits, actions)

    res = course_utils.grade("categorical_log_prob", sneaky)
    assert "modified its input `logits` in place" in res.message


def test_timeout_interrupts_pure_python_loops():
    def endless():
        while True:
            pass

    out = call_guarded(endless, {}, 0.2)
    assert out.kind == "timeout" and out.timeout_enforced


def test_without_signals_the_call_runs_unlimited_and_says_so():
    box = {}

    def worker():
        box["out"] = call_guarded(lambda: 3, {}, 0.2)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert box["out"].value == 3 and not box["out"].timeout_enforced


def test_traceback_hides_grader_frames():
    def learner(x):
        return helper(x)

    def helper(x):
        raise ValueError("bad " + x)

    out = call_guarded(learner, {"x": "input"}, 1.0)
    assert "course_utils/grading" not in out.error
    assert "helper" in out.error and "ValueError: bad input" in out.error
    try:
        learner("y")
    except ValueError as exc:
        assert "learner" in trimmed_traceback(exc)


def test_feedback_shows_an_int_argument_as_an_int():
    # k = 3 is an int in the contract: showing it as "3.0" suggested a float (issue 25)
    from course_utils import catalogue
    from course_utils.answers import k_step_advantage
    from course_utils.grading.comparison import fmt_inputs

    assert fmt_inputs({"k": 3, "gamma": 0.5, "last_value": 0.0, "flag": True}) == \
        "k = 3, gamma = 0.5, last_value = 0.0, flag = True"
    result = catalogue.grade("k_step_advantage", lambda *a, **kw: k_step_advantage(*a, **kw) + 1.0)
    assert not result.passed and "k = 2" in str(result) and "k = 2.0" not in str(result)


def test_an_integer_output_is_shown_as_integers_where_it_differs():
    from course_utils import catalogue

    def unclamped(logits, u):  # issue 25: returns the nonexistent action A where float32 leaves cdf[-1] < u
        return (torch.cumsum(torch.softmax(logits, -1), -1) <= u[:, None]).sum(-1)

    text = str(catalogue.grade("sample_actions", unclamped))
    assert "expected 999, got 1000" in text and "999.0" not in text
