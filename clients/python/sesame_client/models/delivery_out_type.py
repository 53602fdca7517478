from enum import StrEnum


class DeliveryOutType(StrEnum):
    APPOINTMENT_CANCELLED = "appointment.cancelled"
    APPOINTMENT_CONFIRMED = "appointment.confirmed"
    APPOINTMENT_CREATED = "appointment.created"
    APPOINTMENT_EXPIRED = "appointment.expired"
    APPOINTMENT_HELD = "appointment.held"
    APPOINTMENT_REVIVED = "appointment.revived"
    APPOINTMENT_UPDATED = "appointment.updated"

    def __str__(self) -> str:
        return str(self.value)
