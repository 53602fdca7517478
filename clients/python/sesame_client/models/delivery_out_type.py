from enum import StrEnum


class DeliveryOutType(StrEnum):
    APPOINTMENT_CANCELLED = "appointment.cancelled"
    APPOINTMENT_CREATED = "appointment.created"
    APPOINTMENT_REVIVED = "appointment.revived"
    APPOINTMENT_UPDATED = "appointment.updated"

    def __str__(self) -> str:
        return str(self.value)
