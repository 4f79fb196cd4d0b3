"""Facts as data: type tables, GPU specs, the model catalog. Each table names its source."""


def load_json_data(path, max_bytes: int):
    """A JSON data file shipped with sizeup (or given by the user), read whole under a size cap.

    One line (:class:`~sizeup.errors.SizeupError`) for a missing, oversized or broken file; the
    caller validates the shape. Shared by the precision table, the evidence table and the GGUF
    repo table.
    """
    import json
    from pathlib import Path

    from ..errors import SizeupError

    p = Path(path)
    try:
        raw = p.read_bytes()
        if len(raw) > max_bytes:
            raise SizeupError(f"{p.name} is larger than {max_bytes} bytes")
        return json.loads(raw)
    except (OSError, ValueError) as e:
        raise SizeupError(f"cannot read {p.name}: {e}") from None
