"""The webapp's apps depend on each other one way: play on studies, research on both, and neither
studies nor play on research; studies never reads play's trials, and the bots, a client of the
server over HTTP and the websocket, import no app. Read from every import statement
in the apps' modules, those inside functions included (an import there hides a cycle, not
removes it)."""

import ast
from pathlib import Path

import pytest

WEBAPP = Path(__file__).resolve().parents[2] / "webapp"

# For each app, the apps of the project it must never import.
NEVER = {"studies": {"play", "research"}, "play": {"research"}, "policies": {"play", "research"},
         "bots": {"studies", "play", "research", "policies"}}


def imported_apps(app: str, webapp: Path = WEBAPP) -> dict[str, set[str]]:
    """{module path: the webapp apps it imports}, for every module of `app`."""
    found = {}
    for path in sorted((webapp / app).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
            elif isinstance(node, ast.ImportFrom) and node.level >= 2:  # from ..play import x
                names.add("webapp." + (node.module or ""))
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[str(path.relative_to(webapp))] = {name.split(".")[1] for name in names
                                                 if name.startswith("webapp.") and name.count(".") >= 1}
    return found


@pytest.mark.parametrize("app", sorted(NEVER))
def test_an_app_imports_none_of_the_apps_above_it(app):
    wrong = {module: sorted(apps & NEVER[app]) for module, apps in imported_apps(app).items() if apps & NEVER[app]}
    assert wrong == {}


def test_the_reader_finds_imports_inside_functions(tmp_path):
    """The check above could pass by reading nothing: it finds a function-level import."""
    app = tmp_path / "webapp" / "somewhere"
    app.mkdir(parents=True)
    (app / "module.py").write_text("def f():\n    from webapp.play.models import Trial\n    return Trial\n")
    assert imported_apps("somewhere", tmp_path / "webapp") == {"somewhere/module.py": {"play"}}
