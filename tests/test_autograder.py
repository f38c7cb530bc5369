"""The autograder's own check: the catalogue of student mistakes is well formed, the starter tree filled the
guide's way passes the students' tests, and a blank left unfilled or filled with a catalogue mistake fails
naming that blank. The whole catalogue runs in CI's later step (`python scripts/check_autograder.py`);
set CS224R_CHECK_AUTOGRADER=1 to run every case here too."""

import os
from collections import Counter
from pathlib import Path

import pytest

from cs224r.infrastructure.handout import HINTS
from scripts.autograder_mistakes import GUIDE_FILLS, MISTAKES
from scripts.check_autograder import PlantError, check_one, make_guide_tree, plant, run_student_tests

ROOT = Path(__file__).resolve().parent.parent
EVERY_CASE = os.environ.get("CS224R_CHECK_AUTOGRADER") == "1"
BY_NAME = {m.name: m for m in MISTAKES}
# run in the ordinary suite: the order bug that once passed every test, and one unfilled blank
SAMPLE_MISTAKES = ["advantage_before_critic_step"]
SAMPLE_UNFILLED = ["critic_loss"]


def test_catalogue_covers_every_blank_and_applies_to_this_tree(tmp_path):
    assert len(MISTAKES) >= 30
    assert len(BY_NAME) == len(MISTAKES), "mistake names must be unique"
    assert set(GUIDE_FILLS) == set(HINTS), "every blank needs the guide's fill"
    per_blank = Counter(m.blank for m in MISTAKES)
    assert set(per_blank) == set(HINTS) and min(per_blank.values()) >= 2, per_blank
    assert {m.kind for m in MISTAKES} <= {"numbers", "leak"}
    for m in MISTAKES:  # each edit applies exactly once, and changes the text
        (tmp_path / m.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / m.path).write_text((ROOT / m.path).read_text())
        original = plant(tmp_path, m)
        assert (tmp_path / m.path).read_text() != original, m.name


def test_a_mistake_that_does_not_apply_is_refused(tmp_path):
    m = MISTAKES[0]
    (tmp_path / m.path).parent.mkdir(parents=True)
    (tmp_path / m.path).write_text("nothing to find here\n")
    with pytest.raises(PlantError, match="occurs 0 times"):
        plant(tmp_path, m)


@pytest.fixture(scope="module")
def guide_tree(tmp_path_factory):
    return make_guide_tree(tmp_path_factory.mktemp("guide") / "starter")


def test_guide_fills_every_blank_and_the_students_tests_pass(guide_tree):
    for path in {m.path for m in MISTAKES}:  # the files that hold the blanks
        assert "# TODO(" not in (guide_tree / path).read_text(), path
    rc, out = run_student_tests(guide_tree)
    assert rc == 0, out[-3000:]


@pytest.mark.parametrize("name", sorted(HINTS) if EVERY_CASE else SAMPLE_UNFILLED)
def test_one_blank_left_unfilled_fails_naming_it(tmp_path, name):
    tree = make_guide_tree(tmp_path / "starter", skip=frozenset({name}))
    outcome = check_one(tree, f"unfilled {name}", name, "numbers", None)
    assert outcome.caught and outcome.named, outcome


@pytest.mark.parametrize("name", sorted(BY_NAME) if EVERY_CASE else SAMPLE_MISTAKES)
def test_catalogue_mistake_in_the_guide_tree_fails_naming_its_blank(guide_tree, name):
    outcome = check_one(guide_tree, name, BY_NAME[name].blank, BY_NAME[name].kind, BY_NAME[name])
    assert outcome.caught and outcome.named, outcome


def test_kind_labels_match_what_the_mistakes_do(tmp_path):
    """A "leak" mistake leaves three training steps bit for bit the same, a "numbers" one changes them."""
    from scripts.check_autograder import copy_solution, training_digest

    tree = copy_solution(tmp_path / "tree")
    reference = training_digest(tree)
    assert len(reference) == 64, reference
    for name, same in (("advantage_without_no_grad", True), ("advantage_before_critic_step", False)):
        original = plant(tree, BY_NAME[name])
        assert (training_digest(tree) == reference) is same, name
        (tree / BY_NAME[name].path).write_text(original)
