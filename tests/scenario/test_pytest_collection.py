"""The pytest plugin: YAML files in the folders a project opts in run as tests, without tracebacks."""

from __future__ import annotations

import pytest
from scenario_support import CREATE_BODY, scenario_text

pytest_plugins = ["pytester"]

PASSING = scenario_text(
    f"""\
  - name: the retailer opens a conversation
    actor: retailer
    action: create_conversation
{CREATE_BODY}    expect:
      status: 201
      body: {{status: new}}
""",
    name="a passing story",
)

FAILING = scenario_text(
    f"""\
  - name: the retailer opens a conversation
    actor: retailer
    action: create_conversation
{CREATE_BODY}    expect:
      status: 201
      body: {{status: closed}}
  - name: never reached
    action: reset
""",
    name="a failing story",
)


def opt_in(pytester: pytest.Pytester, *folders: str) -> None:
    """The project's ini file names its scenario folders."""
    pytester.makeini("[pytest]\ndsco_scenarios =\n" + "".join(f"    {f}\n" for f in folders))


def test_one_passing_and_one_failing_scenario(pytester: pytest.Pytester) -> None:
    opt_in(pytester, "scenarios")
    folder = pytester.mkdir("scenarios")
    (folder / "passing.yaml").write_text(PASSING, "utf-8")
    (folder / "failing.yml").write_text(FAILING, "utf-8")
    result = pytester.runpytest("scenarios", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    text = result.stdout.str()
    assert "FAIL  1. the retailer opens a conversation  [retailer: create_conversation]" in text
    assert "body.status: expected 'closed', got 'new'" in text
    assert "SKIP  2. never reached  [reset] — an earlier step failed" in text
    assert "Traceback" not in text
    assert "simulator/scenario" not in text


def test_yaml_outside_a_scenarios_folder_is_not_collected(pytester: pytest.Pytester) -> None:
    opt_in(pytester, "scenarios")
    folder = pytester.mkdir("fixtures")
    (folder / "passing.yaml").write_text(PASSING, "utf-8")
    result = pytester.runpytest("fixtures", "-p", "no:cacheprovider")
    result.assert_outcomes()
    assert "no tests ran" in result.stdout.str()


def test_nested_folders_under_scenarios_are_collected(pytester: pytest.Pytester) -> None:
    opt_in(pytester, "scenarios")
    folder = pytester.mkdir("scenarios")
    nested = folder / "errors"
    nested.mkdir()
    (nested / "passing.yaml").write_text(PASSING, "utf-8")
    result = pytester.runpytest("scenarios", "-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=1)
    assert "scenarios/errors/passing.yaml::a passing story PASSED" in result.stdout.str()


def test_an_unloadable_file_is_a_collection_error_naming_the_line(pytester: pytest.Pytester) -> None:
    opt_in(pytester, "scenarios")
    folder = pytester.mkdir("scenarios")
    (folder / "broken.yaml").write_text("name: broken\nsteps:\n  - {name: x, action: nope}\n", "utf-8")
    result = pytester.runpytest("scenarios", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    text = result.stdout.str()
    assert "broken.yaml:3: step 1 (x): action: 'nope' is not one of" in text
    assert "Traceback" not in text


def test_a_projects_own_scenarios_folder_is_left_alone_without_the_ini_option(
    pytester: pytest.Pytester,
) -> None:
    folder = pytester.mkdir("scenarios")
    (folder / "load-test.yaml").write_text("users: 50\nramp: 10s\n", "utf-8")  # some other tool's file
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_only_the_folders_the_ini_option_names_are_collected(pytester: pytest.Pytester) -> None:
    opt_in(pytester, "tests/stories")
    (pytester.mkdir("scenarios") / "load-test.yaml").write_text("users: 50\n", "utf-8")
    stories = pytester.path / "tests" / "stories"
    stories.mkdir(parents=True)
    (stories / "passing.yaml").write_text(PASSING, "utf-8")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_one_opted_in_file_runs_when_named_on_the_command_line(pytester: pytest.Pytester) -> None:
    opt_in(pytester, "stories")
    stories = pytester.mkdir("stories")
    (stories / "passing.yaml").write_text(PASSING, "utf-8")
    (stories / "failing.yaml").write_text(FAILING, "utf-8")
    result = pytester.runpytest("stories/passing.yaml", "-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=1)
    assert "stories/passing.yaml::a passing story PASSED" in result.stdout.str()
