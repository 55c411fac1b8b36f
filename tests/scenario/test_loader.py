"""Loading scenario files: every problem is found before any request, and points at FILE:LINE."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from scenario_support import ACTORS, CREATE_BODY, line_of, scenario_text, write

from simulator.contract.validation import Contract
from simulator.scenario import replay
from simulator.scenario.loader import ScenarioError, load_directory, load_scenario
from simulator.scenario.model import MISSING


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract()


def problems(path: Path, contract: Contract) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, contract=contract)
    assert isinstance(caught.value, ValueError)
    return caught.value.problems


def test_a_valid_file_loads_into_steps_with_their_lines(tmp_path: Path, contract: Contract) -> None:
    path = write(
        tmp_path,
        scenario_text(
            f"""\
  - name: open it
    actor: retailer
    action: create_conversation
{CREATE_BODY}    expect:
      status: [200, 201]
      paths: {{context.poNumber: 123-456-789}}
    save_as: conv
  - name: close it
    actor: supplier
    action: update_conversation
    body: {{dscoConversationId: "${{conv.id}}", status: closed}}
""",
            header="description: two steps\nseed: 3\n",
        ),
    )
    scenario = load_scenario(path, contract=contract)
    assert scenario.name == "a test scenario"
    assert scenario.description == "two steps"
    assert scenario.seed == 3
    assert scenario.world is None
    assert [step.name for step in scenario.steps] == ["open it", "close it"]
    assert [step.index for step in scenario.steps] == [1, 2]
    assert scenario.steps[0].line == line_of(path, "- name: open it")
    assert scenario.steps[0].expect.status == (200, 201)
    assert scenario.steps[0].save_as == "conv"
    assert scenario.steps[1].expect.status is None
    assert scenario.steps[1].expect.body is MISSING
    assert scenario.actors["consumer"].id == "12345"
    assert scenario.actors["supplier"].dsco_account_id == "2000001"


def test_bad_yaml_is_reported_with_yamls_own_line(tmp_path: Path, contract: Contract) -> None:
    path = write(
        tmp_path,
        """\
        name: broken
        steps:
          - name: first
            action: reset
           oops: [unclosed
        """,
    )
    found = problems(path, contract)
    assert len(found) == 1
    assert found[0].startswith(f"{path}:5: not valid YAML: ")


def test_an_unknown_action_names_the_file_line_step_and_the_allowed_actions(
    tmp_path: Path, contract: Contract
) -> None:
    path = write(
        tmp_path,
        scenario_text(
            """\
  - name: start
    action: reset
  - name: open the conversation
    actor: retailer
    action: crate_conversation
"""
        ),
    )
    found = problems(path, contract)
    line = line_of(path, "action: crate_conversation")
    assert found == [
        f"{path}:{line}: step 2 (open the conversation): action: 'crate_conversation' is not one of "
        "create_conversation, update_conversation, add_message, list_conversations, list_messages, "
        "get_token, poll_messages, advance_clock, set_clock, set_config, set_personas, reset, "
        "expect_notification, list_events"
    ]


def test_a_reference_to_a_name_no_earlier_step_saves_is_refused(tmp_path: Path, contract: Contract) -> None:
    path = write(
        tmp_path,
        scenario_text(
            """\
  - name: start
    action: reset
  - name: close it
    actor: supplier
    action: update_conversation
    body: {dscoConversationId: "${conv.id}", status: closed}
"""
        ),
    )
    line = line_of(path, "${conv.id}")
    assert problems(path, contract) == [
        f"{path}:{line}: step 2 (close it): ${{conv.id}}: no earlier step saves 'conv' (save_as); "
        "saved so far: nothing yet"
    ]


def test_a_reference_to_a_later_save_says_so(tmp_path: Path, contract: Contract) -> None:
    path = write(
        tmp_path,
        scenario_text(
            f"""\
  - name: too early
    actor: supplier
    action: list_conversations
    body: {{dscoConversationId: "${{conv.id}}"}}
  - name: open it
    actor: retailer
    action: create_conversation
{CREATE_BODY}    save_as: conv
"""
        ),
    )
    line = line_of(path, "${conv.id}")
    assert problems(path, contract) == [
        f"{path}:{line}: step 1 (too early): ${{conv.id}}: 'conv' is saved only by step 2, "
        "which runs later (or is this step)"
    ]


def test_an_unknown_actor_is_refused_naming_the_known_ones(tmp_path: Path, contract: Contract) -> None:
    path = write(
        tmp_path,
        scenario_text(
            f"""\
  - name: open it
    actor: retaler
    action: create_conversation
{CREATE_BODY}"""
        ),
    )
    line = line_of(path, "actor: retaler")
    assert problems(path, contract) == [
        f"{path}:{line}: step 1 (open it): actor 'retaler' is not one of the scenario's actors "
        "(retailer, supplier, consumer)"
    ]


def test_a_schema_violation_points_at_the_offending_line(tmp_path: Path, contract: Contract) -> None:
    path = write(
        tmp_path,
        scenario_text(
            """\
  - name: list them
    actor: retailer
    action: list_conversations
    expect:
      status: two hundred
"""
        ),
    )
    line = line_of(path, "status: two hundred")
    assert problems(path, contract) == [
        f"{path}:{line}: step 1 (list them): expect.status: expected an integer or an array, "
        "got 'two hundred'"
    ]


def test_a_misspelt_key_is_caught_instead_of_ignored(tmp_path: Path, contract: Contract) -> None:
    path = write(
        tmp_path,
        scenario_text(
            """\
  - name: list them
    actor: retailer
    action: list_conversations
    exepct: {status: 200}
"""
        ),
    )
    line = line_of(path, "exepct")
    assert problems(path, contract) == [
        f"{path}:{line}: step 1 (list them): exepct: unknown field, not allowed here"
    ]


def test_every_problem_is_reported_at_once_in_line_order(tmp_path: Path, contract: Contract) -> None:
    path = write(
        tmp_path,
        scenario_text(
            """\
  - name: one
    actor: nobody
    action: list_conversations
  - name: two
    actor: retailer
    action: list_messages
    body: {dscoConversationId: "${missing.id}", message: "${fake.no_such_method}"}
    expect:
      paths:
        "length(messages": 1
        messages[0].message: {contains: x, extra: y}
        text: {matches: "(unclosed"}
  - name: three
    actor: consumer
    action: list_messages
    save_as: clock
"""
        ),
    )
    found = problems(path, contract)
    text = "\n".join(found)
    assert f"{path}:{line_of(path, 'actor: nobody')}: step 1 (one): actor 'nobody'" in text
    line = line_of(path, "${missing.id}")
    assert f"{path}:{line}: step 2 (two): ${{missing.id}}: no earlier step saves 'missing'" in text
    assert f"{path}:{line}: step 2 (two): fake.no_such_method is not a Faker method" in text
    assert f"{path}:{line_of(path, 'length(messages')}: step 2 (two): expect.paths: " in text
    assert "mixes matchers (contains) with other keys (extra)" in text
    assert "matches: '(unclosed' is not a regular expression" in text
    assert "step 3 (three): 'consumer' is a consumer: consumers are data only" in text
    assert "step 3 (three): save_as: 'clock' is reserved for expressions" in text
    lines = [int(problem.split(":")[1]) for problem in found]
    assert lines == sorted(lines)


def test_duplicate_keys_and_unterminated_expressions_are_caught(tmp_path: Path, contract: Contract) -> None:
    path = write(
        tmp_path,
        scenario_text(
            """\
  - name: one
    actor: retailer
    action: list_conversations
    body: {title: "${fake.sentence"}
    actor: supplier
"""
        ),
    )
    text = "\n".join(problems(path, contract))
    first = line_of(path, "actor: retailer")
    assert f"{path}:{line_of(path, 'actor: supplier')}: 'actor' appears twice in one mapping" in text
    assert f"(first on line {first})" in text


def test_an_unterminated_expression_is_reported(tmp_path: Path, contract: Contract) -> None:
    path = write(
        tmp_path,
        scenario_text(
            """\
  - name: one
    actor: retailer
    action: list_conversations
    body: {title: "${fake.sentence"}
"""
        ),
    )
    line = line_of(path, "${fake.sentence")
    assert problems(path, contract) == [
        f"{path}:{line}: step 1 (one): '${{fake.sentence': '${{' without a closing '}}'"
    ]


def test_action_specific_fields_are_checked(tmp_path: Path, contract: Contract) -> None:
    path = write(
        tmp_path,
        scenario_text(
            """\
  - name: poll wrongly
    actor: supplier
    action: poll_messages
    poll: {query: {until: "2023-05-01T10:00:00Z"}}
  - name: advance without seconds
    action: advance_clock
    body: {secs: 5}
  - name: a clock step with auth
    action: reset
    auth: none
  - name: no poll
    actor: supplier
    action: list_messages
    poll: {}
"""
        ),
    )
    text = "\n".join(problems(path, contract))
    assert (
        "step 1 (poll wrongly): poll.query.until: the polling recipe sets createdSince, until, scrollId"
        in text
    )
    assert "step 2 (advance without seconds): body.seconds: required field is missing" in text
    assert "step 2 (advance without seconds): body.secs: unknown field, not allowed here" in text
    assert "step 3 (a clock step with auth): auth: only API calls take it (this step is reset)" in text
    assert "step 4 (no poll): poll: only poll_messages takes a poll (this step is list_messages)" in text


def test_root_level_problems_name_the_field(tmp_path: Path, contract: Contract) -> None:
    path = write(tmp_path, "description: no name, no steps\nseeds: 3\n")
    found = problems(path, contract)
    assert f"{path}:1: name: required field is missing" in found
    assert f"{path}:1: steps: required field is missing" in found
    assert f"{path}:2: seeds: unknown field, not allowed here" in found


def test_a_missing_world_file_is_reported(tmp_path: Path, contract: Contract) -> None:
    path = write(
        tmp_path, scenario_text("  - {name: start, action: reset}\n", header="world: nowhere.json\n")
    )
    found = problems(path, contract)
    assert len(found) == 1
    assert found[0].startswith(f"{path}:2: world: 'nowhere.json' is not a file")


def test_an_empty_file_is_refused(tmp_path: Path, contract: Contract) -> None:
    path = write(tmp_path, "")
    assert problems(path, contract) == [f"{path}:1: the file is empty; a scenario needs a name and steps"]


def test_yaml_surprises_are_switched_off(tmp_path: Path, contract: Contract) -> None:
    """``no`` stays text (not false) and dates stay strings, as they must in a JSON body."""
    path = write(
        tmp_path,
        scenario_text(
            """\
  - name: set the clock
    action: set_clock
    body: {set: 2023-05-01T10:00:00Z}
  - name: list
    actor: retailer
    action: list_conversations
    body: {retailerReferenceId: no, isTest: true}
"""
        ),
    )
    scenario = load_scenario(path, contract=contract)
    assert scenario.steps[0].body == {"set": "2023-05-01T10:00:00Z"}
    assert scenario.steps[1].body == {"retailerReferenceId": "no", "isTest": True}


def test_json_files_are_accepted(tmp_path: Path, contract: Contract) -> None:
    path = write(
        tmp_path,
        '{"name": "json", "actors": {"r": {"role": "retailer"}},\n'
        ' "steps": [{"name": "list", "actor": "r", "action": "list_conversations"}]}\n',
        name="s.json",
    )
    assert load_scenario(path, contract=contract).steps[0].action == "list_conversations"


def test_load_directory_finds_scenario_files_recursively(tmp_path: Path) -> None:
    write(tmp_path, "x", name="b.yaml")
    write(tmp_path, "x", name="sub/a.yml")
    write(tmp_path, "x", name="sub/c.json")
    write(tmp_path, "x", name="notes.md")
    found = load_directory([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["b.yaml", "sub/a.yml", "sub/c.json"]
    with pytest.raises(ScenarioError) as caught:
        load_directory([tmp_path / "missing"])
    assert caught.value.problems == [f"{tmp_path / 'missing'}: no such file or folder"]


def test_replay_sends_nothing_when_any_file_is_malformed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = write(tmp_path, scenario_text("  - {name: start, action: reset}\n"), name="good.yaml")
    bad = write(tmp_path, f"name: bad\n{ACTORS}steps:\n  - {{name: x, action: nope}}\n", name="bad.yaml")

    def no_transport(*args: object, **kwargs: object) -> None:
        raise AssertionError("a transport was created although a file could not be loaded")

    monkeypatch.setattr(replay, "HttpTransport", no_transport)
    monkeypatch.setattr(replay, "run_in_process", no_transport)
    out = io.StringIO()
    code = replay.replay_main([good, bad], target="http://127.0.0.1:9", out=out)
    assert code == 2
    text = out.getvalue()
    assert f"{bad}:{line_of(bad, 'action: nope')}: step 1 (x): action: 'nope' is not one of" in text
    assert "nothing was run" in text
    assert "Traceback" not in text
