"""Every fleet and identity use case that acts for a person is told who, always.

A `principal` that may be left out is how the fleet once let any in-process caller change
it unchecked (`authorise` waved None through): no use case of these areas may have one.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from types import ModuleType

import pytest

from custody.domain.access import FIRST_USER_ROLE, SystemAction, Viewer, may
from custody.services import fleet, identity

AREAS = (fleet, identity)


def _modules(package: ModuleType) -> list[ModuleType]:
    return [
        importlib.import_module(f"{package.__name__}.{info.name}")
        for info in pkgutil.iter_modules(package.__path__)
    ]


def use_cases_taking_a_principal() -> dict[str, Callable[..., object]]:
    """The public functions of the areas' modules (their own, not imported) with a principal."""
    found: dict[str, Callable[..., object]] = {}
    for package in AREAS:
        for module in _modules(package):
            for name, function in inspect.getmembers(module, inspect.isfunction):
                if name.startswith("_") or function.__module__ != module.__name__:
                    continue
                if "principal" in inspect.signature(function).parameters:
                    found[f"{module.__name__}.{name}"] = function
    return found


USE_CASES = use_cases_taking_a_principal()


def test_the_check_finds_the_use_cases_it_is_about() -> None:
    # Not vacuous: the use cases people reach through the API are among those checked.
    for name in (
        "custody.services.fleet.registry.add_camera",
        "custody.services.fleet.registry.add_dock",
        "custody.services.fleet.assignments.issue",
        "custody.services.fleet.importing.import_csv",
        "custody.services.fleet.views.list_cameras",
        "custody.services.fleet.rollout.set_phase",
        "custody.services.fleet.health.alerts",
        "custody.services.identity.users.create_user",
        "custody.services.identity.tokens.list_tokens",
        "custody.services.identity.users.update_user",
        "custody.services.identity.signin.my_account",
    ):
        assert name in USE_CASES
    assert len(USE_CASES) >= 30


@pytest.mark.parametrize("name", sorted(USE_CASES))
def test_a_principal_is_never_optional(name: str) -> None:
    parameter = inspect.signature(USE_CASES[name]).parameters["principal"]
    assert parameter.default is inspect.Parameter.empty, f"{name}: principal has a default"
    # Annotations are strings here (from __future__ import annotations).
    assert "None" not in str(parameter.annotation), f"{name}: principal may be None"


# Entry points (they take the `system`) that act for no person, each for its reason. A new
# one must take a principal, or be added here with its reason. (Functions that take a unit
# of work are parts of a use case that has asked already.)
NOT_FOR_A_PERSON = {
    # What a dock says, authenticated by its own token: a dock is not a person.
    "custody.services.fleet.registry.authenticate_dock": "a dock's token",
    "custody.services.fleet.registry.report_camera": "a dock",
    "custody.services.fleet.registry.heartbeat": "a dock",
    "custody.services.fleet.assignments.checkout": "a dock, for the card presented at it",
    # Finding out who someone is.
    "custody.services.identity.tokens.authenticate_token": "authentication",
    "custody.services.identity.users.verify_password": "authentication",
    "custody.services.identity.users.principal_named": "the command line's --as",
    "custody.services.identity.signin.sign_in": "authentication",
    "custody.services.identity.signin.device_cookie": "authentication: a browser's cookie",
    "custody.services.identity.signin.device_of": "authentication: a browser's cookie",
    "custody.services.identity.throttle.claim": "authentication: before anyone is known",
    "custody.services.identity.throttle.succeeded": "authentication: before anyone is known",
    # A share's recipient proving a one-time code: nobody of the force, not yet anyone.
    "custody.services.identity.throttle.claim_keys": "authentication: before anyone is known",
    "custody.services.identity.signin.authenticate_session": "authentication",
    "custody.services.identity.signin.sign_out": "the session's own cookie",
    "custody.services.identity.resets.complete_reset": "authentication: the reset's own code",
    # The one user nobody adds: the first administrator of a new installation.
    "custody.services.identity.setup.first_administrator": "bootstrap",
    "custody.services.identity.setup.ensure_admin": "bootstrap",
    # The installation's second administrator: made by the server's operator, not by anyone
    # an administrator could be (docs/access.md).
    "custody.services.identity.setup.installation_administrator": "bootstrap",
    # Settings only, no record of anyone or anything.
    "custody.services.fleet.health.policy_for": "configuration",
}


def test_every_entry_point_acts_for_a_person_or_says_why_not() -> None:
    unexplained = []
    for package in AREAS:
        for module in _modules(package):
            for name, function in inspect.getmembers(module, inspect.isfunction):
                if name.startswith("_") or function.__module__ != module.__name__:
                    continue
                parameters = list(inspect.signature(function).parameters)
                qualified = f"{module.__name__}.{name}"
                acts = parameters[:1] == ["system"] and "principal" not in parameters
                if acts and qualified not in NOT_FOR_A_PERSON:
                    unexplained.append(qualified)
    assert unexplained == []
    for qualified in NOT_FOR_A_PERSON:  # and the list names only what exists
        module, _, name = qualified.rpartition(".")
        assert callable(getattr(importlib.import_module(module), name, None)), qualified


def test_the_first_user_may_add_the_others() -> None:
    # custody init makes one user without asking anyone; every later one is added by
    # someone the rules let manage users, so the first must be such a one.
    assert may(Viewer(FIRST_USER_ROLE, None, None), SystemAction.MANAGE_USERS)
