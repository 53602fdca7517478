from enum import StrEnum


class AppointmentInStatus(StrEnum):
    ACTIVE = "active"
    HELD = "held"

    def __str__(self) -> str:
        return str(self.value)
