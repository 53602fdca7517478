"""The book as an RFC 5545 iCalendar feed, for calendar apps that subscribe to a URL.

Built with the `icalendar` library, never with string templates: it folds long lines,
escapes text and writes UTC times as the RFC wants. Knows nothing about Flask or the database.
"""

from collections.abc import Iterable

from icalendar import Calendar, Event

from domain import ACTIVE, CANCELLED, EXPIRED, HELD, StoredAppointment

PRODUCT_ID = "-//Sesame//Appointments//EN"
# RFC 5545 3.8.1.11: a live hold is tentative; a released one is cancelled like a booking.
_STATUS = {ACTIVE: "CONFIRMED", HELD: "TENTATIVE", CANCELLED: "CANCELLED"}


def uid(appointment_id: int) -> str:
    """Stable per appointment, so a subscribed app updates the event instead of adding one."""
    return f"appointment-{appointment_id}@sesame"


def render(appointments: Iterable[StoredAppointment], *, name: str) -> bytes:
    """One VEVENT per appointment; SEQUENCE is the version, so every change is an update."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    for appointment in appointments:
        if appointment.status == EXPIRED:
            continue  # a hold that ran out never was an event
        event = Event()
        event.add("uid", uid(appointment.id))
        # Without METHOD, DTSTAMP is when the event was last revised (RFC 5545 3.8.7.2).
        event.add("dtstamp", appointment.updated_at)
        event.add("dtstart", appointment.start)
        event.add("dtend", appointment.end)
        event.add("sequence", appointment.version)
        event.add("summary", f"Appointment {appointment.id} ({appointment.calendar})")
        event.add("status", _STATUS[appointment.status])
        calendar.add_component(event)
    return calendar.to_ical()
