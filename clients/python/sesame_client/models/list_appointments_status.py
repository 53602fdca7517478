from enum import StrEnum


class ListAppointmentsStatus(StrEnum):
    ACTIVE = "active"
    ALL = "all"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    HELD = "held"

    def __str__(self) -> str:
        return str(self.value)
