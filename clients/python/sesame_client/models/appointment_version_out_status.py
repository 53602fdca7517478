from enum import StrEnum


class AppointmentVersionOutStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return str(self.value)
