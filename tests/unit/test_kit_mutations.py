"""Measure the conformance kit (issue 20): the sample plugin (tests/kitsample.py) passes every
check in strict mode, and each realistic mistake planted in it (tests/kitmutants.py) fails at
least one. The kit's checks run in this process, once per mutant, stopping at the first catch."""

from __future__ import annotations

import pytest

from tests.kitmutants import MUTANTS, SOURCE, Mutant, first_catch, load


def test_the_sample_plugin_passes_the_whole_kit_in_strict_mode() -> None:
    assert first_catch(load(SOURCE)) is None


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_the_kit_catches_the_mistake(mutant: Mutant) -> None:
    assert first_catch(load(mutant.source())) is not None, f"the kit missed: {mutant.name}"
