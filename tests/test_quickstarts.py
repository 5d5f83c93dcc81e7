"""The quick starts: params.yaml as committed with each one's values, whatever an earlier experiment left."""

import re
import shutil
import subprocess

import pytest
import yaml

from pets.config.params import Loader
from pets.config.settings import parse_params as check_params
from pets.errors import PetsError
from pets.workspace.quickstarts import KEPT_EDITS, load_quickstarts, prepare, quickstart_params
from tests.helpers import ROOT

QUICKSTARTS = load_quickstarts(ROOT / "quickstarts.yaml")
COMMITTED = yaml.load((ROOT / "params.yaml").read_text(), Loader=Loader)


@pytest.mark.parametrize("name", sorted(QUICKSTARTS))
def test_every_quick_start_gives_params_the_first_stage_accepts(name):
    params = quickstart_params(committed=COMMITTED, workspace=COMMITTED, values=QUICKSTARTS[name] or {})
    check_params(params)
    for key, value in (QUICKSTARTS[name] or {}).items():  # each value names a key params.yaml has
        section = COMMITTED
        for part in key.split("."):
            section = section[part]
        assert type(section) is type(value) or {type(section), type(value)} <= {int, float}, key


def test_a_quick_start_resets_what_another_left_and_keeps_the_recipes_a_user_added():
    photos = quickstart_params(committed=COMMITTED, workspace=COMMITTED, values=QUICKSTARTS["photos"])
    photos["datasets"]["photos"]["train_per_class"] = 3  # an experiment's -S datasets.photos.train_per_class=3
    photos["datasets"]["mine"] = {"sources": [{"archives": [{"url": "mine.tar"}]}]}
    photos["datasets"]["pets"]["sources"][0]["archives"][0]["url"] = "/mirror/images.tar.gz"
    digits = quickstart_params(committed=COMMITTED, workspace=photos, values=QUICKSTARTS["digits"])
    assert digits["index"] == COMMITTED["index"] and digits["train"]["batch_size"] == COMMITTED["train"]["batch_size"]
    assert digits["size"] == 32 and digits["train"]["augment"]["flip"] is False
    assert digits["datasets"]["photos"] == COMMITTED["datasets"]["photos"]  # a built-in recipe is reset
    assert digits["datasets"]["mine"] == photos["datasets"]["mine"]  # a user's recipes stay
    assert digits["datasets"]["pets"]["sources"][0]["archives"][0]["url"] == "/mirror/images.tar.gz"


@pytest.fixture
def repo(tmp_path, monkeypatch):
    for name in ("params.yaml", "quickstarts.yaml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "project"]):
        subprocess.run(["git", *command], check=True)
    return tmp_path


def params_of(repo):
    return yaml.load((repo / "params.yaml").read_text(), Loader=Loader)


def test_prepare_writes_the_quick_start_keeping_comments_and_says_what_it_set(repo):
    lines = prepare("photos")
    assert params_of(repo) == quickstart_params(committed=COMMITTED, workspace=COMMITTED, values=QUICKSTARTS["photos"])
    text = (repo / "params.yaml").read_text()
    assert "# dataset recipe: any key of `datasets` below" in text and "lr_unfrozen: [1.0e-6, 1.0e-4]" in text
    prefix = "params.yaml: the photos quick start sets "
    assert len(lines) == 1 and lines[0].startswith(prefix)
    said = lines[0].removeprefix(prefix).split(", ")  # the values it changed, not those params.yaml has
    assert "data=photos (was pets)" in said and "train.batch_size=8 (was 64)" in said
    said = {item.split(" (was ")[0] for item in said}
    unchanged = {"weights=imagenet", "train.epochs_unfrozen=2"}
    assert said == {f"{k}={v}" for k, v in QUICKSTARTS["photos"].items()} - unchanged
    assert not (repo / KEPT_EDITS).exists()  # nothing of the user's was there to keep
    subprocess.run(["git", "stash", "-q"], check=True)
    assert prepare("pets") == [] and params_of(repo) == COMMITTED


def test_a_users_own_edit_that_nothing_holds_is_copied_aside_before_it_is_replaced(repo):
    before = (repo / "params.yaml").read_text().replace("lr: 0.002 ", "lr: 0.01  ")
    (repo / "params.yaml").write_text(before)
    lines = prepare("digits")
    assert (repo / KEPT_EDITS).read_text() == before
    assert lines[0] == (
        "params.yaml: as it was (in no commit or experiment; it differs from the commit in train.lr) is kept in "
        "params.mine.yaml before the digits quick start sets its own"
    )
    assert "train.lr=0.002 (was 0.01)" in lines[1]
    assert params_of(repo)["train"]["lr"] == COMMITTED["train"]["lr"]
    (repo / KEPT_EDITS).unlink()
    prepare("photos")  # what digits left is a quick start's, not the user's: nothing to keep
    assert not (repo / KEPT_EDITS).exists()


def test_each_saved_copy_of_a_users_edits_is_kept_never_overwritten(repo):
    first = (repo / "params.yaml").read_text().replace("lr: 0.002 ", "lr: 0.01  ")
    (repo / "params.yaml").write_text(first)
    prepare("digits")
    second = (repo / "params.yaml").read_text().replace("weight_decay: 0.01", "weight_decay: 0.05")
    (repo / "params.yaml").write_text(second)
    lines = prepare("photos")
    assert (repo / "params.mine.yaml").read_text() == first and (repo / "params.mine.2.yaml").read_text() == second
    assert "is kept in params.mine.2.yaml before the photos quick start" in lines[0]


def test_a_hand_set_value_equal_to_another_quick_starts_is_saved_and_named(repo):
    """batch_size 8 is the photos' value; set by hand on the committed params, it is the user's, not a leftover."""
    edited = (repo / "params.yaml").read_text().replace("batch_size: 64", "batch_size: 8")
    (repo / "params.yaml").write_text(edited)
    lines = prepare("digits")
    assert (repo / KEPT_EDITS).read_text() == edited and "differs from the commit in train.batch_size" in lines[0]
    assert "train.batch_size=64 (was 8)" in lines[1]


def test_crlf_line_endings_are_kept(repo):
    (repo / "params.yaml").write_bytes((repo / "params.yaml").read_bytes().replace(b"\n", b"\r\n"))
    subprocess.run(["git", "commit", "-qam", "crlf"], check=True)
    prepare("photos")
    raw = (repo / "params.yaml").read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n") > 50  # every line, the edited ones too
    assert params_of(repo) == quickstart_params(committed=COMMITTED, workspace=COMMITTED, values=QUICKSTARTS["photos"])


@pytest.mark.parametrize(
    "text, said",
    [
        (None, "params.yaml not found"),
        ("", "params.yaml is empty: restore it with `git checkout params.yaml`"),
        ("- a\n- b\n", "params.yaml is a list, not a mapping of params: restore it"),
        ("data: [\n", "params.yaml is not valid YAML"),
        ("data: pets\ndata: digits\n", "params.yaml is not valid YAML: found duplicate key 'data'"),
    ],
    ids=["missing", "empty", "a list", "invalid", "a key twice"],
)
def test_a_params_yaml_quickstart_cannot_read_is_one_line(repo, text, said):
    if text is None:
        (repo / "params.yaml").unlink()
    else:
        (repo / "params.yaml").write_text(text)
    with pytest.raises(PetsError, match=re.escape(said)) as refused:
        prepare("photos")
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    "text, said",
    [(None, "quickstarts.yaml not found"), ("photos: [\n", "quickstarts.yaml is not valid YAML"),
     ("- photos\n", "quickstarts.yaml: not a mapping of quick starts")],
    ids=["missing", "invalid", "a list"],
)  # fmt: skip
def test_a_quickstarts_yaml_it_cannot_read_is_one_line(repo, text, said):
    if text is None:
        (repo / "quickstarts.yaml").unlink()
    else:
        (repo / "quickstarts.yaml").write_text(text)
    with pytest.raises(PetsError, match=re.escape(said)):
        prepare("photos")


def test_an_unknown_quick_start_is_one_line_naming_those_there_are(repo):
    with pytest.raises(PetsError, match=r"nope: no such quick start in quickstarts.yaml \(there: pets, photos, digits"):
        prepare("nope")
