"""scripts/generate_dataset.py: recipe and knob flags, one-line errors before any work."""

import pytest

from scripts import generate_dataset


@pytest.mark.parametrize("argv, message", [
    (["--knob", "foo=1", "--out", "x.hdf5"], "bad knob 'foo=1'"),
    (["--knob", "goal_set=x", "--out", "x.hdf5"], "goal_set must be one of g, free (d4rl recipes), got 'x'"),
    (["--knob", "lapse_rate=3", "--out", "x.hdf5"], "lapse_rate must lie in [0, 1]"),
    (["--knob", "lapse_rate=0.1"], "--knob makes a file that is not the default recipe's"),
])
def test_bad_knobs_are_one_line_errors(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        generate_dataset.main(["--env-name", "antmaze-umaze-v0"] + argv)
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.hdf5").exists()


def test_writes_the_recipe_into_the_file_and_its_name(tmp_path, monkeypatch, capsys):
    import cs224r.generation.generator as gen

    made = {}

    def fake(name, out, n, seed, **kwargs):  # stands in for the generation itself
        made.update(name=name, out=out, **kwargs)
        raise SystemExit(0)

    monkeypatch.setenv("CS224R_DATA", str(tmp_path))
    monkeypatch.setattr(generate_dataset, "generate_to_file", fake)
    with pytest.raises(SystemExit):
        generate_dataset.main(["--env-name", "antmaze-umaze-v2", "--recipe", "clean"])
    assert made["out"] == tmp_path / "antmaze-umaze-v0.clean.hdf5" and made["family"] == "clean"
    assert gen.DEFAULT_FAMILY == "d4rl"
