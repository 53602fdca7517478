"""Contains all the data models used in inputs/outputs"""

from .appointment_in import AppointmentIn
from .appointment_in_status import AppointmentInStatus
from .appointment_out import AppointmentOut
from .appointment_out_status import AppointmentOutStatus
from .appointment_version_out import AppointmentVersionOut
from .appointment_version_out_status import AppointmentVersionOutStatus
from .availability_out import AvailabilityOut
from .busy_out import BusyOut
from .calendar_settings import CalendarSettings
from .calendar_settings_hours_type_0 import CalendarSettingsHoursType0
from .calendar_settings_overrides import CalendarSettingsOverrides
from .changes_out import ChangesOut
from .delivery_out import DeliveryOut
from .delivery_out_type import DeliveryOutType
from .error_out import ErrorOut
from .error_out_checks import ErrorOutChecks
from .error_out_errors import ErrorOutErrors
from .free_out import FreeOut
from .get_appointments_calendar_status import GetAppointmentsCalendarStatus
from .health_out import HealthOut
from .list_appointments_status import ListAppointmentsStatus
from .pagination_metadata import PaginationMetadata
from .problem_out import ProblemOut
from .problem_out_checks import ProblemOutChecks
from .problem_out_errors import ProblemOutErrors
from .readiness_out import ReadinessOut
from .readiness_out_replicas import ReadinessOutReplicas
from .slot_out import SlotOut
from .slots_out import SlotsOut
from .webhook_created_out import WebhookCreatedOut
from .webhook_created_out_status import WebhookCreatedOutStatus
from .webhook_in import WebhookIn
from .webhook_out import WebhookOut
from .webhook_out_status import WebhookOutStatus

__all__ = (
    "AppointmentIn",
    "AppointmentInStatus",
    "AppointmentOut",
    "AppointmentOutStatus",
    "AppointmentVersionOut",
    "AppointmentVersionOutStatus",
    "AvailabilityOut",
    "BusyOut",
    "CalendarSettings",
    "CalendarSettingsHoursType0",
    "CalendarSettingsOverrides",
    "ChangesOut",
    "DeliveryOut",
    "DeliveryOutType",
    "ErrorOut",
    "ErrorOutChecks",
    "ErrorOutErrors",
    "FreeOut",
    "GetAppointmentsCalendarStatus",
    "HealthOut",
    "ListAppointmentsStatus",
    "PaginationMetadata",
    "ProblemOut",
    "ProblemOutChecks",
    "ProblemOutErrors",
    "ReadinessOut",
    "ReadinessOutReplicas",
    "SlotOut",
    "SlotsOut",
    "WebhookCreatedOut",
    "WebhookCreatedOutStatus",
    "WebhookIn",
    "WebhookOut",
    "WebhookOutStatus",
)
