from enum import StrEnum


class ListAppointmentsStatus(StrEnum):
    ACTIVE = "active"
    ALL = "all"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return str(self.value)
