"""Operations: incidents, changes and their clocks (planned)."""

from ui.pending import Planned, pending_page

pending_page(
    Planned(
        title="Operations",
        will_show=(
            "Incidents with MTTA, MTTR and regulatory clocks (AI Act Art. 73, GDPR Art. 33)",
            "Changes with CAB approval, emergency and retrospective approvals, change failure rate",
            "Deployments and version stages on a timeline, rollbacks",
        ),
        planned_in="issue #8 (Costs and operations)",
        scope_use="model, analysis window, data bound",
    )
)
