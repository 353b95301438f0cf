"""scripts/neo4j/manage.py without a server: what a stop leaves behind for the next start."""

import importlib.util
import json

from ntm.io import ROOT

spec = importlib.util.spec_from_file_location("neo4j_manage", ROOT / "scripts" / "neo4j" / "manage.py")
manage = importlib.util.module_from_spec(spec)
spec.loader.exec_module(manage)


def test_stop_keeps_the_port_for_the_next_start(tmp_path):
    server = manage.Neo4jServer(tmp_path, port=None)
    port = manage.free_port()
    server.state_file.parent.mkdir(parents=True, exist_ok=True)
    server.state_file.write_text(json.dumps({"pid": 2**22 + 12345, "port": port, "uri": "x", "user": "neo4j",
                                             "password": "p"}))           # a pid that is not running
    assert not server.running()
    server.stop()
    assert json.loads(server.state_file.read_text()) == {"pid": None, "port": port}
    assert not server.running()
    assert manage.main(["status", "--home", str(tmp_path)]) == 1          # "not running", no crash
