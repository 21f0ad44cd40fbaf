"""`tinygrad-sm train` runs its fit with one BLAS thread (issue 11: multithreaded OpenBLAS made
an epoch many times slower on a busy 2-core machine) and gives the threads back afterwards."""
from __future__ import annotations

from threadpoolctl import threadpool_info

import tinygrad_sm.train as train
from tinygrad_sm.cli import main


def blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_train_limits_blas_threads_during_the_fit_only(monkeypatch, tmp_path):
    before = blas_threads()
    seen = []
    real_fit = train.fit

    def spying_fit(*args, **kwargs):
        seen.append(blas_threads())
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(train, "fit", spying_fit)
    code = main(["train", "--data", "digits", "--epochs", "1", "--out", str(tmp_path)])
    assert code in (0, 1)  # 1 only if no Graphviz renderer (the diagrams are optional)
    assert (tmp_path / "metrics.json").is_file()
    assert seen and seen[0] and all(n == 1 for n in seen[0])
    assert blas_threads() == before  # restored after the fit
