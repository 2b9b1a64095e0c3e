"""Registered policy checkpoints: registration (service, command, admin upload), serving one as a
condition's adversary `policy:<name>` through a whole websocket game, and the shipped defaults."""

import hashlib
import io
import json
import math

import pytest
import torch
from channels.db import database_sync_to_async
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from helpers import SMALL_PARAMS, choose, connect, make_player, make_study, scripted_choice
from shaping_core.games import make_game
from shaping_core.policies.checkpoint import save_policy
from shaping_core.policies.gru import GRUPolicy
from webapp.policies.models import RegisteredPolicy
from webapp.policies.selectors import registered_policy_load
from webapp.policies.services import PolicyRegistrationError, policy_register, policy_register_defaults
from webapp.research.export import trials_frame
from webapp.studies.models import Condition, Study

SMALL_BANDIT = SMALL_PARAMS["bandit"]


def checkpoint_bytes(tmp_path, game="bandit", params=None, seed=0, **info) -> bytes:
    """A tiny untrained GRU adversary saved as a real checkpoint (it plays fine)."""
    torch.manual_seed(seed)
    policy = GRUPolicy(make_game(game, params), {"hidden_size": 4})
    info.setdefault("provenance", {"objective": "max", "command": "test"})
    info.setdefault("metrics", {"target_rate": 0.7})
    path = save_policy(tmp_path / "scratch" / f"{game}-{seed}.pt", policy, **info)
    return path.read_bytes()


def register(tmp_path, name="small-max", seed=0, replace=False):
    """A checkpoint for the tests' small bandit, registered."""
    return policy_register(name=name, data=checkpoint_bytes(tmp_path, params=SMALL_BANDIT, seed=seed), replace=replace)


# ---- registering --------------------------------------------------------------------------------

def test_a_checkpoint_is_registered_with_what_it_says_about_itself(db, tmp_path):
    data = checkpoint_bytes(tmp_path, params=SMALL_BANDIT,
                            metrics={"target_rate": 0.7, "loss": float("nan"), "curve": torch.tensor([1.0, 2.0])})
    policy = policy_register(name="small-max", data=data, description="a test")
    policy.refresh_from_db()
    assert (policy.game, policy.kind, policy.objective, policy.description) == ("bandit", "gru", "max", "a test")
    assert bytes(policy.checkpoint) == data and policy.size == len(data)
    assert policy.sha256 == hashlib.sha256(data).hexdigest()
    assert policy.game_params == {**make_game("bandit").params.to_mapping(), **SMALL_BANDIT}
    assert policy.provenance == {"objective": "max", "command": "test"}
    assert policy.metrics == {"target_rate": 0.7, "loss": "nan", "curve": [1.0, 2.0]}  # storable on PostgreSQL
    assert policy.adversary == "policy:small-max"


def test_the_objective_may_come_from_the_settings_or_be_missing(db, tmp_path):
    from_settings = policy_register(name="a", data=checkpoint_bytes(tmp_path, provenance={},
                                                                    settings={"objective": "fair"}))
    assert from_settings.objective == "fair"
    assert policy_register(name="b", data=checkpoint_bytes(tmp_path, seed=1, provenance={})).objective == ""


def _not_a_checkpoint_dict() -> bytes:
    buffer = io.BytesIO()
    torch.save({"weights": torch.zeros(3), "note": "some other model"}, buffer)
    return buffer.getvalue()


def _unknown_kind(tmp_path) -> bytes:
    spec = torch.load(io.BytesIO(checkpoint_bytes(tmp_path)), weights_only=True)
    buffer = io.BytesIO()
    torch.save({**spec, "kind": "mystery"}, buffer)
    return buffer.getvalue()


def _wrong_weights(tmp_path) -> bytes:
    spec = torch.load(io.BytesIO(checkpoint_bytes(tmp_path)), weights_only=True)
    spec["state_dict"] = {k: torch.zeros(1) for k in spec["state_dict"]}
    buffer = io.BytesIO()
    torch.save(spec, buffer)
    return buffer.getvalue()


def _pickled_code() -> bytes:
    buffer = io.BytesIO()
    torch.save({"format": 1, "callback": math.sqrt}, buffer)  # needs code to unpickle
    return buffer.getvalue()


@pytest.mark.parametrize("make_data, message", [
    (lambda tmp: b"garbage, not a torch file", "is not a policy checkpoint: torch.load(weights_only=True) cannot"),
    (lambda tmp: b"", "the file is empty"),
    (lambda tmp: _not_a_checkpoint_dict(), "the file is not a policy checkpoint (format 1)"),
    (lambda tmp: _pickled_code(), "cannot read it"),
    (_unknown_kind, "unknown policy kind 'mystery'"),
    (_wrong_weights, "the gru checkpoint does not load"),
])
def test_a_file_that_does_not_load_is_never_registered(db, tmp_path, make_data, message):
    with pytest.raises(PolicyRegistrationError) as error:
        policy_register(name="broken", data=make_data(tmp_path))
    assert message in str(error.value) and str(tmp_path) not in str(error.value)
    assert not RegisteredPolicy.objects.exists()


@pytest.mark.parametrize("name", ["", "has space", "policy:x", "ünïcode", "x" * 81])
def test_bad_names_are_refused(db, tmp_path, name):
    with pytest.raises(PolicyRegistrationError, match="bad name"):
        register(tmp_path, name=name)


def test_a_taken_name_is_refused_unless_replaced_and_never_once_played(db, tmp_path):
    first = register(tmp_path)
    with pytest.raises(PolicyRegistrationError, match="already registered.*choose another name, or replace"):
        register(tmp_path, seed=1)
    second = register(tmp_path, seed=1, replace=True)
    assert second.pk == first.pk and second.sha256 != first.sha256
    assert RegisteredPolicy.objects.get().sha256 == second.sha256

    study = make_study("bandit", conditions=[("gru", "policy:small-max", {}, 1)])
    register(tmp_path, seed=2, replace=True)  # a condition uses it, but nobody has played it yet
    make_player(study)
    with pytest.raises(PolicyRegistrationError, match=f"participants have played it in condition.*{study.slug}/gru"):
        register(tmp_path, seed=3, replace=True)


def test_a_loaded_policy_is_cached_by_its_checkpoint(db, tmp_path):
    data = checkpoint_bytes(tmp_path, params=SMALL_BANDIT)
    policy_register(name="one", data=data)
    policy_register(name="two", data=data)
    loaded = registered_policy_load("one")
    assert registered_policy_load("one") is loaded and registered_policy_load("two") is loaded
    probs, _ = loaded.act(make_game("bandit", SMALL_BANDIT).observe(make_game("bandit", SMALL_BANDIT).init(1)),
                          loaded.reset(1))
    assert probs.shape == (1, loaded.n_actions)


# ---- the command --------------------------------------------------------------------------------

def test_register_policy_command(db, tmp_path):
    path = tmp_path / "A.pt"
    path.write_bytes(checkpoint_bytes(tmp_path, params=SMALL_BANDIT))
    out = io.StringIO()
    call_command("register_policy", str(path), name="cmd-max", description="from the CLI", stdout=out)
    policy = RegisteredPolicy.objects.get(name="cmd-max")
    printed = out.getvalue()
    for expected in ["cmd-max", "policy:cmd-max", "game bandit", "kind gru", "objective max",
                     policy.sha256[:12], '"target_rate": 0.7']:
        assert expected in printed
    assert policy.description == "from the CLI" and policy.created_by is None

    with pytest.raises(CommandError, match="already registered"):
        call_command("register_policy", str(path), name="cmd-max", stdout=io.StringIO())
    call_command("register_policy", str(path), name="cmd-max", replace=True, stdout=io.StringIO())
    with pytest.raises(CommandError, match="no such file"):
        call_command("register_policy", str(tmp_path / "missing.pt"), name="x")
    (tmp_path / "garbage.pt").write_bytes(b"garbage")
    with pytest.raises(CommandError, match="garbage.pt: the file is not a policy checkpoint"):
        call_command("register_policy", str(tmp_path / "garbage.pt"), name="x")
    assert RegisteredPolicy.objects.count() == 1


# ---- the admin ----------------------------------------------------------------------------------

ADD_URL = "/admin/policies/registeredpolicy/add/"


def upload(data: bytes, name="uploaded", **fields):
    return {"name": name, "description": "uploaded in the admin",
            "checkpoint_file": SimpleUploadedFile("A.pt", data), **fields}


def test_a_checkpoint_is_uploaded_in_the_admin(admin_client, admin_user, tmp_path):
    assert admin_client.get(ADD_URL).status_code == 200
    response = admin_client.post(ADD_URL, upload(checkpoint_bytes(tmp_path, params=SMALL_BANDIT)))
    assert response.status_code == 302, response.context["adminform"].form.errors
    policy = RegisteredPolicy.objects.get(name="uploaded")
    assert policy.created_by == admin_user and policy.description == "uploaded in the admin"

    page = admin_client.get(f"/admin/policies/registeredpolicy/{policy.pk}/change/").content.decode()
    assert "policy:uploaded" in page and "&quot;target_rate&quot;: 0.7" in page and "&quot;objective&quot;" in page
    assert 'name="checkpoint' not in page  # the bytes cannot be edited after registration
    listing = admin_client.get("/admin/policies/registeredpolicy/").content.decode()
    assert "uploaded" in listing and "max" in listing

    response = admin_client.post(f"/admin/policies/registeredpolicy/{policy.pk}/change/",
                                 {"description": "better words"})
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.description == "better words" and policy.sha256 == hashlib.sha256(bytes(policy.checkpoint)).hexdigest()


@pytest.mark.parametrize("case, message", [
    ("garbage", "is not a policy checkpoint"),
    ("taken", "already registered"),
    ("too big", "is it the right file?"),
    ("bad name", "Enter a valid"),
])
def test_a_bad_upload_gets_a_clear_message(admin_client, tmp_path, monkeypatch, case, message):
    data = checkpoint_bytes(tmp_path, params=SMALL_BANDIT)
    fields = upload(data)
    if case == "garbage":
        fields = upload(b"garbage")
    elif case == "taken":
        policy_register(name="uploaded", data=data)
    elif case == "too big":
        monkeypatch.setattr("webapp.policies.admin.MAX_CHECKPOINT_BYTES", 100)
    else:
        fields = upload(data, name="no spaces allowed")
    response = admin_client.post(ADD_URL, fields)
    assert response.status_code == 200
    assert message in response.content.decode().replace("&#x27;", "'")
    assert RegisteredPolicy.objects.count() == (1 if case == "taken" else 0)


def test_an_uploaded_policy_may_replace_one_nobody_played(admin_client, tmp_path):
    policy_register(name="uploaded", data=checkpoint_bytes(tmp_path, params=SMALL_BANDIT))
    data = checkpoint_bytes(tmp_path, params=SMALL_BANDIT, seed=1)
    assert admin_client.post(ADD_URL, upload(data, replace="on")).status_code == 302
    assert RegisteredPolicy.objects.get().sha256 == hashlib.sha256(data).hexdigest()


def test_a_policy_a_condition_plays_cannot_be_deleted(admin_client, tmp_path):
    policy = register(tmp_path)
    make_study("bandit", conditions=[("gru", "policy:small-max", {}, 1)])
    page = admin_client.get(f"/admin/policies/registeredpolicy/{policy.pk}/change/").content.decode()
    assert "test-bandit" in page and "/delete/" not in page
    assert admin_client.post(f"/admin/policies/registeredpolicy/{policy.pk}/delete/", {"post": "yes"}).status_code == 403
    assert RegisteredPolicy.objects.exists()


def test_the_condition_inline_offers_the_checkpoints_trained_for_the_study(admin_client, tmp_path):
    register(tmp_path)  # 12 bandit trials, as the study below
    policy_register(name="full-length", data=checkpoint_bytes(tmp_path, seed=1))  # 100 trials
    policy_register(name="for-ipd", data=checkpoint_bytes(tmp_path, game="ipd"))
    study = make_study("bandit", status="draft")
    page = admin_client.get(f"/admin/studies/study/{study.pk}/change/").content.decode()
    assert 'value="policy:small-max"' in page and 'value="random_schedule"' in page
    assert "policy:full-length" not in page and "policy:for-ipd" not in page
    add_page = admin_client.get("/admin/studies/study/add/").content.decode()
    assert all(f'value="policy:{name}"' in add_page for name in ["small-max", "full-length", "for-ipd"])

    form = {
        "name": study.name, "slug": study.slug, "game": "bandit", "game_params": '{"trials": 12, "rewards_per_option": 3}',
        "consent_text": study.consent_text, "instructions": study.instructions,
        "comprehension_questions": json.dumps(study.comprehension_questions),
        "participant_cap_per_condition": "", "completion_code": "X", "completion_redirect_url": "",
        "money_per_point": "0.01", "show_up_fee": "0", "currency": "GBP",
        "practice_trials": "0", "break_every_trials": "0", "start_time_limit_minutes": "30",
        "idle_time_limit_minutes": "10", "close_grace_minutes": "5",
        "conditions-TOTAL_FORMS": "2", "conditions-INITIAL_FORMS": "1",
        "conditions-MIN_NUM_FORMS": "0", "conditions-MAX_NUM_FORMS": "1000",
        "conditions-0-id": str(study.conditions.get().pk), "conditions-0-study": str(study.pk),
        "conditions-0-name": "main", "conditions-0-adversary": "random_schedule",
        "conditions-0-adversary_params": "{}", "conditions-0-weight": "1",
        "conditions-1-study": str(study.pk), "conditions-1-name": "gru",
        "conditions-1-adversary": "policy:small-max", "conditions-1-adversary_params": "{}",
        "conditions-1-weight": "1",
    }
    response = admin_client.post(f"/admin/studies/study/{study.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert study.conditions.get(name="gru").adversary == "policy:small-max"

    # Parameters changed behind the admin's back: the saved choice stays visible, never silently switched.
    Study.objects.filter(pk=study.pk).update(game_params=make_game("bandit").params.to_mapping())
    page = admin_client.get(f"/admin/studies/study/{study.pk}/change/").content.decode()
    assert '<optgroup label="No longer offered">' in page
    assert '<option value="policy:small-max" selected>' in page


# ---- serving ------------------------------------------------------------------------------------

def test_a_condition_with_a_registered_policy_validates(db, tmp_path):
    register(tmp_path)
    study = make_study("bandit", conditions=[("gru", "policy:small-max", {}, 1)])
    condition = study.conditions.get()
    policy = condition.make_policy()
    assert policy is registered_policy_load("small-max") and policy.name == "gru"


@pytest.mark.parametrize("game, params, adversary, adversary_params, field, message", [
    ("ipd", None, "policy:small-max", {}, "adversary", "policy 'small-max' plays bandit, not ipd"),
    ("bandit", {}, "policy:small-max", {}, "adversary",
     "trained for other bandit parameters: rewards_per_option 3 (this study: 25), trials 12 (this study: 100)"),
    ("bandit", {"trials": 12, "rewards_per_option": 3, "target_option": 1}, "policy:small-max", {}, "adversary",
     "target_option 0 (this study: 1)"),
    ("bandit", None, "policy:nobody", {}, "adversary", "no registered policy named 'nobody'"),
    ("bandit", None, "policy:small-max", {"hidden_size": 8}, "adversary_params", "takes no parameters"),
])
def test_a_policy_that_does_not_fit_the_study_is_rejected(db, tmp_path, game, params, adversary,
                                                          adversary_params, field, message):
    register(tmp_path)
    study = make_study(game, params=params, status="draft")
    condition = Condition(study=study, name="gru", adversary=adversary, adversary_params=adversary_params)
    with pytest.raises(ValidationError) as error:
        condition.full_clean()
    assert any(message in text for text in error.value.message_dict[field]), error.value.message_dict


def test_the_registered_adversary_is_locked_once_participants_joined(db, tmp_path):
    register(tmp_path)
    register(tmp_path, name="other", seed=1)
    study = make_study("bandit", conditions=[("gru", "policy:small-max", {}, 1)])
    make_player(study)
    condition = study.conditions.get()
    condition.adversary = "policy:other"
    with pytest.raises(ValidationError, match="cannot change once participants"):
        condition.full_clean()


@pytest.mark.django_db(transaction=True)
async def test_a_whole_game_is_played_against_a_registered_checkpoint_and_exported(tmp_path):
    db = database_sync_to_async
    await db(register)(tmp_path)
    study = await db(make_study)("bandit", conditions=[("gru", "policy:small-max", {}, 1)])
    participant = await db(make_player)(study)
    communicator, state = await connect(participant.token)
    current, results = state["current"], []
    while current is not None:
        choice = scripted_choice("bandit", current["trial"])
        result = await choose(communicator, current["trial"], choice["choice"], choice["rt_ms"])
        assert result["type"] == "result", result
        results.append(result)
        current = result["next"]
    await communicator.disconnect()
    assert len(results) == participant.episode_length == SMALL_BANDIT["trials"] and results[-1]["done"]

    frame = await db(trials_frame)(study=study)
    assert len(frame) == SMALL_BANDIT["trials"]
    assert set(frame["adversary"]) == {"policy:small-max"} and set(frame["adversary_params"]) == {"{}"}
    assert frame["adversary_probs"].notna().all()
    # The trial table is the truth: a rebuilt game replays every stored trial through the checkpoint.
    from webapp.play.services import live_game_load
    from webapp.studies.models import Participant

    rebuilt = await db(lambda: live_game_load(participant=Participant.objects.get(pk=participant.pk)))()
    assert rebuilt.done and rebuilt.trial_index == SMALL_BANDIT["trials"]


# ---- the shipped defaults -----------------------------------------------------------------------

def test_seed_demo_registers_the_default_checkpoints_and_adds_their_conditions(db, tmp_path, settings):
    defaults = tmp_path / "defaults"
    defaults.mkdir()
    (defaults / "bandit-max.pt").write_bytes(checkpoint_bytes(tmp_path, provenance={}))  # default 100 trials
    settings.SHAPING_LAB_DEFAULT_POLICIES_DIR = defaults

    out = io.StringIO()
    call_command("seed_demo", stdout=out, stderr=io.StringIO())
    policy = RegisteredPolicy.objects.get()
    assert (policy.name, policy.game, policy.objective) == ("default-bandit-max", "bandit", "max")
    assert "default-bandit-max: registered" in out.getvalue()
    demo = Study.objects.get(slug="demo-bandit")
    assert dict(demo.conditions.values_list("name", "adversary")) == {
        "random-schedule": "random_schedule", "max": "policy:default-bandit-max"}
    assert demo.status == Study.Status.LIVE
    assert not Condition.objects.filter(adversary__startswith="policy:").exclude(study=demo).exists()

    snapshot = (list(RegisteredPolicy.objects.values_list("name", "sha256", "created_at")),
                list(Condition.objects.values_list("study__slug", "name", "adversary")))
    out = io.StringIO()
    call_command("seed_demo", stdout=out, stderr=io.StringIO())
    assert "default-bandit-max: unchanged" in out.getvalue()
    assert snapshot == (list(RegisteredPolicy.objects.values_list("name", "sha256", "created_at")),
                        list(Condition.objects.values_list("study__slug", "name", "adversary")))


def test_seed_demo_works_without_default_checkpoints(db, tmp_path, settings):
    settings.SHAPING_LAB_DEFAULT_POLICIES_DIR = tmp_path / "missing"
    call_command("seed_demo", stdout=io.StringIO())
    assert not RegisteredPolicy.objects.exists() and Study.objects.filter(slug="demo-bandit").exists()


def test_register_default_policies_replaces_a_changed_file_only_while_unplayed(db, tmp_path, settings):
    settings.SHAPING_LAB_DEFAULT_POLICIES_DIR = tmp_path
    path = tmp_path / "bandit-max.pt"
    path.write_bytes(checkpoint_bytes(tmp_path, params=SMALL_BANDIT))
    (tmp_path / "notagame-max.pt").write_bytes(b"ignored")
    (tmp_path / "ipd-wrong.pt").write_bytes(checkpoint_bytes(tmp_path, game="bandit", seed=5))
    out = io.StringIO()
    call_command("register_default_policies", stdout=out)
    assert "default-bandit-max: registered" in out.getvalue()
    assert "default-notagame-max: skipped: not named <game>-<objective>.pt" in out.getvalue()
    assert "default-ipd-wrong: skipped: the checkpoint is for bandit, not ipd" in out.getvalue()
    assert list(RegisteredPolicy.objects.values_list("name", flat=True)) == ["default-bandit-max"]

    path.write_bytes(checkpoint_bytes(tmp_path, params=SMALL_BANDIT, seed=1))
    results = {r.name: r for r in policy_register_defaults()}
    assert results["default-bandit-max"].outcome == "replaced"
    assert RegisteredPolicy.objects.get(name="default-bandit-max").sha256 == hashlib.sha256(path.read_bytes()).hexdigest()

    make_player(make_study("bandit", conditions=[("max", "policy:default-bandit-max", {}, 1)]))
    path.write_bytes(checkpoint_bytes(tmp_path, params=SMALL_BANDIT, seed=2))
    result = {r.name: r for r in policy_register_defaults()}["default-bandit-max"]
    assert result.outcome == "skipped" and "participants have played it" in result.message
