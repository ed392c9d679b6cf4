"""A lifecycle definition written as readable YAML (for `lifecycle export` and config-as-code files)."""

from __future__ import annotations

from typing import Any

import yaml


def to_yaml(definition: dict[str, Any]) -> str:
    """The definition as block YAML, with one-line lists and actions."""
    return yaml.dump(definition, Dumper=_ReadableDumper, sort_keys=False, allow_unicode=True, width=100)


class _FlowMapping(dict[str, Any]):
    """A mapping written on one line (each action), where a block would only add height."""


class _ReadableDumper(yaml.SafeDumper):
    """Block mappings, one-line lists and actions, and `'': [...]` rather than YAML's `? ''` form."""

    def check_simple_key(self) -> bool:
        event = self.event
        if isinstance(event, yaml.ScalarEvent) and event.value == "":
            return True
        return super().check_simple_key()

    def represent_list(self, data: Any) -> yaml.SequenceNode:
        items = [_FlowMapping(item) if isinstance(item, dict) else item for item in data]
        flow = all(not isinstance(item, dict | list) for item in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=flow)

    def represent_flow_mapping(self, data: Any) -> yaml.MappingNode:
        return self.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)


_ReadableDumper.add_representer(list, _ReadableDumper.represent_list)
_ReadableDumper.add_representer(_FlowMapping, _ReadableDumper.represent_flow_mapping)
