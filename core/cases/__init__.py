"""The case engine: what every module's work item shares (issue 3).

A **case** (事项/案件) is a petition, a dispute, a hazard, a patrol clue … A plugin declares
its case type — states, transitions, deadline rules, number format — with
``sdk.CaseType`` from the ``pingan_case_types`` hook; the core stores the case, enforces
the workflow, keeps the timeline, computes and stores deadlines, runs diversion (分/合),
supervision (督办/催办), reminders and escalation. Plugin-specific fields live in the
plugin's own tables keyed by the case id.

Modules, in the order a newcomer should read them:

- ``types``       the declarations a plugin writes (CaseType, State, Transition, DeadlineRule)
- ``models``      the tables
- ``settings``    a county's per-type settings (number format, deadline overrides, reminders)
  and its working-day calendar
- ``access``      who may see and act on a case (one SQL predicate, one check)
- ``timeline``    events on a case
- ``deadlines``   starting, stopping, pausing and extending time limits
- ``engine``      register, transition, divert, tasks, assign, comment
- ``supervision`` 督办 / 催办, replies, escalation
- ``intake``      the one window (统一受理), first-inquiry responsibility, sorting
- ``sweep``       the periodic job that finds due and overdue work and reminds, idempotently
"""
