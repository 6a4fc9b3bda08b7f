"""Dates in force that several reports cite, kept as configuration rather than code (research
spec §0.2: the Digital Omnibus on AI moved the Annex III date; verify against the Official
Journal before each release)."""

from __future__ import annotations

from datetime import UTC, datetime

AI_ACT_APPLICATION_DATES = {
    "Annex III stand-alone high-risk systems": "2027-12-02",
    "Annex I product-embedded high-risk systems": "2028-08-02",
}
ANNEX_III = "Annex III stand-alone high-risk systems"


def ai_act_applies(at: datetime, category: str = ANNEX_III) -> bool:
    """Whether the high-risk obligations of ``category`` apply at ``at`` (UTC)."""
    start = datetime.fromisoformat(AI_ACT_APPLICATION_DATES[category]).replace(tzinfo=UTC)
    return (at if at.tzinfo else at.replace(tzinfo=UTC)) >= start
