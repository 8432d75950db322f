"""The parameter-run driver (tests/run_params.py) refuses a notebook name it does not know, instead of
running nothing and reporting 0 passed."""

import pytest

from tests.run_params import main


def test_only_refuses_an_unknown_notebook_name_and_suggests_the_full_one():
    with pytest.raises(SystemExit) as e:
        main(["--only", "04", "--seeds", "0"])
    assert "'04' is not one (did you mean '04_elbo_derivation'?)" in str(e.value)
    with pytest.raises(SystemExit) as e:
        main(["--only", "01_autoencoder", "nonsense"])
    assert "'nonsense' is not one. Known: 00_start_here" in str(e.value)
