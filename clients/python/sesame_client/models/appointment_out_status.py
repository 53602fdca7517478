from enum import StrEnum


class AppointmentOutStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    HELD = "held"

    def __str__(self) -> str:
        return str(self.value)
