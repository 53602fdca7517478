from enum import StrEnum


class WebhookCreatedOutStatus(StrEnum):
    ACTIVE = "active"
    FAILING = "failing"

    def __str__(self) -> str:
        return str(self.value)
