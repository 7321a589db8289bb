"""`fangxin audit verify`."""

from __future__ import annotations

from click.testing import CliRunner

from fangxin.commands.audit import audit
from pipelines.store import Store


def test_audit_verify_intact_then_broken(tmp_path):
    db = str(tmp_path / "a.db")
    store = Store(db)
    for i in range(5):
        store.append_audit("admin", "user.add", "user", i, {"role": "inspector"})
    store.close()
    result = CliRunner().invoke(audit, ["verify", "--db", db])
    assert result.exit_code == 0 and "5 row(s)" in result.output
    store = Store(db)
    store.conn.execute("DELETE FROM audit_log WHERE id = 3")
    store.close()
    result = CliRunner().invoke(audit, ["verify", "--db", db])
    assert result.exit_code == 1 and "audit row 4" in result.output
