"""The shipped learned tables (onset timing, phrase endings, the bass's walk) are read with
one clear line when damaged, and written as the loaders read them."""

import pytest

from improv.core.band.bass import WalkStats, load_walk_stats
from improv.core.tables import read_table, write_table
from improv.core.listen.onset_template import OnsetTemplate
from improv.core.model.endings import PhraseEndings
from improv.errors import DataError


@pytest.mark.parametrize("load, remake", [
    (OnsetTemplate.load, "improv.train.timing"),
    (PhraseEndings.load, "improv.train.endings"),
    (lambda p: load_walk_stats(str(p)), "improv.core.band.bass_learn"),  # a bad file gave a JSONDecodeError traceback
])
def test_a_damaged_table_is_one_line_naming_it_and_how_to_remake_it(tmp_path, load, remake):
    for n, bad in enumerate(("{not json", "[1, 2]", "", '{"x": 1}')):
        path = tmp_path / f"table{n}.json"
        path.write_text(bad)
        with pytest.raises(DataError) as err:
            load(path)
        msg = str(err.value)
        assert str(path) in msg and remake in msg and "\n" not in msg


def test_written_tables_read_back(tmp_path):
    stats = WalkStats.defaults()
    write_table(tmp_path / "walk.json", stats.to_dict())
    assert read_table(tmp_path / "walk.json", "the bass's walk", "x") == stats.to_dict()
    assert load_walk_stats(str(tmp_path / "walk.json")) == WalkStats.from_dict(stats.to_dict())
