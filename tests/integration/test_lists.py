"""`among`: a column among a list of values finds the rows an IN list finds, on each
database, for no value, one, many (repeated, or matching nothing), of numbers and of text;
on PostgreSQL the list goes as one parameter however long it is."""

from __future__ import annotations

from sqlalchemy import select

from custody.db.lists import among
from custody.db.models.lifecycle import Category
from custody.services.system import System


def test_among_finds_what_an_in_list_finds(system: System) -> None:
    with system.unit_of_work() as uow:
        session = uow.session
        every = dict(session.execute(select(Category.id, Category.name)).all())
        assert len(every) >= 3, "the categories a new installation has"
        ids = sorted(every)
        asked = [[], [ids[0]], [ids[0], ids[-1], ids[0]], [*ids, 10_000, 10_001], [10_000]]
        for wanted in asked:
            found = session.scalars(select(Category.id).where(among(session, Category.id, wanted)))
            assert sorted(found) == sorted(set(wanted) & set(ids)), wanted
        names = [every[ids[1]], "no such category"]
        named = session.scalars(select(Category.id).where(among(session, Category.name, names)))
        assert list(named) == [ids[1]]


def test_a_long_list_is_one_parameter_on_postgresql(system: System) -> None:
    with system.unit_of_work() as uow:
        session = uow.session
        condition = among(session, Category.id, range(700))
        compiled = select(Category.id).where(condition).compile(bind=session.get_bind())
        parameters = compiled.construct_params()
        if session.get_bind().dialect.name == "postgresql":
            assert "ANY" in str(compiled) and len(parameters) == 1
        else:
            assert " IN " in str(compiled)
        assert len(list(session.scalars(select(Category.id).where(condition)))) >= 3
