"""The TUI's admin area: scrips, templates, lifecycles, queues, custom fields."""
