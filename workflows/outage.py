"""Outage: `outage-{outage_id}`, the problem that incidents are linked to as calls come in,
resolved together with one email per customer (seed 004, "Creating an Incident (Outages)").

Started by whichever update comes first (`report_potential` from HDQA or `link_incident` from
any agent, both update-with-start), so two people acting at the same moment still make one
outage. The run loop is a reconciler: it creates the problem once the outage is confirmed (or
takes the planned outage's), links every incident not yet linked in the ITSM, and when SNCC
resolves, resolves each incident still linked (in the ITSM too) and emails its customer once,
then assigns the follow-up. Handlers only validate and record; every side effect is keyed.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr loads it lazily)

    from domain import search_attributes as sa
    from domain.desk_messages import ItsmAddNote, ItsmUpdate
    from domain.itsm import NewNote, Note, ServiceDeskTicket, TicketChange
    from domain.outages import (
        OPEN,
        WORKFLOW_TYPE,
        AssignFollowUp,
        Confirm,
        Dismiss,
        IncidentAction,
        LinkedIncident,
        LinkIncident,
        LinkRequest,
        OutageInput,
        OutageProjection,
        OutagesSpec,
        OutageState,
        OutageStatus,
        ProblemRequest,
        Refused,
        ReportPotential,
        Resolve,
        ResolveRequest,
        ResolveResult,
        UnlinkIncident,
        check_confirm,
        check_follow_up,
        check_incident_action,
        check_link,
        check_report,
        check_resolve,
        check_unlink,
        matching_planned,
        planned_for,
        resolution_note,
    )
    from workflows.desk_calls import tolerate_refusal

SHORT = timedelta(seconds=30)
PATIENT = timedelta(minutes=5)  # an ITSM call may wait out a rate-limit window in-process
HEARTBEAT = timedelta(seconds=20)  # a worker that died is noticed this fast, not at PATIENT
RETRY = RetryPolicy(maximum_interval=timedelta(minutes=2))
LINK_BATCH = 50
LINK_PARALLEL = 8
RESOLVE_PARALLEL = 40
UPDATES_PER_RUN = 1000  # well under the server's limit of 2,000 updates per run


def _require(msg: object, model: type) -> None:
    """A null or foreign payload reaches a validator as whatever it decoded to: refuse it
    here, so it never reaches a handler (and never fails a workflow task)."""
    if not isinstance(msg, model):
        raise Refused(f"body: expected a {model.__name__} object")


@workflow.defn(name=WORKFLOW_TYPE)
class Outage:
    @workflow.init
    def __init__(self, inp: OutageInput) -> None:
        self.s = inp.resume or OutageState(outage_id=inp.outage_id, itsm=inp.itsm)
        self.spec: OutagesSpec | None = None
        self.dirty = True
        self.updates_this_run = 0

    @workflow.run
    async def run(self, inp: OutageInput) -> OutageState:
        self.spec = await workflow.execute_activity(
            "outage_load_spec",
            result_type=OutagesSpec,
            start_to_close_timeout=SHORT,
            retry_policy=RETRY,
        )
        while True:
            await workflow.wait_condition(self._work_to_do)
            await self._ensure_problem()
            await self._link_pending()
            if self.s.status == OutageStatus.resolving:
                await self._resolve_all()
            await self._follow_up()
            await self._project()
            if self._finished():
                break
            if self._should_continue_as_new():
                # The state carries everything, pending links and a resolution under way
                # included; the next run picks them up where this one stopped.
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(inp.model_copy(update={"resume": self.s}))
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._project()
        return self.s

    # ----- the loop's steps ---------------------------------------------------------------

    def _should_continue_as_new(self) -> bool:
        """When the history grows long, or the run nears the server's cap on updates per
        run (2,000 by default; thousands of incidents arrive as updates)."""
        return (
            workflow.info().is_continue_as_new_suggested()
            or self.updates_this_run >= UPDATES_PER_RUN
        )

    def _pending_links(self) -> list[str]:
        return [t for t, i in self.s.incidents.items() if not i.in_itsm and i.skipped is None]

    def _work_to_do(self) -> bool:
        s = self.s
        return (
            self.dirty
            or (s.status in (OutageStatus.confirmed, OutageStatus.planned) and not s.problem_id)
            or (s.problem_id is not None and bool(self._pending_links()))
            or s.status == OutageStatus.resolving
            or (s.follow_up_team is not None and not s.follow_up_assigned and bool(s.problem_id))
        )

    def _finished(self) -> bool:
        s = self.s
        done = s.status in (OutageStatus.resolved, OutageStatus.dismissed)
        return done and (s.follow_up_team is None or s.follow_up_assigned) and not self.dirty

    async def _ensure_problem(self) -> None:
        s = self.s
        if s.status not in (OutageStatus.confirmed, OutageStatus.planned) or s.problem_id:
            return
        planned = s.planned_match
        key = f"planned-{planned.id}:problem" if planned else f"outage-{s.outage_id}:problem"
        title = planned.title if planned else s.summary
        details = (
            f"Outage of {s.service}: {title}. Reported by {s.reported_by} (HDQA)"
            + (f", confirmed by {s.confirmed_by} (SNCC)." if s.confirmed_by else ".")
            + (f" Planned outage {planned.id}." if planned else "")
        )
        s.problem_id = await workflow.execute_activity(
            "outage_create_problem",
            ProblemRequest(
                itsm=s.itsm,
                key=key,
                summary=f"Outage: {s.service} - {title}",
                details=details,
                team=s.owner_team,
            ),
            result_type=str,
            start_to_close_timeout=SHORT,
            retry_policy=RETRY,
        )
        s.log.append(f"problem {s.problem_id} owned by {s.owner_team}")
        self.dirty = True

    async def _link_pending(self) -> None:
        s = self.s
        while s.problem_id is not None and (pending := self._pending_links()):
            if self._should_continue_as_new():
                return  # links still pending go with the state into the next run
            batches = [
                pending[i : i + LINK_BATCH]
                for i in range(0, min(len(pending), LINK_BATCH * LINK_PARALLEL), LINK_BATCH)
            ]
            found = await asyncio.gather(*(self._link(b, s.problem_id) for b in batches))
            for batch, missing in zip(batches, found, strict=True):
                for tid in batch:
                    if tid in s.incidents:  # it may have been unlinked meanwhile
                        s.incidents[tid] = s.incidents[tid].model_copy(
                            update={"in_itsm": tid not in missing}
                            | ({"skipped": "not found in the ITSM"} if tid in missing else {})
                        )
            self.dirty = True

    def _link(self, batch: list[str], problem_id: str):
        s = self.s
        return workflow.execute_activity(
            "outage_link_incidents",
            LinkRequest(
                itsm=s.itsm, outage_id=s.outage_id, problem_id=problem_id, ticket_ids=batch
            ),
            result_type=list[str],
            start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=HEARTBEAT,
            retry_policy=RETRY,
        )

    async def _resolve_all(self) -> None:
        s = self.s
        assert s.problem_id is not None
        todo = [t for t, i in sorted(s.incidents.items()) if not i.resolved and i.skipped is None]
        for start in range(0, len(todo), RESOLVE_PARALLEL):
            chunk = todo[start : start + RESOLVE_PARALLEL]
            results = await asyncio.gather(*(self._resolve_one(t) for t in chunk))
            for r in results:
                s.incidents[r.ticket_id] = s.incidents[r.ticket_id].model_copy(
                    update={
                        "resolved": r.resolved,
                        "emailed_to": r.emailed_to,
                        "skipped": r.skipped,
                    }
                )
            self.dirty = True
            if self._should_continue_as_new():
                return  # the loop continues as new; the rest resumes from the state
        counts = s.counts()
        s.status = OutageStatus.resolved
        s.log.append(
            f"resolved {counts['resolved']} incidents, emailed {counts['emailed']}, "
            f"left {counts['skipped']} alone"
        )
        await self._note(
            "resolved",
            s.problem_id,
            f"{resolution_note(s, s.resolution_notes)} {counts['resolved']} attached incidents "
            f"resolved and their customers emailed.",
        )
        workflow.upsert_search_attributes([sa.OUTAGE_STATUS.value_set(s.status.value)])

    def _resolve_one(self, ticket_id: str):
        s = self.s
        return workflow.execute_activity(
            "outage_resolve_incident",
            ResolveRequest(
                itsm=s.itsm,
                outage_id=s.outage_id,
                problem_id=s.problem_id or "",
                ticket_id=ticket_id,
                notes=resolution_note(s, s.resolution_notes),
                service=s.service,
                summary=s.summary,
            ),
            result_type=ResolveResult,
            start_to_close_timeout=PATIENT,
            heartbeat_timeout=HEARTBEAT,
            retry_policy=RETRY,
        )

    async def _follow_up(self) -> None:
        s = self.s
        if s.follow_up_team is None or s.follow_up_assigned or not s.problem_id:
            return
        if s.status not in (OutageStatus.resolved, OutageStatus.resolving):
            return  # assigned when SNCC resolves (seed 004 step 11)
        if s.status == OutageStatus.resolving:
            return
        assign = workflow.execute_activity(
            "itsm_update_ticket",
            ItsmUpdate(
                itsm=s.itsm,
                change=TicketChange(
                    key=f"outage-{s.outage_id}:follow-up:{s.follow_up_team}",
                    ticket_id=s.problem_id,
                    team=s.follow_up_team,
                    note=(
                        f"Outage {s.outage_id} resolved; the problem needs follow-up "
                        f"investigation and is assigned to {s.follow_up_team} (SNCC)."
                    ),
                ),
            ),
            result_type=ServiceDeskTicket,
            start_to_close_timeout=SHORT,
            retry_policy=RETRY,
        )
        # A problem deleted in the ITSM cannot be assigned: logged, and not tried again.
        done = await tolerate_refusal(assign, s.log.append, "follow-up assignment")
        s.follow_up_assigned = True
        if done is not None:
            s.log.append(f"follow-up assigned to {s.follow_up_team}")
        self.dirty = True

    async def _note(self, purpose: str, ticket_id: str, text: str) -> None:
        """A note on a ticket; one the ITSM refuses for good is logged on the outage."""
        note = workflow.execute_activity(
            "itsm_add_note",
            ItsmAddNote(
                itsm=self.s.itsm,
                note=NewNote(
                    key=f"outage-{self.s.outage_id}:{purpose}", ticket_id=ticket_id, text=text
                ),
            ),
            result_type=Note,
            start_to_close_timeout=SHORT,
            retry_policy=RETRY,
        )
        await tolerate_refusal(note, self.s.log.append, f"note {purpose} on {ticket_id}")

    async def _project(self) -> None:
        if not self.dirty:
            return
        self.dirty = False
        await workflow.execute_activity(
            "project_outage",
            OutageProjection.of(self.s),
            start_to_close_timeout=SHORT,
            retry_policy=RETRY,
        )

    # ----- updates: validate, then record -------------------------------------------------

    def _add(self, ticket_id: str, by: str) -> bool:
        if ticket_id in self.s.incidents:
            return False
        self.s.incidents[ticket_id] = LinkedIncident(
            ticket_id=ticket_id, linked_by=by, linked_at=workflow.now()
        )
        if ticket_id in self.s.unlinked:
            self.s.unlinked.remove(ticket_id)
        self.dirty = True
        return True

    @workflow.update
    async def report_potential(self, msg: ReportPotential) -> OutageState:
        self.updates_this_run += 1  # handlers, not validators: replay counts alike
        await workflow.wait_condition(lambda: self.spec is not None)
        assert self.spec is not None
        s, now = self.s, workflow.now()
        if not s.service:
            s.service, s.summary, s.reported_by, s.reported_at = (
                msg.service,
                msg.summary,
                msg.reported_by,
                now,
            )
            s.planned_outages = planned_for(self.spec, msg.service)
            match = matching_planned(self.spec, msg.service, now)
            if match is not None and s.status == OutageStatus.reported:
                s.status, s.planned_match, s.owner_team = (
                    OutageStatus.planned,
                    match,
                    match.owner_team,
                )
                s.problem_id, s.confirmed_at = match.problem_id, now
                s.public_note = f"Planned outage: {match.title}"
                s.log.append(f"matches planned outage {match.id}: incidents linked to it")
            else:
                s.log.append(
                    f"reported by {msg.reported_by}; no planned outage of {msg.service} now"
                )
            workflow.upsert_search_attributes([sa.OUTAGE_STATUS.value_set(s.status.value)])
        for tid in msg.incidents:
            self._add(tid, msg.reported_by)
        self.dirty = True
        return s

    @report_potential.validator
    def _check_report(self, msg: ReportPotential) -> None:
        _require(msg, ReportPotential)
        check_report(self.s, msg)

    @workflow.update
    async def confirm(self, msg: Confirm) -> OutageState:
        self.updates_this_run += 1  # handlers, not validators: replay counts alike
        s = self.s
        s.status, s.owner_team, s.confirmed_by = (
            OutageStatus.confirmed,
            msg.owner_team,
            msg.confirmed_by,
        )
        s.confirmed_at, s.public_note = workflow.now(), msg.public_note or s.summary
        s.log.append(f"confirmed by {msg.confirmed_by}; problem owned by {msg.owner_team}")
        workflow.upsert_search_attributes([sa.OUTAGE_STATUS.value_set(s.status.value)])
        self.dirty = True
        return s

    @confirm.validator
    def _check_confirm(self, msg: Confirm) -> None:
        _require(msg, Confirm)
        if self.spec is None:
            raise Refused("status: the outage is still loading its reference data; try again")
        check_confirm(self.s, msg, self.spec)

    @workflow.update
    async def dismiss(self, msg: Dismiss) -> OutageState:
        self.updates_this_run += 1  # handlers, not validators: replay counts alike
        self.s.status = OutageStatus.dismissed
        self.s.log.append(f"dismissed by {msg.dismissed_by}: {msg.reason}")
        workflow.upsert_search_attributes([sa.OUTAGE_STATUS.value_set(self.s.status.value)])
        self.dirty = True
        return self.s

    @dismiss.validator
    def _check_dismiss(self, msg: Dismiss) -> None:
        _require(msg, Dismiss)
        if self.s.status != OutageStatus.reported:
            raise Refused(f"status: only a reported outage is dismissed (it is {self.s.status})")

    @workflow.update
    async def link_incident(self, msg: LinkIncident) -> dict[str, object]:
        self.updates_this_run += 1  # handlers, not validators: replay counts alike
        added = self._add(msg.ticket_id, msg.by)
        return {
            "outage_id": self.s.outage_id,
            "status": self.s.status.value,
            "ticket_id": msg.ticket_id,
            "already_linked": not added,
            "linked": len(self.s.incidents),
        }

    @link_incident.validator
    def _check_link(self, msg: LinkIncident) -> None:
        _require(msg, LinkIncident)
        check_link(self.s)

    @workflow.update
    async def unlink_incident(self, msg: UnlinkIncident) -> dict[str, object]:
        self.updates_this_run += 1  # handlers, not validators: replay counts alike
        del self.s.incidents[msg.ticket_id]
        self.s.unlinked.append(msg.ticket_id)
        self.s.log.append(f"{msg.ticket_id} unlinked by {msg.by}: {msg.reason}")
        self.dirty = True
        return {"ticket_id": msg.ticket_id, "linked": len(self.s.incidents)}

    @unlink_incident.validator
    def _check_unlink(self, msg: UnlinkIncident) -> None:
        _require(msg, UnlinkIncident)
        check_unlink(self.s, msg)

    @workflow.update
    async def resolve(self, msg: Resolve) -> dict[str, object]:
        self.updates_this_run += 1  # handlers, not validators: replay counts alike
        s = self.s
        s.status, s.resolved_by, s.resolved_at = (
            OutageStatus.resolving,
            msg.resolved_by,
            workflow.now(),
        )
        s.resolution_notes = msg.notes
        if msg.follow_up_team:
            s.follow_up_team = msg.follow_up_team
        s.log.append(f"resolve requested by {msg.resolved_by}")
        workflow.upsert_search_attributes([sa.OUTAGE_STATUS.value_set(s.status.value)])
        self.dirty = True
        return {"status": s.status.value, "incidents": len(s.incidents)}

    @resolve.validator
    def _check_resolve(self, msg: Resolve) -> None:
        _require(msg, Resolve)
        check_resolve(self.s)

    @workflow.update
    async def assign_follow_up(self, msg: AssignFollowUp) -> dict[str, object]:
        self.updates_this_run += 1  # handlers, not validators: replay counts alike
        self.s.follow_up_team, self.s.follow_up_assigned = msg.team, False
        self.s.log.append(f"follow-up team {msg.team} named by {msg.by}")
        self.dirty = True
        return {"follow_up_team": msg.team}

    @assign_follow_up.validator
    def _check_follow_up(self, msg: AssignFollowUp) -> None:
        _require(msg, AssignFollowUp)
        check_follow_up(self.s)

    @workflow.update
    async def incident_action(self, msg: IncidentAction) -> dict[str, object]:
        """HDQA or SNCC acting on one linked incident (level 1 is refused by the validator)."""
        self.updates_this_run += 1  # handlers, not validators: replay counts alike
        s = self.s
        assert self.spec is not None
        await workflow.wait_condition(lambda: s.problem_id is not None or s.status not in OPEN)
        if msg.action == "escalate_to_hdqa":
            await workflow.execute_activity(
                "itsm_update_ticket",
                ItsmUpdate(
                    itsm=s.itsm,
                    change=TicketChange(
                        key=f"outage-{s.outage_id}:escalate:{msg.ticket_id}",
                        ticket_id=msg.ticket_id,
                        team=self.spec.hdqa_team,
                        note=f"Escalated to {self.spec.hdqa_team} by {msg.by} ({msg.role}).",
                    ),
                ),
                result_type=ServiceDeskTicket,
                start_to_close_timeout=SHORT,
                retry_policy=RETRY,
            )
            s.log.append(f"{msg.ticket_id} escalated to HDQA by {msg.by}")
            return {"ticket_id": msg.ticket_id, "escalated": True}
        result = await self._resolve_one(msg.ticket_id)
        if msg.ticket_id in s.incidents:
            s.incidents[msg.ticket_id] = s.incidents[msg.ticket_id].model_copy(
                update={
                    "resolved": result.resolved,
                    "emailed_to": result.emailed_to,
                    "skipped": result.skipped,
                }
            )
        s.log.append(f"{msg.ticket_id} resolved on its own by {msg.by}")
        self.dirty = True
        return {"ticket_id": msg.ticket_id, "resolved": result.resolved}

    @incident_action.validator
    def _check_incident_action(self, msg: IncidentAction) -> None:
        _require(msg, IncidentAction)
        if self.spec is None:
            raise Refused("status: the outage is still loading its reference data; try again")
        check_incident_action(self.s, msg)

    @workflow.query
    def state(self) -> OutageState:
        return self.s
