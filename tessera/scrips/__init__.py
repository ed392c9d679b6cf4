"""Scrips: RT's condition + action + template, run by core on every unit of work.

The engine (`engine`), its conditions and actions, the Jinja sandbox, the outgoing messages a
notification composes (`compose`; the mail layer above delivers them), and the admin's tools:
specs, editing, revisions, checks, the catalog file, dry-runs.
"""
