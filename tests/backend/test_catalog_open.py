"""The backend and the prediction log's committer open the same Iceberg catalog; on a new MLP_HOME they may do so
at the same moment. pyiceberg's SQL catalog checks for its tables and then creates them, so the slower process's
CREATE TABLE fails with "table iceberg_tables already exists" (seen as a 500 from /feedback in the serving tests,
about 1 open in 45 with four processes racing)."""

from __future__ import annotations

from pathlib import Path

from pyiceberg.catalog import sql as pyiceberg_sql

from jupyter_mlp_backend.datasets.catalog import Catalog


def test_a_catalog_created_by_another_process_between_check_and_create_still_opens(tmp_path, monkeypatch):
    real_create = pyiceberg_sql.SqlCatalog.create_tables
    raced = []

    def other_process_wins(self):  # noqa: ANN001
        # The other process creates the tables after this one found none; this one's create then collides.
        if not raced:
            raced.append(True)
            real_create(self)
            pyiceberg_sql.SqlCatalogBaseTable.metadata.create_all(self.engine, checkfirst=False)
        real_create(self)

    monkeypatch.setattr(pyiceberg_sql.SqlCatalog, "create_tables", other_process_wins)
    catalog = Catalog(Path(tmp_path))
    cat = catalog._open()
    assert raced
    cat.create_namespace("p_acme")
    assert ("p_acme",) in cat.list_namespaces()
