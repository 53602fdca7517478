from enum import StrEnum


class GetAppointmentsCalendarStatus(StrEnum):
    ACTIVE = "active"
    ALL = "all"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return str(self.value)
