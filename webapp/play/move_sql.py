"""The statements of one move (`services.trial_submit`), built once per process from the models.

Building and compiling these queries through the ORM on every move was most of a move's CPU time
in a worker (docs/deploy.md, Load; `experiments/bench_move.py` prints the per-move figures). Here
each statement is written once, from the models' own table and column names; parameters are
adapted by the models' fields and results converted by Django's converters, exactly as the ORM
does, so the statements read and write the same values on SQLite and PostgreSQL. Everything else
(rare paths, reports, the admin) uses the ORM.

These run inside the caller's transaction (`services.trial_submit`), on the thread's connection.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from webapp.studies.models import Participant, Study

from .models import Trial


@dataclass(frozen=True)
class LockedParticipant:
    """What may have changed on a participant (and its study) since it was loaded."""

    status: str
    last_seen_at: datetime | None
    study: Study  # unsaved: the fields `ending_due` reads (status, close, time limits)


_PARTICIPANT_FIELDS = ("status", "last_seen_at")
_STUDY_FIELDS = ("status", "closed_at", "close_grace_minutes", "start_time_limit_minutes",
                 "idle_time_limit_minutes")
_TRIAL_FIELD_BY_ATTNAME = {field.attname: field for field in Trial._meta.concrete_fields}
_TRIAL_FIELDS = tuple(_TRIAL_FIELD_BY_ATTNAME)
_COMPLETED_FIELDS = ("participant_action", "participant_reward", "adversary_reward", "reaction_time_ms",
                     "responded_at")
_INSERTED_FIELDS = tuple(name for name in _TRIAL_FIELDS if name != "id")


def participant_lock(participant_id: int) -> LockedParticipant:
    """Lock the participant's row (its study's stays unlocked) and read what may have changed.

    The lock is the whole of one participant's move being one writer at a time, across tabs and
    workers; locking the study's row too would queue every move of the study behind one another.
    """
    sql, columns = _statements().lock
    with connection.cursor() as cursor:
        cursor.execute(sql, [participant_id])
        row = _converted(cursor.fetchone(), columns)
    status, last_seen_at, *study = row
    return LockedParticipant(status, last_seen_at, Study(**dict(zip(_STUDY_FIELDS, study))))


def newest_trial(participant_id: int) -> Trial | None:
    """The participant's newest trial row of either block (practice rows come first)."""
    sql, columns = _statements().newest
    with connection.cursor() as cursor:
        cursor.execute(sql, [participant_id])
        row = cursor.fetchone()
    return None if row is None else Trial.from_db(connection.alias, _TRIAL_FIELDS, _converted(row, columns))


def trial_insert(trial: Trial) -> Trial:
    """Insert a new trial row and set its id."""
    sql, returns_id = _statements().insert
    params = [_prepared(trial, name) for name in _INSERTED_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        trial.id = (cursor.fetchone()[0] if returns_id
                    else connection.ops.last_insert_id(cursor, Trial._meta.db_table, "id"))
    trial._state.adding, trial._state.db = False, connection.alias
    return trial


def trial_complete(trial: Trial) -> None:
    """Write the participant's side of a trial row that exists (its choice, rewards and times)."""
    params = [_prepared(trial, name) for name in _COMPLETED_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(_statements().complete, [*params, trial.id])


@dataclass(frozen=True)
class _Statements:
    lock: tuple[str, list]  # SQL, and the columns whose converters apply to its result
    newest: tuple[str, list]
    insert: tuple[str, bool]  # SQL, and whether it returns the new id
    complete: str


@functools.cache
def _statements_for(vendor: str) -> _Statements:
    del vendor  # the cache key: statements differ between backends, never between connections
    quote, features = connection.ops.quote_name, connection.features
    trial, participant, study = (model._meta.db_table for model in (Trial, Participant, Study))

    def column(model, name: str) -> str:
        return quote(model._meta.get_field(name).column)

    lock_columns = ([Participant._meta.get_field(name).get_col("p") for name in _PARTICIPANT_FIELDS]
                    + [Study._meta.get_field(name).get_col("s") for name in _STUDY_FIELDS])
    for_update = ""
    if features.has_select_for_update_of:
        for_update = " " + connection.ops.for_update_sql(of=("p",))
    elif features.has_select_for_update:
        for_update = " " + connection.ops.for_update_sql()
    lock = (f"SELECT {', '.join(f'p.{column(Participant, n)}' for n in _PARTICIPANT_FIELDS)}, "
            f"{', '.join(f's.{column(Study, n)}' for n in _STUDY_FIELDS)} "
            f"FROM {quote(participant)} p INNER JOIN {quote(study)} s ON s.{column(Study, 'id')} = "
            f"p.{column(Participant, 'study')} WHERE p.{column(Participant, 'id')} = %s{for_update}")

    trial_columns = [_TRIAL_FIELD_BY_ATTNAME[name].get_col(trial) for name in _TRIAL_FIELDS]
    newest = (f"SELECT {', '.join(column(Trial, n) for n in _TRIAL_FIELDS)} FROM {quote(trial)} "
              f"WHERE {column(Trial, 'participant')} = %s "
              f"ORDER BY {column(Trial, 'practice')} ASC, {column(Trial, 'index')} DESC LIMIT 1")

    returns_id = features.can_return_columns_from_insert
    insert = (f"INSERT INTO {quote(trial)} ({', '.join(column(Trial, n) for n in _INSERTED_FIELDS)}) "
              f"VALUES ({', '.join(['%s'] * len(_INSERTED_FIELDS))})"
              + (f" RETURNING {column(Trial, 'id')}" if returns_id else ""))
    complete = (f"UPDATE {quote(trial)} SET {', '.join(f'{column(Trial, n)} = %s' for n in _COMPLETED_FIELDS)} "
                f"WHERE {column(Trial, 'id')} = %s")
    return _Statements((lock, lock_columns), (newest, trial_columns), (insert, returns_id), complete)


def _statements() -> _Statements:
    return _statements_for(connection.vendor)


def _converted(row: tuple, columns: list) -> list:
    """A row as the ORM would read it: each value through its column's converters (SQLite's
    datetimes made aware, JSON decoded, ...)."""
    values = list(row)
    for i, col in enumerate(columns):
        for converter in connection.ops.get_db_converters(col) + col.get_db_converters(connection):
            values[i] = converter(values[i], col, connection)
    return values


def _prepared(trial: Trial, name: str):
    return _TRIAL_FIELD_BY_ATTNAME[name].get_db_prep_save(getattr(trial, name), connection)
