"""YAML loading that remembers the line of every mapping key and list item."""

from __future__ import annotations

import os

import yaml

from rules.lines import LineDict, LineList

__all__ = ["LineDict", "LineList", "display_path", "line_of", "load_yaml", "yaml_files"]


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when available: 5-10x faster
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise yaml.constructor.ConstructorError(None, None, "unhashable key", key_node.start_mark)
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
# keep dates and times as the strings the author wrote
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def display_path(path: str) -> str:
    """A path relative to the working directory when it lies below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # pragma: no cover - other drive on Windows
        return path
    return path if rel.startswith("..") else rel


def load_yaml(path: str):
    """Parse one YAML file; raise PackError with the line of a syntax error."""
    from rules.errors import PackError

    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise PackError(display_path(path), 0, "file", f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise PackError(display_path(path), 0, "file", "not UTF-8") from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise PackError(display_path(path), line, "yaml", str(exc.problem or exc).strip()) from None


def line_of(node, path: list) -> int:
    """Best line for a jsonschema error path inside a LineDict/LineList tree."""
    line = getattr(node, "line", 1)
    cur = node
    for part in path:
        if isinstance(cur, LineDict) and part in cur:
            line = cur.key_lines.get(part, line)
            cur = cur[part]
        elif isinstance(cur, LineList) and isinstance(part, int) and part < len(cur):
            line = cur.item_lines[part]
            cur = cur[part]
        else:
            break
        line = getattr(cur, "line", line) if isinstance(cur, LineDict | LineList) and not isinstance(
            cur, LineDict
        ) else line
    return line


def yaml_files(folder: str):
    """(display path, parsed data) of each non-empty .yaml/.yml file in ``folder``, by name."""
    for fname in sorted(os.listdir(folder)):
        if not fname.endswith((".yaml", ".yml")):
            continue
        path = os.path.join(folder, fname)
        data = load_yaml(path)
        if data is not None:
            yield display_path(path), data
