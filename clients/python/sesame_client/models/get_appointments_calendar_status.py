from enum import StrEnum


class GetAppointmentsCalendarStatus(StrEnum):
    ACTIVE = "active"
    ALL = "all"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    HELD = "held"

    def __str__(self) -> str:
        return str(self.value)
