"""Lifecycles: RT's per-queue status machine, as validated data, and where desks keep them.

A lifecycle is a YAML (hence also JSON) mapping with RT's keys; anything else is refused:

```yaml
name: default
initial: [new]                       # ordered; at least one
active: [open, stalled]              # ordered
inactive: [resolved, rejected, deleted]
defaults: {on_create: new, approved: open, denied: rejected,
           reminder_on_open: open, reminder_on_resolve: resolved}
transitions:                         # from -> ordered list of to
  '': [new, open, resolved]          # '' = at creation
  new: [open, stalled, resolved, rejected, deleted]
  '*': [deleted]                     # '*' = from any status (a Tessera extension)
rights:                              # "FROM -> TO" with * wildcards
  '* -> deleted': DeleteTicket
  '* -> *': ModifyTicket
actions:                             # what menus offer, in this order
  - {from: new, to: open, label: Open It, update: respond}
  - {from: '*', to: deleted, label: Delete, update: none}
maps:                                # one-way: from THIS lifecycle to the one named
  approvals: {new: new, open: open}
```

One module per concept; the first six are pure (no database), and nothing is imported here, so
loading the model does not load SQLAlchemy:

* `rules`: the words (categories, `*`, `deleted`, default rights) and the transition rules.
* `errors`: `LifecycleInvalid`, `TransitionRefused`, `TransitionForbidden`; how refusals name paths.
* `validate`: RT's `ValidateLifecycle` checks, refusing instead of warning; cross-lifecycle maps.
* `model`: `Lifecycle` (with `Action`, `Defaults`), the validated look-ups tickets, menus, search need.
* `dump`: readable YAML out. `load`: YAML or JSON text (or a stored definition) in.
* `builtin`: the lifecycles Tessera ships (RT's `default` and `approvals`).
* `store`: the database's lifecycles (`tessera lifecycle list/show/export/apply`).
* `check`: a dry-run of `apply`, for the TUI's editor.
"""
