"""Errors the warehouse raises; their message is the one-line error users see."""


class WarehouseError(Exception):
    """Something the user can act on: the message says what and how."""


class WriterBusy(WarehouseError):
    """Another process holds the writer lock."""


class IngestError(WarehouseError):
    """A whole file was refused (nothing from it was written)."""
